"""The shopify source against the Shopify simulator over real sockets, into DuckDB.

A full sync (Bulk Operations) of every stream, the clock moved on, an incremental sync
(``incremental: auto``: a Bulk Operation with the updated_at search for a stream whose
last read was large, paged GraphQL for the others, then destroy events): the warehouse
then equals ``shopify_truth`` and the brand's daily DTC truth to the cent. Incremental by
bulk reads exactly what paging reads for a tenth of its points, resumes its job and falls
back to paging. Then each Shopify fault class: survived with the same
result, or (a revoked token) a clear terminal error, no retry storm, the cursor unmoved.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from integration.conftest import WebhookReceiver
from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.http import HttpRetry
from podium.connectors.load import LoadJob, StreamResult, load_stream
from podium.connectors.registry import open_source as open_registered
from podium.connectors.source import JsonPage, StreamState
from podium.connectors.sources.shopify import ShopifySource, open_shopify_source
from podium.connectors.sources.shopify.config import AUTO_BULK_POINTS
from podium.connectors.sources.shopify.source import PAGED_POINTS
from podium.errors import TerminalTaskError, TransientTaskError
from podium.sandbox import Faults, When
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig, Channel, truth
from podium.sandbox.clock import SimClock
from podium.sandbox.server import SandboxServer
from podium.sandbox.shopify import (
    DEMO_CREDENTIALS,
    ShopifySimulator,
    demo_connection,
    is_valid,
    shopify_truth,
)

BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=16, customers=300, dtc_orders_per_day=30))
FIRST_SYNC = BRAND.config.start_at + timedelta(days=6, hours=5)  # the Beanie goes on day 8
LATER = timedelta(days=4, hours=3)
TOKEN = DEMO_CREDENTIALS["access_token"]
_names = itertools.count()


@dataclass
class Shop:
    server: SandboxServer
    sim: ShopifySimulator
    clock: SimClock
    tmp: Path
    name: str

    def source(self, **settings: Any) -> ShopifySource:
        config = demo_connection(self.server.url_for("shopify"))
        config.update({"bulk_poll_interval": 0, **settings})
        del config["type"]
        return open_shopify_source(
            self.name,
            config,
            secrets=[TOKEN],
            sleep=lambda s: time.sleep(min(s, 0.05)),
            retry=HttpRetry(attempts=8, backoff=0.01, max_backoff=0.05),
        )

    def load(self, *, full_refresh: bool = False, **settings: Any) -> list[StreamResult]:
        source = self.source(**settings)
        destination = DuckDBDestination(self.tmp / "wh.duckdb")
        try:
            return [
                load_stream(
                    LoadJob(
                        source,
                        stream,
                        destination,
                        self.name,
                        "raw_shopify",
                        self.tmp / "loads",
                        full_refresh=full_refresh,
                    )
                )
                for stream in source.streams()
            ]
        finally:
            source.close()
            destination.close()

    def state(self, stream: str) -> StreamState:
        destination = DuckDBDestination(self.tmp / "wh.duckdb")
        try:
            return StreamState.from_json(destination.read_state(self.name, stream))
        finally:
            destination.close()

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.tmp / "wh.duckdb"), read_only=True) as db:
            return db.execute(query).fetchall()

    def one(self, query: str) -> Any:
        return self.sql(query)[0][0]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    clock = SimClock(FIRST_SYNC)
    sim = ShopifySimulator(BRAND, clock, restore_rate=100_000.0, bulk_polls=2)
    with SandboxServer({"shopify": sim}) as server:
        yield Shop(server, sim, clock, tmp_path, f"shop{next(_names)}")


def assert_matches_truth(shop: Shop) -> None:
    """The warehouse equals what the API shows now, to the cent, deletions applied."""
    now = shop.clock.now()
    expected = shopify_truth(BRAND, now)
    live = "FROM raw_shopify.orders WHERE NOT _deleted"
    assert shop.one(f"SELECT count(*) {live}") == expected["orders"]
    assert shop.one(f"SELECT sum(total_price) {live}") == expected["orders_total_price"]
    assert shop.one(f"SELECT sum(subtotal_price) {live}") == expected["orders_subtotal_price"]
    assert shop.one(f"SELECT sum(total_refunded) {live}") == expected["orders_refunded"]
    lines = (
        "FROM raw_shopify.orders__line_items l JOIN raw_shopify.orders o "
        "ON l._root_key = o._key WHERE NOT o._deleted"
    )
    assert shop.one(f"SELECT count(*) {lines}") == expected["line_items"]
    assert shop.one(f"SELECT sum(quantity) {lines}") == expected["units"]
    assert shop.one("SELECT count(*) FROM raw_shopify.refunds") == expected["refunds"]
    assert (
        shop.one("SELECT sum(total_refunded) FROM raw_shopify.refunds")
        == (expected["refunds_amount"])
    )
    assert (
        shop.one("SELECT count(*) FROM raw_shopify.refunds__refund_line_items")
        == (expected["refund_line_items"])
    )
    sales = (
        "FROM raw_shopify.transactions t JOIN raw_shopify.orders o ON t.order_id = o.id "
        "WHERE NOT o._deleted"
    )
    assert shop.one(f"SELECT count(*) {sales}") == expected["transactions"]
    assert (
        shop.one(f"SELECT sum(amount) {sales} AND kind = 'SALE'")
        == (expected["transactions_sales"])
    )
    assert shop.one("SELECT count(*) FROM raw_shopify.customers") == expected["customers"]
    products = "SELECT count(*) FROM raw_shopify.products WHERE NOT _deleted"
    assert shop.one(products) == expected["products"]
    levels = "SELECT count(*) FROM raw_shopify.inventory_levels"
    assert shop.one(levels) == expected["inventory_levels"]
    deleted = "SELECT id FROM raw_shopify.orders WHERE _deleted ORDER BY id"
    loaded_then_deleted = [row[0] for row in shop.sql(deleted)]
    assert set(loaded_then_deleted) <= set(expected["deleted_orders"])
    for table, key in (("orders", "id"), ("refunds", "id"), ("transactions", "id")):
        dupes = f"SELECT count(*) - count(DISTINCT {key}) FROM raw_shopify.{table}"
        assert shop.one(dupes) == 0
    daily = {(d.day, d.gross, d.orders) for d in truth(BRAND, now, [Channel.DTC]) if d.orders}
    gross = shop.sql(
        "SELECT CAST(o.created_at AS DATE), sum(l.price * l.quantity), count(DISTINCT o.id) "
        "FROM raw_shopify.orders o JOIN raw_shopify.orders__line_items l "
        "ON l._root_key = o._key WHERE NOT o._deleted GROUP BY 1"
    )
    assert {(day, Decimal(total), n) for day, total, n in gross} == daily
    assert shop.server.violations("shopify") == 0


def test_full_then_incremental_equals_the_truth(shop: Shop) -> None:
    first = {r.stream: r for r in shop.load()}
    assert first["orders"].received == shopify_truth(BRAND, FIRST_SYNC)["orders"]
    assert shop.sim.bulk.current is not None  # the full sync went through bulk
    read = {name: shop.state(name).extra["last_read"] for name in first}
    before = shop.server.requests("shopify")
    shop.clock.advance(LATER)
    second = {r.stream: r for r in shop.load()}
    assert_matches_truth(shop)
    assert second["orders"].counts.deleted >= 1  # a destroy event marked a loaded order
    assert second["products"].counts.deleted == 1  # the Beanie
    deleted = shop.one("SELECT count(*) FROM raw_shopify.products WHERE _deleted")
    assert deleted == 1
    log = shop.server.log("shopify")[before:]
    # incremental: auto: bulk where paging the first read would have cost 2,000 points
    # or more (the orders), paged for the others
    large = {name for name, n in read.items() if n * PAGED_POINTS[name] >= AUTO_BULK_POINTS}
    assert large == {"orders"}
    assert sum(1 for _, path, _ in log if "/bulk/" in path) == len(large)
    assert shop.state("orders").cursor is not None
    assert shop.state("orders").extra == {"last_read": second["orders"].received}


def changed_since(cursor: str, incremental: str, shop: Shop) -> tuple[dict[str, Any], int]:
    """Every stream read from ``cursor`` with ``incremental``: per stream its rows (sorted)
    and deleted keys, and the query-cost points the reads spent."""
    source, spent, found = shop.source(incremental=incremental), shop.sim.spent, {}
    try:
        for stream in source.streams():
            pages = [p for p in source.read(stream, StreamState(cursor)) if isinstance(p, JsonPage)]
            rows = sorted((r for p in pages for r in p.records), key=repr)
            found[stream.name] = (rows, sorted(repr(d) for p in pages for d in p.deleted))
    finally:
        source.close()
    return found, shop.sim.spent - spent


def test_incremental_by_bulk_reads_the_changes_for_a_tenth_of_the_points(shop: Shop) -> None:
    """The same day read both ways: the same rows and deletions (exactly what changed
    since the rewound cursor), the bulk read for under a tenth of the paged one's points."""
    cursor = "2026-09-05T00:00:00Z"
    shop.clock.advance(LATER)
    paged, paged_spent = changed_since(cursor, "paged", shop)
    bulk, bulk_spent = changed_since(cursor, "bulk", shop)
    assert bulk == paged
    since = "2026-09-04T23:50:00Z"  # the cursor less the 10-minute lookback
    snapshot = shop.sim.snapshot()
    changed = {e.number for e in snapshot.orders if e.updated_at >= since}
    assert {r["id"] for r in bulk["orders"][0]} == changed
    assert 0 < len(changed) < len(snapshot.orders)  # not the whole shop
    assert bulk["orders"][1] and bulk["products"][1]  # destroy events, after the read
    assert all(r["order_updated_at"] >= since for r in bulk["refunds"][0])
    assert 0 < bulk_spent * 10 < paged_spent, (bulk_spent, paged_spent)


def test_auto_goes_bulk_once_paging_the_last_read_would_cost_2000_points(shop: Shop) -> None:
    source = shop.source()  # incremental: auto
    stream = next(s for s in source.streams() if s.name == "customers")
    most = -(-AUTO_BULK_POINTS // PAGED_POINTS["customers"])  # the fewest nodes for bulk
    cursor = "2026-09-05T00:00:00Z"
    states = [StreamState(cursor, {"last_read": n}) for n in (most - 1, most)]
    states.append(StreamState(cursor))  # no count kept (a state from before): bulk
    jobs = []
    try:
        for state in states:
            list(source.read(stream, state))
            jobs.append(shop.sim.bulk.current.gid if shop.sim.bulk.current else None)
    finally:
        source.close()
    assert jobs[0] is None and None not in jobs[1:] and jobs[1] != jobs[2]
    changed = states[0].extra["last_read"]
    assert 0 < changed < most and all(s.extra["last_read"] == changed for s in states)


def test_an_incremental_bulk_job_is_resumed_for_the_same_search_only(shop: Shop) -> None:
    shop.load(streams=["customers"])
    shop.clock.advance(LATER)
    shop.sim.bulk.polls = 4
    first = shop.load(streams=["customers"], incremental="bulk", bulk_timeout=0)
    assert first[0].received == 0
    saved = shop.state("customers").extra["bulk"]
    job = shop.sim.bulk.current
    assert job is not None and saved["id"] == job.gid and "updated_at:>=" in job.query
    second = shop.load(streams=["customers"], incremental="bulk")
    assert second[0].received > 0 and shop.sim.bulk.current is job  # resumed, not rerun
    assert "bulk" not in shop.state("customers").extra
    customers = shop.one("SELECT count(*) FROM raw_shopify.customers")
    assert customers == shopify_truth(BRAND, shop.clock.now())["customers"]


def test_a_failed_incremental_bulk_job_falls_back_to_paging(shop: Shop) -> None:
    shop.load(streams=["orders"])
    shop.clock.advance(LATER)
    shop.sim.bulk.fail_next = "INTERNAL_SERVER_ERROR"
    results = shop.load(streams=["orders"], incremental="bulk")
    assert shop.sim.bulk.current is not None and shop.sim.bulk.current.status == "FAILED"
    live = "SELECT count(*) FROM raw_shopify.orders WHERE NOT _deleted"
    assert results[0].received > 0
    assert shop.one(live) == shopify_truth(BRAND, shop.clock.now())["orders"]


def test_generic_faults_give_the_same_result(shop: Shop) -> None:
    shop.server.set_faults(
        "shopify",
        Faults(
            errors=When.every(6),
            error_burst=2,
            reset=When.every(11),
            truncate=When.every(9),
            slow=When.at(4),
            slow_seconds=0.3,
            seed=3,
        ),
    )
    shop.load()
    shop.clock.advance(LATER)
    shop.load()
    assert_matches_truth(shop)
    statuses = {status for _, _, status in shop.server.log("shopify")}
    assert {0, 500, 502}.issubset(statuses)


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_storms_are_waited_out(shop: Shop, status: int) -> None:
    shop.sim.throttled_status = status
    shop.load()
    shop.clock.advance(LATER)
    shop.sim.throttle_storm(6)
    shop.sim.internal_errors(3)
    shop.load()
    assert_matches_truth(shop)
    assert shop.sim.throttled >= 6


def test_the_cost_budget_is_respected_for_real(tmp_path: Path) -> None:
    clock = SimClock(FIRST_SYNC)
    # fast enough that a wait for ~300 points stays under the Shop's 50 ms sleep cap
    sim = ShopifySimulator(BRAND, clock, bucket_size=1000, restore_rate=8000.0)
    with SandboxServer({"shopify": sim}) as server:
        shop = Shop(server, sim, clock, tmp_path, f"shop{next(_names)}")
        started = time.monotonic()
        results = shop.load(bulk=False, streams=["orders", "refunds"])
        elapsed = time.monotonic() - started
    assert results[0].received == shopify_truth(BRAND, FIRST_SYNC)["orders"]
    assert sim.violations == 0 and sim.throttled == 0
    assert elapsed > 0.2  # it did wait for points to come back


def test_a_client_ignoring_the_budget_is_caught(shop: Shop) -> None:
    shop.sim.restore_rate = 1.0
    source = shop.source(bulk=False)
    source.graphql.limiter.acquire = lambda: None  # type: ignore[method-assign]
    source.graphql.attempts = 3
    with pytest.raises(TransientTaskError, match="Throttled"):
        list(source.read(source.streams()[0], StreamState()))
    assert shop.sim.violations > 0


def test_a_revoked_token_stops_at_once_and_keeps_the_cursor(shop: Shop) -> None:
    shop.load()
    cursor = shop.state("orders").cursor
    shop.clock.advance(LATER)
    shop.sim.revoke_token()
    before = shop.server.requests("shopify")
    with pytest.raises(TerminalTaskError) as failure:
        shop.load()
    message = str(failure.value)
    assert "401" in message and "access token" in message and shop.name in message
    assert TOKEN not in message
    assert shop.server.requests("shopify") - before == 1  # no retry storm
    assert shop.state("orders").cursor == cursor


def test_a_failed_bulk_job_falls_back_to_paging(shop: Shop) -> None:
    shop.sim.bulk.fail_next = "INTERNAL_SERVER_ERROR"
    results = shop.load(streams=["orders"])
    assert results[0].received == shopify_truth(BRAND, FIRST_SYNC)["orders"]
    assert shop.sim.bulk.current is not None and shop.sim.bulk.current.status == "FAILED"
    assert any("graphql" in path for _, path, _ in shop.server.log("shopify")[-3:])


def test_an_expired_url_reruns_the_job(shop: Shop) -> None:
    shop.sim.bulk.expire_next = True
    results = shop.load(streams=["orders"])
    assert results[0].received == shopify_truth(BRAND, FIRST_SYNC)["orders"]
    downloads = [s for _, path, s in shop.server.log("shopify") if "/bulk/" in path]
    assert downloads == [403, 200]


def test_a_running_job_is_resumed_by_the_next_run(shop: Shop) -> None:
    shop.sim.bulk.polls = 4
    first = shop.load(streams=["orders"], bulk_timeout=0)
    assert first[0].received == 0
    saved = shop.state("orders").extra["bulk"]["id"]
    assert saved == shop.sim.bulk.current.gid  # type: ignore[union-attr]
    second = shop.load(streams=["orders"])
    assert second[0].received == shopify_truth(BRAND, FIRST_SYNC)["orders"]
    assert shop.sim.bulk.current.gid == saved  # type: ignore[union-attr]
    assert shop.state("orders").extra == {"last_read": second[0].received}


def test_another_running_job_is_waited_for(shop: Shop) -> None:
    other = "{ customers { edges { node { id } } } }"
    shop.sim.bulk.start(other, list, "2026-09-01T00:00:00Z")
    results = shop.load(streams=["orders"])
    assert results[0].received == shopify_truth(BRAND, FIRST_SYNC)["orders"]
    assert shop.sim.bulk.current is not None and shop.sim.bulk.current.query != other


def test_webhooks_are_signed_as_shopify_signs_them(shop: Shop) -> None:
    secret = "whsec-client-secret"

    def verify(headers: Mapping[str, str], body: bytes) -> bool:
        return is_valid(secret, body, headers["X-Shopify-Hmac-SHA256"])

    with WebhookReceiver(verify) as receiver:
        at = shop.clock.advance(LATER)
        deliveries = shop.sim.deliver_webhooks(receiver.url, secret)
        again = shop.sim.deliver_webhooks(receiver.url, secret)  # nothing changed since
        received = [(h["X-Shopify-Topic"], ok, h) for h, _, ok in receiver.deliveries]
        genuine = list(received)
        shop.clock.advance(timedelta(days=1))
        forged = shop.sim.deliver_webhooks(receiver.url, "not-the-client-secret")
    topics = {topic for topic, _, _ in genuine}
    assert {"orders/create", "orders/updated", "refunds/create", "orders/delete"} <= topics
    assert all(ok for _, ok, _ in genuine) and all(d.status == 200 for d in deliveries)
    assert again == []
    assert forged and all(d.status == 401 for d in forged)  # the receiver rejects them
    headers = received[0][2]
    for name in ("Shop-Domain", "API-Version", "Webhook-Id", "Event-Id", "Triggered-At"):
        assert headers[f"X-Shopify-{name}"]
    creates = sum(1 for d in deliveries if d.topic == "orders/create")
    placed = [o for o in BRAND.orders(Channel.DTC) if FIRST_SYNC < o.created_at <= at]
    assert creates == sum(1 for o in placed if o.as_of(at) is not None)


def test_the_registry_opens_the_demo_connection(shop: Shop) -> None:
    settings = demo_connection(shop.server.url_for("shopify"))
    source = open_registered(
        shop.name, settings, root=shop.tmp, secrets=frozenset({TOKEN}), logger=None
    )
    try:
        stream = next(s for s in source.streams() if s.name == "customers")
        state = StreamState("2026-09-05T00:00:00Z", {"last_read": 10})  # small: paged
        pages = list(source.read(stream, state, full_refresh=False))
    finally:
        source.close()
    rows = [r for page in pages if isinstance(page, JsonPage) for r in page.records]
    assert rows and all(r["updated_at"] >= "2026-09-04T23:50:00Z" for r in rows)  # lookback
