"""A sync's diff state on real DuckDB and PostgreSQL: plans computed in the warehouse,
batches recorded one transaction each, crashes resumed without resending what landed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from podium.errors import TerminalTaskError
from podium.syncs import Change, Guard, Mode, Op, Outcome, Plan, plan, read_changes, record_batch
from podium.transforms.warehouse_sql import WarehouseSql, open_warehouse_sql
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema

NOW = datetime(2026, 12, 7, 4, tzinfo=UTC)
FIELDS = {"email": "email", "properties.ltv": "ltv"}
SOURCE = "marts.vip"


@pytest.fixture(params=["duckdb", "postgres"])
def wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseSql]:
    if request.param == "duckdb":
        settings: dict[str, Any] = {"type": "duckdb", "path": str(tmp_path / "w.duckdb")}
    else:
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        prefix = f"s{uuid.uuid4().hex[:8]}_"
        settings = {"type": "postgres", "url": POSTGRES_URL, "schema_prefix": prefix}
    with open_warehouse_sql(settings, tmp_path) as sql:
        sql.ensure_schema("marts")
        sql.execute(f"CREATE TABLE {_vip(sql)} (id INTEGER, email TEXT, ltv DECIMAL(12,2))")
        yield sql
    if request.param == "postgres":
        for schema in ("marts", "_podium"):
            drop_schema(settings["schema_prefix"] + schema)


def _vip(sql: WarehouseSql) -> str:
    return f'"{sql.schema_prefix}marts".vip'


def seed(sql: WarehouseSql, n: int) -> None:
    sql.execute(
        f"INSERT INTO {_vip(sql)} SELECT i, 'c' || CAST(i AS VARCHAR) || '@x.io',"
        f" CAST(i AS DECIMAL(12,2)) FROM generate_series(1, {n}) AS g(i)"
    )


def make_plan(sql: WarehouseSql, mode: Mode = Mode.UPSERT, **kw: Any) -> Plan:
    return plan(sql, "vip", SOURCE, "id", FIELDS, mode, **kw)


def all_changes(sql: WarehouseSql, p: Plan) -> list[Change]:
    return read_changes(sql, p.spec)


def land(sql: WarehouseSql, changes: list[Change], reject: frozenset[str] = frozenset()) -> None:
    outcomes = [
        Outcome(c.key, c.op, c.hash, c.key not in reject, f"bad email {c.key}") for c in changes
    ]
    record_batch(sql, "vip", outcomes, now=NOW)


def sync_all(sql: WarehouseSql, mode: Mode = Mode.UPSERT, batch: int = 1000) -> int:
    """Sends every change in batches, all landing; the number of records sent."""
    p, sent, after = make_plan(sql, mode), 0, None
    while batch_ := read_changes(sql, p.spec, after=after, limit=batch):
        land(sql, batch_)
        sent += len(batch_)
        after = batch_[-1].key
    return sent


def test_first_plan_adds_everything_and_a_second_plan_is_empty(wh: WarehouseSql) -> None:
    seed(wh, 50)
    p = make_plan(wh)
    assert (p.adds, p.updates, p.removes, p.synced, p.source_rows) == (50, 0, 0, 0, 50)
    assert sync_all(wh) == 50
    again = make_plan(wh)
    assert again.changes == 0 and again.synced == 50


def test_a_one_percent_change_plans_exactly_that_change(wh: WarehouseSql) -> None:
    seed(wh, 10_000)
    sync_all(wh, Mode.MIRROR, batch=5000)
    wh.execute(f"UPDATE {_vip(wh)} SET ltv = ltv + 1 WHERE id <= 40")
    wh.execute(f"DELETE FROM {_vip(wh)} WHERE id > 9970")
    wh.execute(f"INSERT INTO {_vip(wh)} VALUES (20001, 'n1@x.io', 1), (20002, NULL, NULL)")
    wh.execute(f"UPDATE {_vip(wh)} SET email = NULL WHERE id BETWEEN 41 AND 68")
    p = make_plan(wh, Mode.MIRROR)
    assert (p.adds, p.updates, p.removes) == (2, 68, 30)
    changes = all_changes(wh, p)
    by_op = {op: sorted(int(c.key) for c in changes if c.op is op) for op in Op}
    assert by_op[Op.ADD] == [20001, 20002]
    assert by_op[Op.UPDATE] == list(range(1, 69))
    assert by_op[Op.REMOVE] == list(range(9971, 10001))
    updated = next(c for c in changes if c.key == "1")
    assert updated.values == {"email": "c1@x.io", "properties.ltv": pytest.approx(2)}
    assert next(c for c in changes if c.key == "20002").values["email"] is None
    land(wh, changes)
    assert make_plan(wh, Mode.MIRROR).changes == 0
    assert make_plan(wh, Mode.MIRROR).synced == 10_000 - 30 + 2


def test_a_crash_between_batches_resends_only_what_did_not_land(wh: WarehouseSql) -> None:
    seed(wh, 1000)
    p = make_plan(wh)
    first = read_changes(wh, p.spec, limit=250)
    second = read_changes(wh, p.spec, after=first[-1].key, limit=250)
    land(wh, first)
    land(wh, second)
    third = read_changes(wh, p.spec, after=second[-1].key, limit=250)
    outcomes = [Outcome(c.key, c.op, c.hash, True) for c in third]
    outcomes[220] = Outcome(None, Op.ADD, "h", True)  # type: ignore[arg-type]
    with pytest.raises((duckdb.Error, psycopg.Error)):  # the batch's 2nd statement fails
        record_batch(wh, "vip", outcomes, now=NOW)
    after = make_plan(wh)
    assert (after.adds, after.synced) == (500, 500)
    rest = {c.key for c in all_changes(wh, after)}
    assert rest.isdisjoint({c.key for c in first + second})
    assert rest == {str(i) for i in range(1, 1001)} - {c.key for c in first + second}


def test_rejected_records_are_retried_and_reported_with_reasons(wh: WarehouseSql) -> None:
    seed(wh, 20)
    changes = all_changes(wh, make_plan(wh))
    land(wh, changes, reject=frozenset({"3", "7"}))
    p = make_plan(wh)
    assert (p.adds, p.updates, p.retries, p.synced) == (2, 0, 2, 18)
    assert [(c.key, c.reason) for c in p.rejected] == [("3", "bad email 3"), ("7", "bad email 7")]
    retried = all_changes(wh, p)
    land(wh, retried, reject=frozenset({"7"}))
    p = make_plan(wh)
    assert (p.adds, p.retries) == (1, 1)
    rows = wh.query(
        f'SELECT record_key, status, attempts, reason FROM "{wh.schema_prefix}_podium".sync_state'
        " WHERE record_key IN ('3', '7') ORDER BY record_key"
    )
    assert rows == [("3", "synced", 2, None), ("7", "rejected", 2, "bad email 7")]


def test_a_rejected_update_keeps_the_last_landed_hash_and_stays_an_update(
    wh: WarehouseSql,
) -> None:
    seed(wh, 5)
    sync_all(wh)
    wh.execute(f"UPDATE {_vip(wh)} SET ltv = 99 WHERE id = 2")
    land(wh, all_changes(wh, make_plan(wh)), reject=frozenset({"2"}))
    wh.execute(f"UPDATE {_vip(wh)} SET ltv = 2 WHERE id = 2")  # back to what landed
    p = make_plan(wh)
    assert (p.updates, p.retries) == (1, 1)  # retried: the destination may hold neither


def test_the_guard_trips_on_a_mass_change_and_says_the_counts(wh: WarehouseSql) -> None:
    seed(wh, 100)
    make_plan(wh, guard=Guard(percent=10))  # the first run is all adds: a percent passes
    with pytest.raises(TerminalTaskError) as count_trip:
        make_plan(wh, guard=Guard(count=50))
    assert "100 changes (100 adds, 0 updates, 0 removes) against 0" in str(count_trip.value)
    sync_all(wh, Mode.MIRROR)
    wh.execute(f"DELETE FROM {_vip(wh)} WHERE id > 20")
    with pytest.raises(TerminalTaskError) as trip:
        make_plan(wh, Mode.MIRROR, guard=Guard.parse("10%"))
    message = str(trip.value)
    assert "sync vip: guard max_changes 10% tripped: 80 changes" in message
    assert "0 adds, 0 updates, 80 removes) against 100 records synced (80.0%)" in message
    assert "raise max_changes" in message and "overridden" in message
    assert make_plan(wh, Mode.MIRROR, guard=Guard.parse("80%")).removes == 80


def test_a_plan_is_a_dry_run_with_counts_and_samples_and_writes_nothing(
    wh: WarehouseSql,
) -> None:
    seed(wh, 30)
    p = make_plan(wh)
    assert [c.key for c in p.samples[Op.ADD]] == ["1", "10", "11", "12", "13"]
    assert p.samples[Op.ADD][0].values == {"email": "c1@x.io", "properties.ltv": 1}
    assert wh.relation_kind("_podium", "sync_state") is None  # not even the table
    sync_all(wh)
    state = f'"{wh.schema_prefix}_podium".sync_state'
    before = wh.query(f"SELECT * FROM {state} ORDER BY record_key")
    wh.execute(f"DELETE FROM {_vip(wh)} WHERE id = 4")
    preview = make_plan(wh, Mode.MIRROR)
    assert [c.key for c in preview.samples[Op.REMOVE]] == ["4"]
    assert "0 adds, 0 updates, 1 removes" in preview.summary()
    assert wh.query(f"SELECT * FROM {state} ORDER BY record_key") == before


def test_modes_upsert_mirror_and_insert(wh: WarehouseSql) -> None:
    seed(wh, 10)
    sync_all(wh)
    wh.execute(f"UPDATE {_vip(wh)} SET ltv = 0 WHERE id = 1")
    wh.execute(f"DELETE FROM {_vip(wh)} WHERE id = 2")
    wh.execute(f"INSERT INTO {_vip(wh)} VALUES (11, 'c11@x.io', 11)")
    counts = {mode: (p.adds, p.updates, p.removes) for mode in Mode for p in [make_plan(wh, mode)]}
    assert counts == {Mode.UPSERT: (1, 1, 0), Mode.MIRROR: (1, 1, 1), Mode.INSERT: (1, 0, 0)}
    p = make_plan(wh, Mode.MIRROR)
    land(wh, [c for c in all_changes(wh, p) if c.op is Op.REMOVE])
    assert wh.query(
        f"SELECT count(*) FROM \"{wh.schema_prefix}_podium\".sync_state WHERE record_key = '2'"
    ) == [(0,)]


def test_a_rejected_removal_is_tried_again(wh: WarehouseSql) -> None:
    seed(wh, 3)
    sync_all(wh, Mode.MIRROR)
    wh.execute(f"DELETE FROM {_vip(wh)} WHERE id = 3")
    land(wh, all_changes(wh, make_plan(wh, Mode.MIRROR)), reject=frozenset({"3"}))
    p = make_plan(wh, Mode.MIRROR)
    assert (p.removes, p.retries, p.rejected[0].reason) == (1, 1, "bad email 3")


def test_duplicate_keys_are_an_error_naming_samples(wh: WarehouseSql) -> None:
    seed(wh, 5)
    wh.execute(f"INSERT INTO {_vip(wh)} VALUES (2, 'x@x.io', 1), (2, 'y@x.io', 1), (4, 'z', 1)")
    with pytest.raises(TerminalTaskError) as err:
        make_plan(wh)
    assert "sync vip: 2 values of key id appear more than once in marts.vip" in str(err.value)
    assert "e.g. 2 (3 rows), 4 (2 rows)" in str(err.value)


def test_null_keys_are_reported_not_sent_nor_dropped_silently(wh: WarehouseSql) -> None:
    seed(wh, 3)
    wh.execute(f"INSERT INTO {_vip(wh)} VALUES (NULL, 'nokey@x.io', 5), (NULL, 'n2@x.io', 6)")
    p = make_plan(wh)
    assert (p.adds, p.null_keys, p.source_rows) == (3, 2, 5)
    assert {r["email"] for r in p.null_key_samples} == {"nokey@x.io", "n2@x.io"}
    assert "2 rows with a NULL id not sent" in p.summary()
    assert all(c.key != "None" for c in all_changes(wh, p))


def test_a_query_source_and_a_new_mapping(wh: WarehouseSql) -> None:
    seed(wh, 4)
    sync_all(wh)
    query = (
        f"SELECT id, email, ltv FROM {_vip(wh)} WHERE id > 1 AND email LIKE '%@x.io' AND '?' = '?'"
    )
    p = plan(wh, "vip", query, "id", FIELDS, Mode.MIRROR)
    assert (p.adds, p.updates, p.removes) == (0, 0, 1)
    remapped = plan(wh, "vip", SOURCE, "id", {"email": "email"}, Mode.UPSERT)
    assert remapped.updates == 4  # a new mapping sends every record again


_CHILD = """
import json, os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from podium.syncs import Outcome, plan, read_changes, record_batch
from podium.syncs.state import _upsert
from podium.transforms.warehouse_sql import open_warehouse_sql

settings, root = json.loads(sys.argv[1]), Path(sys.argv[2])
now = datetime(2026, 12, 7, 4, tzinfo=UTC)
with open_warehouse_sql(settings, root) as sql:
    spec = plan(sql, "vip", "marts.vip", "id", {"email": "email"}).spec
    after = None
    for n in range(3):
        batch = read_changes(sql, spec, after=after, limit=100)
        outcomes = [Outcome(c.key, c.op, c.hash, True) for c in batch]
        if n == 2:  # killed inside the third batch's transaction, half of it written
            sql.execute("BEGIN")
            _upsert(sql, "vip", outcomes[:50], now)
            os.kill(os.getpid(), signal.SIGKILL)
        record_batch(sql, "vip", outcomes, now=now)
        after = batch[-1].key
"""


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_sigkill_mid_batch_loses_nothing_recorded_and_keeps_nothing_half_written(
    kind: str, tmp_path: Path
) -> None:
    settings: dict[str, Any] = {"type": "duckdb", "path": str(tmp_path / "w.duckdb")}
    if kind == "postgres":
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        prefix = f"k{uuid.uuid4().hex[:8]}_"
        settings = {"type": "postgres", "url": POSTGRES_URL, "schema_prefix": prefix}
    try:
        with open_warehouse_sql(settings, tmp_path) as sql:
            sql.ensure_schema("marts")
            sql.execute(f"CREATE TABLE {_vip(sql)} (id INTEGER, email TEXT, ltv DECIMAL(12,2))")
            seed(sql, 500)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(settings), str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        with open_warehouse_sql(settings, tmp_path) as sql:
            after = plan(sql, "vip", SOURCE, "id", {"email": "email"})
            assert (after.adds, after.synced) == (300, 200)
            every = {str(i) for i in range(1, 501)}
            landed = set(sorted(every)[:200])  # two batches of 100, in key (text) order
            assert {c.key for c in read_changes(sql, after.spec)} == every - landed
    finally:
        if kind == "postgres":
            for schema in ("marts", "_podium"):
                drop_schema(settings["schema_prefix"] + schema)
