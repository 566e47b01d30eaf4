"""``run_sync`` on a real DuckDB warehouse with an in-memory destination: batches sent in
key order, outcomes recorded per batch, rejections retried next run, a failed batch
resent whole by the next attempt and nothing that landed sent twice."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from podium.errors import TerminalTaskError, TransientTaskError
from podium.syncs import Change, Guard, Mode, Op, Outcome, SyncSpec
from podium.syncs.run import SyncCancelled, run_sync
from podium.transforms.warehouse_sql import WarehouseSql, open_warehouse_sql

NOW = datetime(2026, 12, 7, 6, tzinfo=UTC)
SPEC = SyncSpec("vip", "marts.vip", "id", {"email": "email", "properties.ltv": "ltv"}, Mode.MIRROR)


class MemoryDestination:
    """A destination that keeps records in a dict; rejects emails without an @ and can
    fail a chosen batch as a whole."""

    def __init__(self, batch_size: int = 10) -> None:
        self.batch_size = batch_size
        self.records: dict[str, dict[str, object]] = {}
        self.batches: list[list[tuple[str, str]]] = []
        self.fail_batch: int | None = None
        self.pending: list[str] = []  # keys handed over as maybe sent before

    def send(self, changes: Sequence[Change]) -> list[Outcome]:
        self.batches.append([(c.op, c.key) for c in changes])
        self.pending.extend(c.key for c in changes if c.pending)
        if self.fail_batch == len(self.batches):
            raise TransientTaskError("the destination answered 503 three times")
        outcomes = []
        for c in changes:
            if c.op is Op.REMOVE:
                assert c.remote_id == f"r-{c.key}"
                del self.records[c.key]
                outcomes.append(Outcome(c.key, c.op, c.hash, True))
            elif "@" not in str(c.values["email"]):
                outcomes.append(Outcome(c.key, c.op, c.hash, False, "email is not valid"))
            else:
                self.records[c.key] = dict(c.values)
                outcomes.append(Outcome(c.key, c.op, c.hash, True, remote_id=f"r-{c.key}"))
        return outcomes

    def close(self) -> None:
        pass


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[WarehouseSql]:
    with open_warehouse_sql(
        {"type": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path
    ) as sql:
        sql.ensure_schema("marts")
        sql.execute("CREATE TABLE marts.vip (id INTEGER, email TEXT, ltv INTEGER)")
        sql.execute("INSERT INTO marts.vip SELECT i, 'c' || i || '@x.io', i FROM range(100) t(i)")
        yield sql


def _model(sql: WarehouseSql) -> dict[str, dict[str, object]]:
    rows = sql.query("SELECT id, email, ltv FROM marts.vip")
    return {str(r[0]): {"email": r[1], "properties.ltv": r[2]} for r in rows}


def test_first_sync_then_one_percent_sends_only_the_change(wh: WarehouseSql) -> None:
    dest = MemoryDestination()
    report = run_sync(wh, SPEC, dest, now=lambda: NOW)
    assert dest.records == _model(wh)
    assert report.landed[Op.ADD] == 100 and report.batches == 10
    wh.execute("DELETE FROM marts.vip WHERE id = 3")
    wh.execute("UPDATE marts.vip SET ltv = 1000 WHERE id = 50")
    wh.execute("INSERT INTO marts.vip VALUES (100, 'new@x.io', 5)")
    dest.batches.clear()
    report = run_sync(wh, SPEC, dest, now=lambda: NOW)
    assert dest.records == _model(wh)
    assert dest.batches == [[("remove", "3")], [("update", "50"), ("add", "100")]] or (
        dest.batches == [[("remove", "3")], [("add", "100"), ("update", "50")]]
    )
    assert report.summary().startswith("sync vip: 3 sent in 2 batches: 1 added, 1 updated")


def test_rejected_records_are_reported_and_retried_next_run(wh: WarehouseSql) -> None:
    wh.execute("UPDATE marts.vip SET email = 'nope' WHERE id IN (7, 8)")
    dest = MemoryDestination()
    report = run_sync(wh, SPEC, dest, now=lambda: NOW)
    assert report.rejected == 2 and report.reasons == {"email is not valid": 2}
    assert report.rejected_samples == [("7", "email is not valid"), ("8", "email is not valid")]
    assert report.to_output()["rejected"] == 2
    assert wh.query(
        "SELECT record_key, reason, attempts FROM _podium.sync_rejected ORDER BY 1"
    ) == [("7", "email is not valid", 1), ("8", "email is not valid", 1)]
    dest.batches.clear()
    wh.execute("UPDATE marts.vip SET email = 'fixed@x.io' WHERE id = 7")
    again = run_sync(wh, SPEC, dest, now=lambda: NOW)
    assert [k for b in dest.batches for _, k in b] == ["7", "8"]
    assert again.landed[Op.ADD] == 1 and again.rejected == 1
    assert again.plan.retries == 2


def test_a_failed_batch_is_resent_whole_and_nothing_landed_twice(wh: WarehouseSql) -> None:
    dest = MemoryDestination()
    dest.fail_batch = 4
    with pytest.raises(TransientTaskError):
        run_sync(wh, SPEC, dest, now=lambda: NOW)
    assert len(dest.records) == 30
    failed = sorted(k for _, k in dest.batches[3])
    dest.batches.clear()
    dest.fail_batch = None
    report = run_sync(wh, SPEC, dest, now=lambda: NOW)
    sent = [k for b in dest.batches for _, k in b]
    assert len(sent) == 70 and len(set(sent)) == 70
    assert report.landed[Op.ADD] == 70 and dest.records == _model(wh)
    # the failed batch's records were handed over once already: the writer is told, so
    # it can look them up before creating them again; the others are not pending
    assert sorted(dest.pending) == failed
    assert wh.query("SELECT count(*) FROM _podium.sync_state WHERE sent_at IS NOT NULL") == [(0,)]


def test_dry_run_and_tripped_guard_send_nothing(wh: WarehouseSql) -> None:
    dest = MemoryDestination()
    report = run_sync(wh, SPEC, dest, now=lambda: NOW, dry_run=True)
    assert report.plan.adds == 100 and dest.batches == [] and report.sent == 0
    assert "dry run, nothing sent" in report.summary()
    run_sync(wh, SPEC, dest, now=lambda: NOW)
    wh.execute("DELETE FROM marts.vip WHERE id < 20")
    dest.batches.clear()
    with pytest.raises(TerminalTaskError, match="guard max_changes 10% tripped"):
        run_sync(wh, SPEC, dest, now=lambda: NOW, guard=Guard.parse("10%"))
    assert dest.batches == []
    dry = run_sync(wh, SPEC, dest, now=lambda: NOW, guard=Guard.parse("10%"), dry_run=True)
    assert dry.guard is not None and "20 changes (0 adds, 0 updates, 20 removes)" in dry.guard
    assert "the guard would refuse it" in dry.summary() and dest.batches == []


def test_a_cancelled_run_stops_between_batches(wh: WarehouseSql) -> None:
    import threading

    dest = MemoryDestination()
    cancelled = threading.Event()
    original = dest.send

    def send_then_cancel(changes: Sequence[Change]) -> list[Outcome]:
        cancelled.set()
        return original(changes)

    dest.send = send_then_cancel  # type: ignore[method-assign]
    with pytest.raises(SyncCancelled):
        run_sync(wh, SPEC, dest, now=lambda: NOW, cancelled=cancelled)
    assert len(dest.batches) == 1 and len(dest.records) == 10


def test_a_writer_answering_for_other_records_records_nothing(wh: WarehouseSql) -> None:
    class Wrong(MemoryDestination):
        def send(self, changes: Sequence[Change]) -> list[Outcome]:
            return [Outcome("nope", Op.ADD, "h", True)]

    with pytest.raises(TerminalTaskError, match="answered for the wrong records"):
        run_sync(wh, SPEC, Wrong(), now=lambda: NOW)
    assert wh.query("SELECT count(*) FROM _podium.sync_state WHERE hash IS NOT NULL") == [(0,)]


def test_a_secret_in_a_destinations_reason_is_masked_before_it_is_written(
    wh: WarehouseSql,
) -> None:
    from podium.core.masking import Masker

    class Echoing(MemoryDestination):
        def send(self, changes: Sequence[Change]) -> list[Outcome]:
            return [Outcome(c.key, c.op, c.hash, False, "bad key pk_live_s3cr3t") for c in changes]

    report = run_sync(wh, SPEC, Echoing(), now=lambda: NOW, mask=Masker({"pk_live_s3cr3t"}))
    assert report.reasons == {"bad key ***": 100}
    stored = wh.query("SELECT DISTINCT reason FROM _podium.sync_rejected")
    assert stored == [("bad key ***",)]
