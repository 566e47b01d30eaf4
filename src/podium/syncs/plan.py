"""Planning a sync: what to add, update and remove, computed in the warehouse.

``plan`` reads (it never writes state, so it is also the dry run and the preview): counts,
samples, the rejected records it retries, and the records it cannot send (NULL keys).
``read_changes`` then reads the records to send, in key order, a batch at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.connectors.normalize.names import literal
from podium.errors import TerminalTaskError
from podium.syncs.diff import Mode, SyncSpec, diff_sql, run_query, src_sql
from podium.syncs.guard import Guard, check_guard
from podium.syncs.state import Op
from podium.transforms.warehouse_sql import WarehouseSql

SAMPLES = 5


@dataclass(frozen=True)
class Change:
    """One record to send: its values by destination field (empty for a removal),
    ``hash`` to record once it lands, and the destination's reason if it was rejected
    before (``retry``)."""

    op: Op
    key: str
    hash: str
    values: Mapping[str, Any]
    retry: bool = False
    reason: str | None = None
    remote_id: str | None = None  # the destination's id, when a writer recorded one
    #: an earlier attempt handed it to the destination and died before recording the
    #: answer: it may have landed, so look it up before sending it again
    pending: bool = False


@dataclass(frozen=True)
class Plan:
    spec: SyncSpec
    source_rows: int  # rows in the source, NULL keys included
    synced: int  # records that landed before (the set a percent guard compares with)
    adds: int
    updates: int
    removes: int
    retries: int  # of the above, records the destination rejected last time
    null_keys: int  # source rows that cannot be sent: their key is NULL
    samples: Mapping[Op, Sequence[Change]] = field(default_factory=dict)
    rejected: Sequence[Change] = ()  # samples of the retried records, with reasons
    null_key_samples: Sequence[Mapping[str, Any]] = ()

    @property
    def changes(self) -> int:
        return self.adds + self.updates + self.removes

    def summary(self) -> str:
        return (
            f"sync {self.spec.name} ({self.spec.mode}): {self.adds} adds, {self.updates}"
            f" updates, {self.removes} removes ({self.retries} retries of rejected records),"
            f" {self.null_keys} rows with a NULL {self.spec.key} not sent;"
            f" {self.source_rows} source rows, {self.synced} synced before"
        )


def plan(
    sql: WarehouseSql,
    sync_name: str,
    source: str,
    key: str,
    fields: Mapping[str, str],
    mode: Mode | str = Mode.UPSERT,
    *,
    guard: Guard | None = None,
    salt: str = "",
) -> Plan:
    """The sync's plan; raises a terminal error on duplicate keys or a tripped guard.
    ``salt``: the destination settings every record's hash covers (``SyncSpec.salt``)."""
    spec = SyncSpec(sync_name, source, key, dict(fields), Mode(mode), salt)
    head = diff_sql(sql, spec)
    # one query for every count (a sync a webhook starts plans for one record: each query
    # saved is a millisecond or two of its latency); the samples only of what there is
    counts = {
        str(r[0]): (int(r[1]), int(r[2] or 0))
        for r in run_query(
            sql,
            f"{head} SELECT op, count(*), sum(CASE WHEN retry THEN 1 ELSE 0 END) FROM diff"
            " GROUP BY op"
            " UNION ALL SELECT '#source', count(*),"
            " sum(CASE WHEN record_key IS NULL THEN 1 ELSE 0 END) FROM src"
            " UNION ALL SELECT '#synced', count(*), 0 FROM st WHERE hash IS NOT NULL"
            " UNION ALL SELECT '#doubled', count(*), 0 FROM (SELECT record_key FROM src"
            " WHERE record_key IS NOT NULL GROUP BY record_key HAVING count(*) > 1) AS d",
        )
    }
    if counts["#doubled"][0]:
        _refuse_duplicates(sql, spec)
    by_op = {op: counts.get(str(op), (0, 0)) for op in Op}
    retries = sum(retried for _, retried in by_op.values())
    result = Plan(
        spec,
        source_rows=counts["#source"][0],
        synced=counts["#synced"][0],
        adds=by_op[Op.ADD][0],
        updates=by_op[Op.UPDATE][0],
        removes=by_op[Op.REMOVE][0],
        retries=retries,
        null_keys=counts["#source"][1],
        samples={
            op: _changes(sql, spec, head, f"op = {literal(op)}") if by_op[op][0] else []
            for op in Op
        },
        rejected=_changes(sql, spec, head, "retry") if retries else (),
        null_key_samples=_null_key_samples(sql, spec) if counts["#source"][1] else (),
    )
    if guard is not None:
        check_guard(
            guard,
            sync_name=sync_name,
            adds=result.adds,
            updates=result.updates,
            removes=result.removes,
            synced=result.synced,
        )
    return result


def read_changes(
    sql: WarehouseSql,
    spec: SyncSpec,
    *,
    after: str | None = None,
    limit: int | None = None,
    ops: Sequence[Op] = tuple(Op),
) -> list[Change]:
    """The records to send with keys after ``after``, in key order, at most ``limit``, of
    ``ops`` only: call again with the last key read for the next batch. Recorded batches
    drop out."""
    where = f"record_key > {literal(after)}" if after is not None else "true"
    if set(ops) != set(Op):
        where += f" AND op IN ({', '.join(literal(str(op)) for op in ops) or 'NULL'})"
    return _changes(sql, spec, diff_sql(sql, spec), where, limit)


def _changes(
    sql: WarehouseSql,
    spec: SyncSpec,
    head: str,
    where: str,
    limit: int | None = SAMPLES,
) -> list[Change]:
    cut = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = run_query(
        sql,
        f"{head} SELECT * FROM diff WHERE {where} ORDER BY record_key{cut}",
    )
    names = list(spec.fields)
    return [
        Change(
            op=Op(r[0]),
            key=str(r[1]),
            hash=str(r[2]),
            values={} if r[0] == Op.REMOVE else dict(zip(names, r[8:], strict=True)),
            retry=bool(r[3]),
            reason=r[4] if r[3] else None,
            remote_id=r[6],
            pending=bool(r[7]),
        )
        for r in rows
    ]


def _null_key_samples(sql: WarehouseSql, spec: SyncSpec) -> list[dict[str, Any]]:
    names = list(spec.fields)
    rows = run_query(
        sql, f"SELECT * FROM ({src_sql(sql, spec)}) AS src WHERE record_key IS NULL LIMIT {SAMPLES}"
    )
    return [dict(zip(names, r[2:], strict=True)) for r in rows]


def _refuse_duplicates(sql: WarehouseSql, spec: SyncSpec) -> None:
    rows = run_query(
        sql,
        "SELECT record_key, n, count(*) OVER () FROM (SELECT record_key, count(*) AS n"
        f" FROM ({src_sql(sql, spec)}) AS src WHERE record_key IS NOT NULL"
        " GROUP BY record_key HAVING count(*) > 1) AS d ORDER BY n DESC, record_key"
        f" LIMIT {SAMPLES}",
    )
    if not rows:
        return
    samples = ", ".join(f"{r[0]} ({r[1]} rows)" for r in rows)
    raise TerminalTaskError(
        f"sync {spec.name}: {rows[0][2]} values of key {spec.key} appear more than once in"
        f" {spec.source}, e.g. {samples}; nothing was sent. Make {spec.key} unique in the"
        " source (or choose a key that is)"
    )
