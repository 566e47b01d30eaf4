"""The netsuite source against the NetSuite simulator over real sockets, into DuckDB.

A full sync and an incremental one after the clock moves must equal ``netsuite_truth``
and ``truth(brand, now, [WHOLESALE])`` to the cent, with no duplicate keys and no request
over the account's concurrency limit; then every fault class: 5xx bursts, resets,
truncated bodies and slow pages (survived), the concurrency limit (a source allowed more
than the account gets 429s and still finishes; one within it gets none), the row
ceiling (sliced under; a source that ignores it fails on the real error), and a revoked
token (one terminal error naming the credential, the cursor left where it was).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, StreamResult, load_stream
from podium.connectors.registry import connection_problems
from podium.connectors.registry import open_source as open_registered
from podium.connectors.source import JsonPage, StreamState
from podium.connectors.sources.netsuite import NetSuiteSource, open_netsuite_source
from podium.errors import TerminalTaskError
from podium.sandbox import Faults, When
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig, Channel, truth
from podium.sandbox.clock import SimClock
from podium.sandbox.netsuite import NetSuiteSimulator, demo_connection, netsuite_truth
from podium.sandbox.server import SandboxServer

CEILING = 100  # the simulator's row ceiling here: slicing happens in every test
_names = itertools.count()
BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=60, seed=7))


@pytest.fixture
def clock() -> SimClock:
    return SimClock(BRAND.config.start_at + timedelta(days=40, hours=5))


@pytest.fixture
def sim(clock: SimClock) -> NetSuiteSimulator:
    return NetSuiteSimulator(BRAND, clock, row_ceiling=CEILING, concurrency_limit=4)


@pytest.fixture
def server(sim: NetSuiteSimulator) -> Iterator[SandboxServer]:
    with SandboxServer({"netsuite": sim}) as running:
        yield running


def open_source(server: SandboxServer, method: str = "tba", **changes: Any) -> NetSuiteSource:
    settings = demo_connection(server.url_for("netsuite"), method)
    del settings["type"]
    settings.update(page_size=25, max_rows_per_query=CEILING, retries=8, timeout="5s")
    settings.update(changes)
    name = f"erp{next(_names)}"  # caps are shared per connection name: keep tests apart
    return open_netsuite_source(name, settings, sleep=lambda s: None)


def sync(
    source: NetSuiteSource, tmp_path: Path, streams: tuple[str, ...] = ()
) -> dict[str, StreamResult]:
    destination = DuckDBDestination(tmp_path / "wh.duckdb")
    results = {}
    for stream in source.streams():
        if streams and stream.name not in streams:
            continue
        job = LoadJob(source, stream, destination, "erp", "raw_erp", tmp_path / "loads")
        results[stream.name] = load_stream(job)
    return results


def query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as db:
        return db.execute(sql).fetchall()


def check_against_truth(tmp_path: Path, clock: SimClock) -> None:
    expected = netsuite_truth(BRAND, clock.now())
    by_type = dict(
        (kind, (count, total))
        for kind, count, total in query(
            tmp_path,
            "SELECT type, count(*), sum(foreigntotal) FROM raw_erp.transactions GROUP BY type",
        )
    )
    for kind, name in (
        ("SalesOrd", "sales_orders"),
        ("CustInvc", "invoices"),
        ("CustCred", "credit_memos"),
    ):
        want = expected[name]
        assert by_type.get(kind, (0, Decimal("0.00"))) == (want["count"], want["total"]), kind
    refunds = sum((d.refunds for d in truth(BRAND, clock.now(), [Channel.WHOLESALE])), Decimal(0))
    assert expected["credit_memos"]["total"] == refunds  # credit memos are the brand's refunds
    lines = query(
        tmp_path,
        "SELECT transaction_type, count(*), sum(amount) FROM raw_erp.transaction_lines GROUP BY 1",
    )
    assert sum(n for _, n, _ in lines) == expected["lines"]["rows"]
    for kind, _, amount in lines:
        assert amount == expected["lines"][kind], kind
    for table, key in (("transactions", "id"), ("transaction_lines", "transaction, id"),
                       ("customers", "id"), ("items", "id"), ("inventory", "item, location")):  # fmt: skip
        dupes = query(tmp_path, f"SELECT count(*) - count(DISTINCT ({key})) FROM raw_erp.{table}")
        assert dupes == [(0,)], table
    assert query(tmp_path, "SELECT count(*) FROM raw_erp.customers") == [(expected["customers"],)]
    items = query(
        tmp_path, "SELECT count(*), count(*) FILTER (isinactive = 'T') FROM raw_erp.items"
    )
    assert items == [(expected["items"]["rows"], expected["items"]["inactive"])]
    inventory = query(tmp_path, "SELECT count(*), sum(quantityonhand) FROM raw_erp.inventory")
    assert inventory == [(expected["inventory"]["rows"], expected["inventory"]["on_hand"])]
    daily = query(
        tmp_path,
        "SELECT CAST(createddate AS DATE), count(*), sum(foreigntotal) FROM raw_erp.transactions "
        "WHERE type = 'SalesOrd' GROUP BY 1 ORDER BY 1",
    )
    want_daily = [
        (d.day, d.orders, d.gross)
        for d in truth(BRAND, clock.now(), [Channel.WHOLESALE])
        if d.orders
    ]
    assert daily == want_daily


def test_full_then_incremental_sync_equals_the_truth(
    server: SandboxServer, clock: SimClock, tmp_path: Path
) -> None:
    source = open_source(server)
    first = sync(source, tmp_path)
    check_against_truth(tmp_path, clock)
    assert first["transactions"].received > CEILING  # the read was sliced
    clock.advance(timedelta(days=15))
    before = server.requests("netsuite")
    second = sync(source, tmp_path)
    check_against_truth(tmp_path, clock)
    assert netsuite_truth(BRAND, clock.now())["credit_memos"]["count"] > 0
    assert second["transactions"].received < first["transactions"].received  # incremental
    assert second["transactions"].counts.updated > 0  # sales orders became billed
    sent = [path for _, path, _ in server.log("netsuite")[before:]]
    assert all("offset=" in p and int(p.rsplit("offset=", 1)[1]) < CEILING for p in sent)
    assert server.violations("netsuite") == 0
    source.close()


def test_oauth2_client_credentials_sync(
    server: SandboxServer, clock: SimClock, tmp_path: Path
) -> None:
    source = open_source(server, "oauth2")
    sync(source, tmp_path)
    check_against_truth(tmp_path, clock)
    tokens = [p for _, p, _ in server.log("netsuite") if p.endswith("/oauth2/v1/token")]
    assert len(tokens) == 1  # fetched once, cached for every page and stream


def test_generic_faults_are_survived(
    server: SandboxServer, clock: SimClock, tmp_path: Path
) -> None:
    server.set_faults(
        "netsuite",
        Faults(errors=When.every(5), error_burst=2, reset=When.every(11),
               truncate=When.every(7), slow=When.every(13), slow_seconds=0.05, seed=3),
    )  # fmt: skip
    source = open_source(server, timeout="2s")
    sync(source, tmp_path)
    clock.advance(timedelta(days=10))
    sync(source, tmp_path)
    check_against_truth(tmp_path, clock)
    statuses = {status for _, _, status in server.log("netsuite")}
    assert {0, 500, 502, 503}.issubset(statuses)


def read_in_parallel(sources: list[NetSuiteSource]) -> list[int]:
    counts = [0] * len(sources)

    def run(i: int) -> None:
        stream = sources[i].streams()[1]  # transaction_lines: the most pages
        pages = sources[i].read(stream, StreamState())
        counts[i] = sum(len(p.records) for p in pages if isinstance(p, JsonPage))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sources))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def test_the_concurrency_cap_keeps_under_the_account_limit(
    sim: NetSuiteSimulator, server: SandboxServer
) -> None:
    sim.latency = 0.01
    one = open_source(server, max_concurrent_requests=4)
    same = NetSuiteSource(one.name, one.config, open_source(server).client, one.cap)
    sources = [
        one,
        same,
        *(NetSuiteSource(one.name, one.config, one.client, one.cap) for _ in range(4)),
    ]
    counts = read_in_parallel(sources)
    assert len(set(counts)) == 1 and counts[0] > 0
    assert sim.violations == 0 and 2 <= sim.max_in_flight <= 4


def test_one_read_asks_for_the_pages_totalresults_promises_at_once(
    sim: NetSuiteSimulator, server: SandboxServer
) -> None:
    sim.latency = 0.02
    stream = open_source(server).streams()[1]  # transaction_lines: the most pages

    def rows(source: NetSuiteSource) -> list[Any]:
        pages = [p for p in source.read(stream, StreamState()) if isinstance(p, JsonPage)]
        return [r for p in pages for r in p.records]

    one_at_a_time = rows(open_source(server, max_concurrent_requests=1))
    assert sim.max_in_flight == 1 and len(one_at_a_time) > 4 * 25
    sim.max_in_flight = 0
    at_once = rows(open_source(server, max_concurrent_requests=3))
    assert at_once == one_at_a_time  # the same rows, in the same order, slices and all
    assert sim.max_in_flight == 3 and sim.violations == 0


def test_over_the_limit_is_answered_429_and_retried(
    sim: NetSuiteSimulator, server: SandboxServer
) -> None:
    sim.latency = 0.01
    settings = demo_connection(server.url_for("netsuite"))
    del settings["type"]
    settings.update(page_size=25, max_rows_per_query=CEILING, retries=40, max_concurrent_requests=8)
    # backoff really waits here (at most 20 ms a retry), so a thread cannot spin through
    # its attempts while the others hold every slot
    greedy = open_netsuite_source(
        f"erp{next(_names)}", settings, sleep=lambda s: time.sleep(min(s, 0.02))
    )
    sources = [
        NetSuiteSource(greedy.name, greedy.config, greedy.client, greedy.cap) for _ in range(8)
    ]
    counts = read_in_parallel(sources)
    assert len(set(counts)) == 1 and counts[0] > 0  # every read still complete
    assert sim.violations > 0
    assert any(status == 429 for _, _, status in server.log("netsuite"))


def test_a_source_that_ignores_the_ceiling_gets_the_real_error(server: SandboxServer) -> None:
    source = open_source(server, max_rows_per_query=100_000)
    stream = source.streams()[1]
    with pytest.raises(TerminalTaskError, match="INVALID_PARAMETER.*offset 100 is past"):
        list(source.read(stream, StreamState()))


@pytest.mark.parametrize(
    ("method", "names", "requests"),
    [("tba", "auth.token_id", 1), ("oauth2", "auth.client_id", 2)],  # oauth2: call + token
)
def test_a_revoked_token_is_terminal_once_and_keeps_the_cursor(
    sim: NetSuiteSimulator,
    server: SandboxServer,
    clock: SimClock,
    tmp_path: Path,
    method: str,
    names: str,
    requests: int,
) -> None:
    source = open_source(server, method)
    sync(source, tmp_path, ("transactions",))
    destination = DuckDBDestination(tmp_path / "wh.duckdb")
    saved = destination.read_state("erp", "transactions")
    assert saved is not None and saved["cursor"]
    clock.advance(timedelta(days=5))
    sim.revoke_token()
    before = server.requests("netsuite")
    with pytest.raises(TerminalTaskError) as caught:
        sync(source, tmp_path, ("transactions",))
    message = str(caught.value)
    assert names in message and ("INVALID_LOGIN" in message or "invalid_grant" in message)
    assert all(secret not in message for secret in source.config.secrets())
    assert server.requests("netsuite") - before == requests  # no retry storm
    assert destination.read_state("erp", "transactions") == saved


def test_the_registry_validates_and_opens_a_netsuite_connection(
    server: SandboxServer, tmp_path: Path
) -> None:
    settings = {**demo_connection(server.url_for("netsuite")), "dataset": "raw_erp"}
    assert connection_problems(settings) == []
    assert connection_problems({**settings, "max_concurrent_requests": 0}) == [
        "max_concurrent_requests: expected an integer >= 1, got 0"
    ]
    assert connection_problems({**settings, "concurrency": 2}) == []  # tasks, taken off first
    source = open_registered("erp_reg", settings, root=tmp_path, secrets=frozenset(), logger=None)
    assert [s.name for s in source.streams()] == [
        "transactions", "transaction_lines", "customers", "items", "inventory"
    ]  # fmt: skip
    source.close()


def test_an_account_showing_dates_day_first_still_equals_the_truth(
    clock: SimClock, tmp_path: Path
) -> None:
    """SuiteQL shows dates as the user's Date Format preference says (Oracle, "Using
    Datetime Fields"): ``5/2/2026`` is 5 February for a D/M/YYYY user. The source asks
    for ISO text (``TO_CHAR``), so the preference cannot shift a date or a cursor."""
    sim = NetSuiteSimulator(BRAND, clock, row_ceiling=CEILING, date_format="D/M/YYYY")
    with SandboxServer({"netsuite": sim}) as running:
        source = open_source(running)
        sync(source, tmp_path)
        check_against_truth(tmp_path, clock)
        clock.advance(timedelta(days=15))
        sync(source, tmp_path)
        check_against_truth(tmp_path, clock)
        source.close()
