"""A sync's state in the warehouse: ``_podium.sync_state``, one row per (sync, record key).

``hash`` is the hash of the record's mapped fields as it last *landed* in the destination
(NULL while it never has); ``remote_id`` what the destination calls it (a Klaviyo profile
id, a Shopify GID, a 3PL order id: whatever its writer needs to change or remove it later,
as the source row may be gone by then); ``status`` is ``synced`` or ``rejected`` (the destination refused
the latest change, for ``reason``); ``attempts`` counts the tries of the latest change.
Before a batch is handed to the destination its records get a ``sent_at`` (one
transaction; a record never seen before gets the status ``pending``); recording its
outcomes clears it. A record whose ``sent_at`` is still set when the next
attempt plans was sent by an attempt that died before recording the answer (a SIGKILL, a
lost response): it comes back as ``Change.pending``, and its writer looks it up before
sending it again, which makes a create that is not idempotent (a 3PL order) exactly once.

``_podium.sync_rejected`` is the view of the records a destination refused, with its reason
and the tries so far: each is sent again by the sync's next run.
``record_batch`` writes one batch's outcomes in one transaction, so after a crash between
batches the next plan resends only what did not land.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from podium.connectors.destinations.base import BOOKKEEPING
from podium.transforms.warehouse_sql import WarehouseSql, qualified

TABLE = "sync_state"
REJECTED = "sync_rejected"  # a view: the records each sync's destination refused, and why


class Op(StrEnum):
    ADD = "add"
    UPDATE = "update"
    REMOVE = "remove"


class Status(StrEnum):
    SYNCED = "synced"
    REJECTED = "rejected"
    PENDING = "pending"  # handed to the destination; its answer not recorded yet


@dataclass(frozen=True)
class Outcome:
    """What the destination answered for one record of a batch: it landed, or it was
    rejected with the destination's ``reason``. ``hash`` is the hash of the values sent
    (the ``Change.hash`` the plan gave)."""

    key: str
    op: Op
    hash: str | None
    landed: bool
    reason: str | None = None
    remote_id: str | None = None  # the destination's id for the record, when it gave one


def state_table(sql: WarehouseSql) -> str:
    return qualified(sql, BOOKKEEPING, TABLE)


def has_state(sql: WarehouseSql) -> bool:
    return sql.relation_kind(BOOKKEEPING, TABLE) is not None


def ensure_state(sql: WarehouseSql) -> None:
    """Creates ``_podium.sync_state`` if missing (safe when syncs create it together)."""
    if has_state(sql):
        return
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {state_table(sql)} ("
        "sync TEXT NOT NULL, record_key TEXT NOT NULL, hash TEXT, remote_id TEXT, sent_at TIMESTAMPTZ,"
        " status TEXT NOT NULL, reason TEXT, attempts INTEGER NOT NULL,"
        " updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (sync, record_key))"
    )
    rejected = (
        f"CREATE VIEW IF NOT EXISTS {qualified(sql, BOOKKEEPING, REJECTED)} AS"
        " SELECT sync, record_key, reason, attempts, remote_id, updated_at"
        f" FROM {state_table(sql)} WHERE status = 'rejected'"
    )
    if sql.dialect == "postgres":  # no IF NOT EXISTS for views there
        rejected = rejected.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW")
    sql.ensure_schema(BOOKKEEPING, ddl=[ddl, rejected])


def record_batch(
    sql: WarehouseSql, sync_name: str, outcomes: Sequence[Outcome], *, now: datetime
) -> None:
    """Commits one batch's outcomes at once: landed adds and updates keep their new hash,
    landed removals leave the state, rejections keep the last landed hash with the
    reason. Either all of the batch is recorded or none of it."""
    keys = [o.key for o in outcomes]
    if len(set(keys)) != len(keys):
        doubled = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"sync {sync_name}: a batch names keys twice: {', '.join(doubled)}")
    if not outcomes:
        return
    ensure_state(sql)
    removed = [o.key for o in outcomes if o.landed and o.op is Op.REMOVE]
    written = [o for o in outcomes if not (o.landed and o.op is Op.REMOVE)]
    with sql.transaction():
        if removed:
            _delete(sql, sync_name, removed)
        if written:
            _upsert(sql, sync_name, written, now)


def mark_pending(sql: WarehouseSql, sync_name: str, keys: Sequence[str], *, now: datetime) -> None:
    """Marks a batch's records as handed to the destination, before it is (one
    transaction): what landed before (hash, remote id) stays, the mark is added."""
    if not keys:
        return
    ensure_state(sql)
    with sql.transaction():
        sql.execute(
            f"INSERT INTO {state_table(sql)} AS cur (sync, record_key, hash, remote_id,"
            " sent_at, status, reason, attempts, updated_at)"
            f" SELECT ?, k, NULL, NULL, ?, ?, NULL, 0, ? FROM (SELECT {_unnest()} AS k) AS u"
            " ON CONFLICT (sync, record_key) DO UPDATE SET sent_at = excluded.sent_at",
            [sync_name, now, str(Status.PENDING), now, list(keys)],
        )


def _unnest() -> str:
    """One array parameter as rows: a batch is one statement however large it is (a
    statement per row, or per 200 rows of ``?``s, binds and plans far more than it writes:
    30× slower for 10,000 rows in DuckDB)."""
    return "unnest(CAST(? AS TEXT[]))"


def _delete(sql: WarehouseSql, sync_name: str, keys: Sequence[str]) -> None:
    sql.execute(
        f"DELETE FROM {state_table(sql)} WHERE sync = ? AND record_key IN (SELECT {_unnest()})",
        [sync_name, list(keys)],
    )


def _upsert(sql: WarehouseSql, sync_name: str, rows: Sequence[Outcome], now: datetime) -> None:
    columns: tuple[list[Any], ...] = ([], [], [], [], [])  # key, hash, remote id, status, reason
    for o in rows:
        columns[0].append(o.key)
        columns[1].append(o.hash if o.landed else None)
        columns[2].append(o.remote_id)
        columns[3].append(str(Status.SYNCED if o.landed else Status.REJECTED))
        columns[4].append(None if o.landed else (o.reason or "rejected (no reason given)"))
    arrays = ", ".join(f"{_unnest()} AS {name}" for name in ("k", "h", "r", "st", "re"))
    sql.execute(
        f"INSERT INTO {state_table(sql)} AS cur"
        " (sync, record_key, hash, remote_id, status, reason, attempts, updated_at)"
        f" SELECT ?, k, h, r, st, re, 1, ? FROM (SELECT {arrays}) AS u"
        " ON CONFLICT (sync, record_key) DO UPDATE SET"
        " hash = COALESCE(excluded.hash, cur.hash),"
        " remote_id = COALESCE(excluded.remote_id, cur.remote_id), sent_at = NULL,"
        " status = excluded.status,"
        " reason = excluded.reason, updated_at = excluded.updated_at,"
        " attempts = CASE WHEN cur.status = 'rejected' THEN cur.attempts + 1 ELSE 1 END",
        [sync_name, now, *columns],
    )
