"""The klaviyo source against the Klaviyo simulator over real sockets, into DuckDB.

A full sync, the clock moved on, an incremental sync: the warehouse then equals
``klaviyo_truth`` (profiles, events per metric, Placed Order count and ``$value`` to the
cent, deleted orders' events kept, values reports equal to the loaded events) with no
duplicate keys and no rate-limit violation. Then each fault class: generic 429 storms,
5xx bursts, truncated and slow pages; Klaviyo's own burst/steady limits; a revoked key.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest

from integration.conftest import WebhookReceiver
from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, StreamResult, load_stream
from podium.connectors.registry import connection_problems
from podium.connectors.source import JsonPage, StreamState
from podium.connectors.sources.klaviyo import (
    KlaviyoSource,
    open_klaviyo_source,
    verify_klaviyo_webhook,
)
from podium.connectors.sources.klaviyo.source import FETCH_AHEAD
from podium.errors import TerminalTaskError
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig, Channel
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Faults, When
from podium.sandbox.klaviyo import (
    DEMO_API_KEY,
    KlaviyoSimulator,
    Tier,
    demo_connection,
    klaviyo_truth,
)
from podium.sandbox.server import SandboxServer

PREFIX = "klaviyo"
FAST_REPORTS = {"campaign-values-reports": Tier(50, 500), "flow-values-reports": Tier(50, 500)}
_names = itertools.count()


@pytest.fixture(scope="module")
def brand() -> Brand:
    return Brand(BrandConfig(start=EXAMPLE_START, days=24, customers=320, dtc_orders_per_day=14))


@pytest.fixture
def world(brand: Brand) -> Iterator[tuple[SandboxServer, KlaviyoSimulator, SimClock]]:
    clock = SimClock(brand.config.start_at + timedelta(days=14, hours=6))
    sim = KlaviyoSimulator(brand, clock, tiers=FAST_REPORTS)
    with SandboxServer({PREFIX: sim}) as server:
        yield server, sim, clock


def settings(server: SandboxServer, **extra: Any) -> dict[str, Any]:
    config = demo_connection(server.url_for(PREFIX))
    del config["type"]
    config["rate_limits"] = {
        "campaign_values": {"burst": 50, "steady": 500},
        "flow_values": {"burst": 50, "steady": 500},
    }
    config["timeout"] = "2s"
    config["retries"] = 8
    return {**config, **extra}


def open_source(server: SandboxServer, name: str, **kwargs: Any) -> KlaviyoSource:
    windows = kwargs.pop("windows", (1.0, 60.0))
    return open_klaviyo_source(
        name, settings(server, **kwargs), secrets=[DEMO_API_KEY], windows=windows
    )


def sync(source: KlaviyoSource, tmp_path: Path, name: str) -> dict[str, StreamResult]:
    destination = DuckDBDestination(tmp_path / "wh.duckdb")
    results = {}
    for stream in source.streams():
        job = LoadJob(source, stream, destination, name, "raw_klaviyo", tmp_path / "loads")
        results[stream.name] = load_stream(job)
    return results


def query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        return db.execute(sql).fetchall()


def one(tmp_path: Path, sql: str) -> Any:
    return query(tmp_path, sql)[0][0]


def assert_matches_truth(tmp_path: Path, brand: Brand, clock: SimClock) -> None:
    truth = klaviyo_truth(brand, clock.now())
    for table in ("profiles", "metrics", "lists", "campaigns", "flows", "events"):
        assert one(tmp_path, f"SELECT count(*) FROM raw_klaviyo.{table}") == truth[table], table
        dupes = f"SELECT count(*) - count(DISTINCT id) FROM raw_klaviyo.{table}"
        assert one(tmp_path, dupes) == 0, table
    by_metric = dict(
        query(
            tmp_path,
            "SELECT m.name, count(*) FROM raw_klaviyo.events e "
            "JOIN raw_klaviyo.metrics m ON m.id = e.metric_id GROUP BY m.name",
        )
    )
    assert by_metric == truth["events_by_metric"]
    placed = (
        "FROM raw_klaviyo.events e JOIN raw_klaviyo.metrics m ON m.id = e.metric_id "
        "WHERE m.name = 'Placed Order'"
    )
    assert one(tmp_path, f"SELECT count(*) {placed}") == truth["placed_orders"]
    assert one(tmp_path, f"SELECT sum(e.value) {placed}") == truth["placed_order_value"]
    assert one(tmp_path, f"SELECT typeof(sum(e.value)) {placed}").startswith("DECIMAL")
    deleted = [o.number for o in brand.deleted_as_of(Channel.DTC, clock.now())]
    assert deleted  # the brand has deleted orders by then, so this checks something
    loaded = {row[0] for row in query(tmp_path, f"SELECT e.order_id {placed}")}
    kept = len(set(deleted) & loaded)
    assert kept == len(deleted)  # Klaviyo events are immutable: a deleted order's event stays
    assert_reports_match_events(tmp_path, truth)


def assert_reports_match_events(tmp_path: Path, truth: dict[str, Any]) -> None:
    counted = {
        message: (recipients, openers, clickers)
        for message, recipients, openers, clickers in query(
            tmp_path,
            "SELECT e.message_id, count(*) FILTER (m.name = 'Received Email'), "
            "count(DISTINCT e.profile_id) FILTER (m.name = 'Opened Email'), "
            "count(DISTINCT e.profile_id) FILTER (m.name = 'Clicked Email') "
            "FROM raw_klaviyo.events e JOIN raw_klaviyo.metrics m ON m.id = e.metric_id "
            "WHERE e.message_id IS NOT NULL GROUP BY 1",
        )
    }
    for table, key in (
        ("campaign_values", "campaign_message_id"),
        ("flow_values", "flow_message_id"),
    ):
        rows = query(
            tmp_path,
            f"SELECT {key}, recipients, opens_unique, clicks_unique, open_rate, "
            f"conversion_value FROM raw_klaviyo.{table}",
        )
        expected = truth[table]
        assert len(rows) == len(expected) > 0
        for message, recipients, opens, clicks, open_rate, value in rows:
            assert (recipients, opens, clicks) == counted[message]
            assert 0 <= open_rate <= 1 and open_rate == pytest.approx(opens / recipients)
            assert value == Decimal(str(expected[message]["conversion_value"])).quantize(
                Decimal("0.01")
            )


def test_full_then_incremental_sync_equals_the_truth(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock], brand: Brand, tmp_path: Path
) -> None:
    server, sim, clock = world
    name = f"kl{next(_names)}"
    first = sync(open_source(server, name), tmp_path, name)
    assert_matches_truth(tmp_path, brand, clock)
    assert first["events"].cursor is not None

    clock.advance(timedelta(days=6))
    before = one(tmp_path, "SELECT count(*) FROM raw_klaviyo.events")
    second = sync(open_source(server, name), tmp_path, name)
    assert_matches_truth(tmp_path, brand, clock)
    new_events = klaviyo_truth(brand, clock.now())["events"] - before
    assert second["events"].counts.inserted == new_events > 0
    assert second["events"].received < new_events + 200  # incremental, not a full re-read
    assert second["profiles"].counts.updated > 0  # customers who ordered again
    log = server.log(PREFIX)
    incremental = [path for _, path, _ in log[len(log) // 2 :] if "/api/events/" in path]
    assert any("greater-or-equal%28datetime" in path for path in incremental)
    assert server.violations(PREFIX) == 0


def test_every_generic_fault_still_gives_the_truth(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock], brand: Brand, tmp_path: Path
) -> None:
    server, sim, clock = world
    server.set_faults(
        PREFIX,
        Faults(
            throttle=When.every(7),
            throttle_burst=2,
            retry_after=0.02,
            errors=When.every(5),
            error_burst=2,
            reset=When.every(17),
            truncate=When.every(13),
            slow=When.at(3, 9),
            slow_seconds=0.3,
            seed=5,
        ),
    )
    name = f"kl{next(_names)}"
    source = open_klaviyo_source(
        name,
        settings(server, timeout="1s"),
        secrets=[DEMO_API_KEY],
        sleep=lambda seconds: time.sleep(min(seconds, 0.05)),  # backoff short, Retry-After kept
    )
    sync(source, tmp_path, name)
    assert_matches_truth(tmp_path, brand, clock)
    statuses = {status for _, _, status in server.log(PREFIX)}
    assert {0, 200, 429, 500, 502}.issubset(statuses)  # 0: a reset connection
    assert server.violations(PREFIX) == 0


def test_the_source_paces_inside_klaviyos_own_burst_and_steady_limits(
    brand: Brand, tmp_path: Path
) -> None:
    clock = SimClock(brand.config.start_at + timedelta(days=12))
    windows = (0.05, 0.5)  # Klaviyo's 1 s and 60 s windows, shrunk
    sim = KlaviyoSimulator(brand, clock, tiers={"events": Tier(3, 12)}, windows=windows)
    with SandboxServer({PREFIX: sim}) as server:
        name = f"kl{next(_names)}"
        source = open_source(
            server,
            name,
            streams=["events"],
            rate_limits={"events": {"burst": 3, "steady": 12}},
            windows=windows,
            revision="2025-10-15",  # events by 200 a page: enough pages for the windows
        )
        result = sync(source, tmp_path, name)["events"]
        assert result.loaded == klaviyo_truth(brand, clock.now())["events"]
        assert server.requests(PREFIX) == result.pages > 8
        assert server.violations(PREFIX) == 0 == sim.violations


def test_a_client_ignoring_the_limits_gets_429s_with_retry_after(brand: Brand) -> None:
    clock = SimClock(brand.config.start_at + timedelta(days=3))
    sim = KlaviyoSimulator(brand, clock)
    headers = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2025-10-15"}
    with SandboxServer({PREFIX: sim}) as server, httpx.Client() as client:
        url = f"{server.url_for(PREFIX)}/api/metrics/"
        answers = []  # M: 10 a second, 150 a minute; a loaded machine may spread the
        for _ in range(200):  # first requests over two 1 s windows, never 200 over a minute
            answers.append(client.get(url, headers=headers))
            if answers[-1].status_code == 429:
                break
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and sim.violations >= len(throttled)
    error = throttled[0].json()["errors"][0]
    assert set(error) == {"id", "status", "code", "title", "detail", "source"}
    assert error["status"] == 429 and float(throttled[0].headers["Retry-After"]) > 0
    assert "RateLimit-Remaining" in answers[0].headers


def test_a_revoked_key_stops_at_once_and_keeps_the_cursor(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock], tmp_path: Path
) -> None:
    server, sim, clock = world
    name = f"kl{next(_names)}"
    source = open_source(server, name, streams=["events"])
    sync(source, tmp_path, name)
    destination = DuckDBDestination(tmp_path / "wh.duckdb")
    saved = destination.read_state(name, "events")
    sim.revoke_key()
    clock.advance(timedelta(days=1))
    requests = server.requests(PREFIX)
    with pytest.raises(TerminalTaskError) as caught:
        sync(source, tmp_path, name)
    message = str(caught.value)
    assert "401" in message and "API key" in message and name in message
    assert DEMO_API_KEY not in message
    assert server.requests(PREFIX) == requests + 1  # no retry storm
    assert destination.read_state(name, "events") == saved


def test_pages_are_fetched_ahead_in_order_and_stopping_stops_the_fetching(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock],
) -> None:
    server, sim, clock = world
    # revision 2025-10-15 pages events by 200: enough pages to fetch ahead of the reader
    source = open_source(server, f"kl{next(_names)}", streams=["events"], revision="2025-10-15")
    [stream] = source.streams()
    pages = source.read(stream, StreamState(), full_refresh=True)
    first = next(pages)
    assert isinstance(first, JsonPage) and len(first.records) == 200
    ahead = FETCH_AHEAD + 2  # this page, the decoded ones waiting, one held at the queue
    deadline = time.monotonic() + 10
    while server.requests(PREFIX) < ahead and time.monotonic() < deadline:
        time.sleep(0.01)  # the fetching thread asks for the following pages by itself
    pages.close()  # waits for the fetching thread to end
    # it went no further; closing may let the page held at the queue in, and the next be
    # asked for before the thread sees the stop (Prefetcher)
    assert server.requests(PREFIX) in (ahead, ahead + 1)
    times = [r["datetime"] for p in source.read(stream, StreamState()) for r in p.records]
    assert times == sorted(times) and len(times) == klaviyo_truth(sim.brand, clock.now())["events"]


def test_a_wrong_key_is_a_clear_terminal_error(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock], tmp_path: Path
) -> None:
    server, _, _ = world
    name = f"kl{next(_names)}"
    source = open_source(server, name, streams=["profiles"], api_key="pk_not_a_real_key_123")
    with pytest.raises(TerminalTaskError, match="401"):
        sync(source, tmp_path, name)
    assert server.requests(PREFIX) == 1


def test_an_unsupported_revision_is_refused_before_any_request(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock],
) -> None:
    server, _, _ = world
    with pytest.raises(TerminalTaskError, match="revision: expected one of .*2023-02-22"):
        open_source(server, f"kl{next(_names)}", revision="2023-02-22")
    assert server.requests(PREFIX) == 0


def test_webhooks_deliver_new_events_signed(
    world: tuple[SandboxServer, KlaviyoSimulator, SimClock], brand: Brand
) -> None:
    _, sim, clock = world
    secret = "whsec-klaviyo-0123456789"

    def verify(headers: Mapping[str, str], body: bytes) -> bool:
        return verify_klaviyo_webhook(secret, body, dict(headers))

    with WebhookReceiver(verify) as receiver:
        url = receiver.url
        start = sim.model.count_until(clock.now())
        clock.advance(timedelta(days=1))
        delivered = sim.deliver_webhooks(url, secret)
        assert delivered == sim.model.count_until(clock.now()) - start > 0
        assert sim.deliver_webhooks(url, secret) == 0  # nothing new: nothing sent again
        assert sim.deliver_webhooks(url, "a-different-secret-000") == 0
        clock.advance(timedelta(hours=6))
        assert sim.deliver_webhooks(url, "a-different-secret-000") == 0  # refused …
        assert any(not ok for _, _, ok in receiver.deliveries)
        assert sim.deliver_webhooks(url, secret) > 0  # … and sent again once accepted
    received = [
        item for _, body, ok in receiver.deliveries if ok for item in orjson.loads(body)["data"]
    ]
    ids = [item["external_id"] for item in received]
    assert len(ids) == len(set(ids))
    placed = [item for item in received if item["topic"] == "event:shopify.placed_order"]
    assert placed and all(
        "$value" in p["payload"]["attributes"]["event_properties"] for p in placed
    )


def test_settings_are_checked_through_the_registry() -> None:
    assert connection_problems({"type": "klaviyo", "api_key": "pk_abc"}) == []
    problems = connection_problems({"type": "klaviyo", "revision": "soon", "api_key": "sk_x1"})
    assert any(p.startswith("revision:") for p in problems)
    assert any(p.startswith("api_key:") and "sk_x1" not in p for p in problems)
