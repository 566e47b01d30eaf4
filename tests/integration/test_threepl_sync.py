"""Orders synced to the 3PL simulator over real sockets, from a real DuckDB warehouse: each
reference id lands as exactly one order through 429 storms, 5xx bursts, answers cut after
the order committed, a crash before a batch was recorded, and each duplicate policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.sandbox import Faults, When
from podium.sandbox.brand import EXAMPLE_START, BrandConfig
from podium.sandbox.service import Sandbox, start_sandbox
from podium.syncs import Mode, Op, Outcome, SyncSpec, plan, read_changes
from podium.syncs.destination import SyncTarget, WriterEnv
from podium.syncs.destinations.threepl import ThreePLDestination, ThreePLWriter
from podium.syncs.run import SyncCancelled, run_sync
from podium.syncs.state import mark_pending
from podium.transforms.warehouse_sql import WarehouseSql, open_warehouse_sql
from recorded_writer import Recorded

NOW = datetime(2026, 12, 7, 6, tzinfo=UTC)
N = 300  # orders: twice ShipBob's 150 a minute, so pacing matters
FIELDS = {
    "shipping_method": "ship",
    "order_number": "number",
    "recipient.name": "name",
    "recipient.address.address1": "address1",
    "recipient.address.city": "city",
    "recipient.address.country": "country",
    "products": "products",
}
PRODUCTS = """'[{"reference_id": "SKU-' || CAST(i % 7 AS VARCHAR) || '", "quantity": '
    || CAST(1 + i % 3 AS VARCHAR) || '}]'"""


@dataclass
class Harness:
    """One warehouse, one sandbox, one sync: ``run`` plans and sends it all, batch by batch."""

    sandbox: Sandbox
    sql: WarehouseSql
    mode: Mode = Mode.INSERT
    env: WriterEnv = field(default_factory=WriterEnv)
    settings: dict[str, Any] = field(default_factory=dict)  # over the sandbox's connection

    @property
    def spec(self) -> SyncSpec:
        return SyncSpec("to_3pl", "marts.orders", "ref", FIELDS, self.mode)

    def __post_init__(self) -> None:
        clock = self.sandbox.clock
        # one clock for every run of the harness: the connection's limiter (one per clock)
        # then remembers the window across runs, as podium's one clock does across syncs
        self.clock: Any = lambda: clock.now().timestamp()
        self.sleep: Any = lambda seconds: clock.advance(timedelta(seconds=seconds)) and None

    def writer(self) -> ThreePLWriter:
        destination = ThreePLDestination(clock=self.clock, sleep=self.sleep)
        target = SyncTarget("to_3pl", "wms", "orders", self.mode, "ref", tuple(FIELDS))
        settings = {**self.sandbox.connection("threepl"), **self.settings}
        return destination.open("wms", settings, target, self.env)

    def run(self) -> list[Outcome]:
        """Runs the sync (``run_sync``); the writer's outcomes, in the order sent."""
        writer = Recorded(self.writer())
        try:
            run_sync(self.sql, self.spec, writer, now=lambda: NOW, counters=self.env.counters)
        finally:
            writer.close()
        return writer.outcomes

    def crash_after_one_batch(self) -> list[Outcome]:
        """Sends the first batch as ``run_sync`` does (marked handed over first) and dies
        before recording it."""
        writer = self.writer()
        try:
            batch = read_changes(self.sql, self.spec, limit=writer.batch_size)
            mark_pending(self.sql, self.spec.name, [c.key for c in batch], now=NOW)
            return list(writer.send(batch))
        finally:
            writer.close()

    def requests(self) -> int:
        return self.env.counters.get("requests", 0)

    def truth(self) -> dict[str, Any]:
        held: dict[str, Any] = httpx.get(self.sandbox.url + "/_sandbox/truth/threepl").json()
        return held

    def refs(self) -> list[str]:
        return [str(r[0]) for r in self.sql.query("SELECT ref FROM marts.orders ORDER BY ref")]

    def add_orders(self, first: int, last: int) -> None:
        self.sql.execute(
            "INSERT INTO marts.orders SELECT 'shop-' || CAST(i AS VARCHAR), 'Standard',"
            " CAST(i AS VARCHAR), 'Customer ' || CAST(i AS VARCHAR), CAST(i AS VARCHAR)"
            f" || ' N Racine Ave', 'Chicago', 'US', {PRODUCTS}"
            f" FROM generate_series({first}, {last}) AS g(i)"
        )

    def assert_one_order_per_reference_id(self, cancelled: int = 0) -> None:
        held = self.truth()
        assert held["duplicated_reference_ids"] == []
        assert held["orders"] == held["distinct_reference_ids"]
        live = sorted(set(held["reference_ids"]) - self.cancelled_refs())
        assert live == self.refs()
        assert held["by_status"].get("cancelled", 0) == cancelled

    def cancelled_refs(self) -> set[str]:
        sim = self.sandbox.simulator("threepl")
        return {o.reference_id for o in sim.orders() if o.status.value == "cancelled"}


def start(tmp_path: Path, duplicates: str = "reject") -> Iterator[Harness]:
    config = BrandConfig(start=EXAMPLE_START, days=3)
    options = {"threepl": {"duplicates": duplicates}}
    with (
        start_sandbox(config=config, apis=["threepl"], options=options) as sandbox,
        open_warehouse_sql({"type": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path) as sql,
    ):
        sql.ensure_schema("marts")
        sql.execute(
            "CREATE TABLE marts.orders (ref TEXT, ship TEXT, number TEXT, name TEXT,"
            " address1 TEXT, city TEXT, country TEXT, products TEXT)"
        )
        harness = Harness(sandbox, sql)
        harness.add_orders(1, N)
        yield harness


@pytest.fixture
def h(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A harness; parametrised indirectly with the simulator's duplicate policy."""
    yield from start(tmp_path, getattr(request, "param", "reject"))


def test_a_first_sync_then_a_one_percent_change_sends_only_that_change(h: Harness) -> None:
    first = h.run()
    assert len(first) == N and all(o.landed for o in first)
    assert h.requests() == N  # a create per order: nothing was handed over before
    assert h.env.counters.get("throttled", 0) == 0  # paced to 150 a minute: no 429
    assert h.sandbox.server.violations("threepl") == 0
    ids = {o.reference_id: str(o.id) for o in h.sandbox.simulator("threepl").orders()}
    assert {o.key: o.remote_id for o in first} == ids
    h.assert_one_order_per_reference_id()

    h.add_orders(N + 1, N + 3)  # 1%
    before = h.requests()
    second = h.run()
    assert sorted(o.key for o in second) == ["shop-301", "shop-302", "shop-303"]
    assert h.requests() - before == 3  # one create each
    h.assert_one_order_per_reference_id()
    before = h.requests()
    assert h.run() == [] and h.requests() == before


def test_mirror_cancels_removed_orders_and_reports_a_shipped_one(h: Harness) -> None:
    h.mode = Mode.MIRROR
    h.run()
    sim = h.sandbox.simulator("threepl")
    shipped = next(o for o in sim.orders() if o.reference_id == "shop-12")
    sim.move(shipped.id, "shipped")
    h.sql.execute("DELETE FROM marts.orders WHERE ref IN ('shop-10', 'shop-11', 'shop-12')")
    h.add_orders(N + 1, N + 3)
    before = h.requests()
    second = {o.key: o for o in h.run()}
    assert h.requests() - before == 3 + 3  # three cancels, three creates
    assert [k for k, o in second.items() if o.op is Op.REMOVE and o.landed] == [
        "shop-10", "shop-11"]  # fmt: skip
    refused = second["shop-12"]
    assert not refused.landed and refused.reason is not None
    assert f"order {shipped.id}" in refused.reason and "already shipped" in refused.reason
    assert h.cancelled_refs() == {"shop-10", "shop-11"}
    assert plan(h.sql, "to_3pl", "marts.orders", "ref", FIELDS, Mode.MIRROR).removes == 1


FAULTS = {
    "429 storm": Faults(throttle=When.every(9), throttle_burst=4, retry_after=2),
    "5xx burst": Faults(errors=When.every(11), error_burst=3),
    "cut after commit": Faults(truncate=When.every(7)),
    "reset after commit": Faults(reset=When.every(13)),
}


@pytest.mark.parametrize("h", ["reject", "upsert", "accept"], indirect=True)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_faults_lose_no_order_and_create_none_twice(h: Harness, fault: str) -> None:
    h.mode = Mode.MIRROR
    h.sandbox.server.set_faults("threepl", FAULTS[fault])
    assert all(o.landed for o in h.run())
    h.sql.execute("DELETE FROM marts.orders WHERE ref IN ('shop-1', 'shop-2', 'shop-3')")
    h.add_orders(N + 1, N + 3)
    assert all(o.landed for o in h.run())
    h.sandbox.server.set_faults("threepl", None)
    h.assert_one_order_per_reference_id(cancelled=3)
    assert h.run() == []
    counters = h.env.counters
    if fault == "429 storm":
        assert counters["throttled"] > 0
    else:
        assert counters["retries"] > 0
    if "after commit" in fault:
        assert counters["lookups"] > 2 * N // 100 + 2  # lost creates were looked up


@pytest.mark.parametrize("h", ["reject", "upsert", "accept"], indirect=True)
def test_a_batch_sent_but_never_recorded_is_found_not_created_again(h: Harness) -> None:
    crashed = h.crash_after_one_batch()
    assert len(crashed) == 100 and h.truth()["orders"] == 100
    resent = h.run()
    assert {o.key: o.remote_id for o in resent if o.key in {c.key for c in crashed}} == {
        c.key: c.remote_id for c in crashed
    }
    h.assert_one_order_per_reference_id()
    assert h.truth()["create_requests"] == N  # the resent batch was looked up, not created


def test_a_bad_order_is_rejected_with_the_field_message_and_retried_next_run(
    h: Harness,
) -> None:
    h.sql.execute("UPDATE marts.orders SET address1 = NULL WHERE ref = 'shop-7'")
    outcomes = {o.key: o for o in h.run()}
    bad = outcomes.pop("shop-7")
    assert not bad.landed and all(o.landed for o in outcomes.values())
    assert bad.reason == (
        "the 3PL answered 400: recipient.address.address1: The address1 field is required"
        " (a non-empty string)."
    )
    p = plan(h.sql, "to_3pl", "marts.orders", "ref", FIELDS, Mode.INSERT)
    assert (p.adds, p.retries, [c.reason for c in p.rejected]) == (1, 1, [bad.reason])
    h.sql.execute("UPDATE marts.orders SET address1 = '1 Main St' WHERE ref = 'shop-7'")
    assert [(o.key, o.landed) for o in h.run()] == [("shop-7", True)]
    h.assert_one_order_per_reference_id()


def test_upsert_is_refused_and_a_wrong_token_fails_without_showing_it(h: Harness) -> None:
    from podium.errors import TerminalTaskError
    from podium.syncs.destinations.threepl import DESTINATION

    assert Mode.UPSERT not in DESTINATION.objects["orders"].modes
    settings = {**h.sandbox.connection("threepl"), "token": "pat_wrong_secret_token"}
    target = SyncTarget("to_3pl", "wms", "orders", Mode.INSERT, "ref", tuple(FIELDS))
    writer = DESTINATION.open("wms", settings, target, WriterEnv())
    changes = read_changes(h.sql, h.spec, limit=2)
    with pytest.raises(TerminalTaskError) as failed:
        writer.send(changes)
    writer.close()
    assert "401" in str(failed.value) and "check the token" in str(failed.value)
    assert "pat_wrong_secret_token" not in str(failed.value)


@pytest.mark.parametrize("h", ["reject", "upsert"], indirect=True)
def test_a_create_that_timed_out_is_looked_up_and_never_doubled(h: Harness) -> None:
    """The slow create is still running when the writer looks it up and sends it again:
    the 3PL's reference id check (422, or an upsert of the same order) keeps it one."""
    h.settings = {"timeout": 0.2}
    h.sandbox.server.set_faults("threepl", Faults(slow=When.every(60), slow_seconds=0.4))
    assert all(o.landed for o in h.run())
    h.sandbox.server.set_faults("threepl", None)
    h.assert_one_order_per_reference_id()
    assert h.env.counters["retries"] >= 5 and h.truth()["create_requests"] > N


class CancelledAfter(WriterEnv):
    """An attempt cancelled (as the engine does) once ``n`` requests went out."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def count(self, name: str, n: int = 1) -> None:
        super().count(name, n)
        if self.counters.get("requests", 0) >= self.n:
            self.cancelled.set()


def test_a_cancelled_attempt_stops_mid_batch_and_the_next_one_finds_what_it_sent(
    h: Harness,
) -> None:
    h.env = CancelledAfter(30)  # 30 creates
    with pytest.raises(SyncCancelled, match="cancelled mid-batch"):
        h.run()
    assert h.truth()["orders"] == 30  # sent, never recorded
    h.env = WriterEnv()
    assert all(o.landed for o in h.run())
    h.assert_one_order_per_reference_id()
    assert h.truth()["create_requests"] == N  # the 30 were found by the lookup
