"""The amazon source against the SP-API simulator over real sockets, into DuckDB.

Full sync of every stream, the clock moves, an incremental sync: the warehouse must equal
``amazon_truth`` (counts, money to the cent, no duplicate keys) and the brand's daily
marketplace figures, with no rate-limit violation. Then each fault class: survived with
the same result, or a clear terminal error without a retry storm and with the cursor
where it was.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, Progress, StreamResult, load_stream
from podium.connectors.source import Page, Source, Stream, StreamState
from podium.connectors.sources.amazon import AmazonSource, open_amazon_source
from podium.errors import TerminalTaskError
from podium.sandbox import Faults, When
from podium.sandbox.amazon import (
    DEMO_CREDENTIALS,
    RATE_LIMITS,
    AmazonSimulator,
    amazon_truth,
    demo_connection,
    quiet_after,
)
from podium.sandbox.brand import Brand, BrandConfig, Channel, truth
from podium.sandbox.clock import SimClock
from podium.sandbox.server import SandboxServer

BRAND = Brand(
    BrandConfig(
        days=24, dtc_orders_per_day=1, marketplace_orders_per_day=6, wholesale_orders_per_day=0.2
    )
)
FAST = {op: (200.0, burst) for op, (_, burst) in RATE_LIMITS.items()}  # published bursts
STREAMS = ("orders", "order_items", "financial_events", "fee_transactions")
_names = itertools.count()


def pending_moment(brand: Brand, after: datetime) -> datetime:
    """A quiet time after ``after`` at which one order is still Pending (no prices)."""
    for order in brand.orders(Channel.MARKETPLACE):
        moment = order.created_at + timedelta(minutes=8)
        if moment > after and quiet_after(brand, moment) == moment:
            return moment
    raise AssertionError("no quiet moment with a pending order")


@dataclass
class World:
    sim: AmazonSimulator
    server: SandboxServer
    clock: SimClock
    tmp: Path
    name: str

    @property
    def db_path(self) -> Path:
        return self.tmp / "wh.duckdb"

    def source(self, **settings: Any) -> AmazonSource:
        config = demo_connection(self.server.url_for("amazon"))
        del config["type"]
        config.update(start_date=BRAND.config.start_at.isoformat(), report_poll_interval=0)
        config.update(settings)
        return open_amazon_source(
            self.name,
            config,
            secrets=DEMO_CREDENTIALS.values(),
            sleep=lambda s: None,
            now=self.clock.now,
            logger=logging.getLogger("test.amazon"),
        )

    def load(
        self,
        stream: str,
        source: Source | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> StreamResult:
        source = source or self.source()
        wanted = next(s for s in source.streams() if s.name == stream)
        job = LoadJob(
            source,
            wanted,
            DuckDBDestination(self.db_path),
            self.name,
            "raw_amazon",
            self.tmp / "loads",
            on_progress=on_progress,
        )
        return load_stream(job)

    def sync(self) -> dict[str, StreamResult]:
        source = self.source()
        try:
            return {name: self.load(name, source) for name in STREAMS}
        finally:
            source.close()

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db_path)) as db:
            return db.execute(query).fetchall()

    def one(self, query: str) -> Any:
        return self.sql(query)[0][0]

    def state(self, stream: str) -> dict[str, Any] | None:
        return DuckDBDestination(self.db_path).read_state(self.name, stream)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = SimClock(pending_moment(BRAND, BRAND.config.start_at + timedelta(days=16, hours=12)))
    sim = AmazonSimulator(BRAND, clock, rate_limits=FAST, report_polls=3)
    with SandboxServer({"amazon": sim}) as server:
        yield World(sim, server, clock, tmp_path, f"amazon{next(_names)}")


def assert_matches_truth(world: World) -> None:
    now = world.clock.now()
    expected = amazon_truth(BRAND, now, disbursed=world.sim.reports.disbursed)
    orders = world.sql(
        "SELECT count(*), count(order_total__amount), sum(order_total__amount) FROM raw_amazon.orders"
    )[0]
    assert orders == (
        expected["orders"],
        expected["orders"] - expected["pending_orders"],
        expected["order_total"],
    )
    items = world.sql(
        "SELECT count(*), sum(quantity_ordered), sum(item_price__amount) FROM raw_amazon.order_items"
    )[0]
    assert items == (expected["order_items"], expected["units"], expected["item_price"])
    finance = dict(
        world.sql("SELECT amount_type, sum(amount) FROM raw_amazon.financial_events GROUP BY 1")
    )
    assert (
        world.one("SELECT count(*) FROM raw_amazon.financial_events")
        == expected["financial_events"]
    )
    assert finance["Charge"] == expected["finance_charges"]
    assert finance["Fee"] == expected["finance_fees"] < 0
    assert finance.get("Promotion", 0) == expected["finance_promotions"]
    fees = world.sql(
        """SELECT count(*), sum(amount),
                  sum(amount) FILTER (WHERE amount_description = 'Commission'),
                  sum(amount) FILTER (WHERE amount_description = 'FBAPerUnitFulfillmentFee')
           FROM raw_amazon.fee_transactions"""
    )[0]
    assert fees == (
        expected["fee_transactions"],
        expected["fee_transactions_total"],
        expected["fee_transactions_selling_fees"],
        expected["fee_transactions_fba_fees"],
    )
    for table in STREAMS:
        assert world.one(f"SELECT count(*) - count(DISTINCT _key) FROM raw_amazon.{table}") == 0
    assert_daily_figures(world, now)


def assert_daily_figures(world: World, now: datetime) -> None:
    """Per day: orders, units, gross and discounts equal the brand's truth; gross leaves
    out Pending orders (Amazon shows them without prices), refunds come from finance."""
    pending: dict[Any, Decimal] = {}
    for view in BRAND.orders_as_of(Channel.MARKETPLACE, now):
        if view.status == "Pending":
            day = view.order.created_at.date()
            pending[day] = pending.get(day, Decimal("0.00")) + view.order.subtotal
    rows = world.sql(
        """SELECT o.purchase_date::DATE AS day, count(DISTINCT o.amazon_order_id),
                  sum(i.quantity_ordered), coalesce(sum(i.item_price__amount), 0),
                  coalesce(sum(i.promotion_discount__amount), 0)
           FROM raw_amazon.orders o JOIN raw_amazon.order_items i USING (amazon_order_id)
           GROUP BY 1 ORDER BY 1"""
    )
    got = {day: (n, units, gross) for day, n, units, gross, _ in rows}
    refunds = dict(
        world.sql(
            """SELECT posted_date::DATE, -sum(amount) FROM raw_amazon.financial_events
               WHERE event_type = 'Refund' AND amount_type = 'Charge' GROUP BY 1"""
        )
    )
    days = truth(BRAND, now, [Channel.MARKETPLACE])
    for cell in days:
        if cell.orders:
            want = (cell.orders, cell.units, cell.gross - pending.get(cell.day, Decimal(0)))
            assert got[cell.day] == want, cell.day
        assert refunds.get(cell.day, Decimal("0.00")) == cell.refunds, cell.day
    assert sum(c.discounts for c in days) == sum(r[4] for r in rows)


def test_full_then_incremental_sync_equals_the_truth(world: World) -> None:
    first = world.sync()
    expected = amazon_truth(BRAND, world.clock.now())
    assert expected["pending_orders"] >= 1 and expected["finance_promotions"] < 0
    assert_matches_truth(world)
    assert all(first[s].cursor for s in STREAMS)

    world.clock.set(quiet_after(BRAND, world.clock.now() + timedelta(days=3)))
    second = world.sync()
    assert_matches_truth(world)
    assert 0 < second["orders"].received < first["orders"].received + 40
    assert second["orders"].counts.updated > 0  # pending orders got their prices
    assert world.server.violations("amazon") == 0
    assert world.sim.lwa.token_requests == 2  # one exchange per sync (per source opened)
    assert "createReport" not in world.sim.calls  # settlement reports are only listed


def test_a_client_ignoring_the_limits_gets_quota_exceeded(world: World) -> None:
    world.sim.limits.limits["getOrders"] = (0.0167, 3)
    token = httpx.post(
        world.server.url_for("amazon") + "/auth/o2/token",
        data={"grant_type": "refresh_token", **DEMO_CREDENTIALS},
    ).json()["access_token"]
    statuses = []
    for _ in range(6):
        response = httpx.get(
            world.server.url_for("amazon") + "/orders/v0/orders",
            params={"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-09-01T00:00:00Z"},
            headers={"x-amz-access-token": token},
        )
        statuses.append(response.status_code)
        assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
        assert "Retry-After" not in response.headers
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert response.json()["errors"][0]["code"] == "QuotaExceeded"
    assert world.server.violations("amazon") == 3


def test_5xx_bursts_resets_and_cut_bodies_are_survived(world: World) -> None:
    world.server.set_faults(
        "amazon",
        Faults(errors=When.every(6), error_burst=2, reset=When.every(17), truncate=When.every(23)),
    )
    world.sync()
    assert_matches_truth(world)
    statuses = {status for _, _, status in world.server.log("amazon")}
    assert {0, 500, 502, 503}.issubset(statuses)
    assert world.server.violations("amazon") == 0


class _ExpiringTokens:
    """The source, with every access token expired after each page it yields (or after the
    first only): in step with the reading, which runs ahead of staging and its progress."""

    def __init__(self, source: AmazonSource, expire: Callable[[], None], once: bool) -> None:
        self.source, self.expire, self.once = source, expire, once

    def streams(self) -> Sequence[Stream]:
        return self.source.streams()

    def read(self, stream: Stream, state: StreamState, *, full_refresh: bool) -> Iterator[Page]:
        for number, page in enumerate(self.source.read(stream, state, full_refresh=full_refresh)):
            yield page
            if not self.once or number == 0:
                self.expire()

    def close(self) -> None:
        self.source.close()


def test_an_access_token_expiring_mid_sync_is_refreshed_once(world: World) -> None:
    source = world.source()
    world.load("orders", source)
    world.load("order_items", _ExpiringTokens(source, world.sim.expire_tokens, once=True))
    world.load("financial_events", _ExpiringTokens(source, world.sim.expire_tokens, once=False))
    world.load("fee_transactions", source)
    assert_matches_truth(world)
    assert world.sim.lwa.token_requests == 1 + 1 + 2  # first, then one per expiry noticed


def test_a_revoked_refresh_token_stops_the_sync_cleanly(world: World) -> None:
    world.load("orders")
    cursor = world.state("orders")
    world.clock.advance(timedelta(days=1))
    world.sim.revoke_token()
    asked = world.sim.lwa.token_requests
    source = world.source()
    for stream in STREAMS:
        with pytest.raises(TerminalTaskError) as failure:
            world.load(stream, source)
        message = str(failure.value)
        assert "refresh_token" in message and "invalid_grant" in message
        assert DEMO_CREDENTIALS["refresh_token"] not in message
    assert world.sim.lwa.token_requests == asked + 1  # refused once, never asked again
    assert world.state("orders") == cursor


def test_a_settlement_report_still_processing_is_waited_for(world: World) -> None:
    world.sim.reports.sabotage_next("DONE", after_polls=6)
    world.sync()
    assert world.sim.calls["getReport"] >= 6
    assert_matches_truth(world)


def test_a_cancelled_settlement_report_loads_nothing(world: World) -> None:
    world.sim.reports.sabotage_next("CANCELLED", after_polls=2)
    result = world.load("fee_transactions")
    assert result.received == 0 and result.cursor is None
    assert world.sim.calls["getReport"] >= 2


def test_a_fatal_settlement_report_is_a_terminal_error_and_keeps_the_cursor(
    world: World,
) -> None:
    world.sim.reports.sabotage_next("FATAL", after_polls=1)
    with pytest.raises(TerminalTaskError, match="ended FATAL; it cannot be requested again"):
        world.load("fee_transactions")
    assert world.state("fee_transactions") is None


def test_an_expired_document_url_is_fetched_again(world: World) -> None:
    world.sim.reports.expire_next_url()
    world.sync()
    assert world.sim.calls["getReportDocument"] == 2
    assert_matches_truth(world)


def test_a_payout_makes_a_settlement_report_at_once(world: World) -> None:
    """Amazon: a disbursement initiated in Seller Central "automatically schedules a report
    and restarts the disbursement cycle"; the next run reads that report too."""
    first = world.load("fee_transactions")
    world.clock.advance(timedelta(days=1))
    world.sim.disburse()
    second = world.load("fee_transactions")
    assert second.received > 0 and second.cursor is not None and second.cursor > first.cursor
    assert world.one("SELECT count(DISTINCT settlement_id) FROM raw_amazon.fee_transactions") == 2
    expected = amazon_truth(BRAND, world.clock.now(), disbursed=world.sim.reports.disbursed)
    assert (
        world.one("SELECT count(*) FROM raw_amazon.fee_transactions")
        == expected["fee_transactions"]
    )


def test_a_report_still_processing_when_the_wait_ends_is_read_by_the_next_run(
    world: World,
) -> None:
    world.sim.reports.polls_to_done = 50
    first = world.load("fee_transactions", world.source(report_wait=0))
    assert first.received == 0 and first.cursor is None
    world.sim.reports.polls_to_done = 3
    second = world.load("fee_transactions", world.source())  # a new process, same warehouse
    assert second.received > 0 and second.cursor is not None
    assert "createReport" not in world.sim.calls


def test_uncompressed_reports_and_empty_finance_pages(tmp_path: Path) -> None:
    # 15 days in: one settlement period has closed, so there is a report to read
    clock = SimClock(quiet_after(BRAND, BRAND.config.start_at + timedelta(days=15)))
    sim = AmazonSimulator(
        BRAND, clock, rate_limits=FAST, compress_reports=False, empty_finance_pages=2
    )
    with SandboxServer({"amazon": sim}) as server:
        world = World(sim, server, clock, tmp_path, f"amazon{next(_names)}")
        world.sync()
        assert_matches_truth(world)
        pages = [path for _, path, _ in server.log("amazon") if path.startswith("/amazon/finances")]
        assert len(pages) >= 2  # the first page came back empty, with a NextToken
