"""One rate budget across processes: several processes hammer one store-backed bucket.

Each process (spawned, as ``podium up`` and Dask workers are) binds the store, makes the
limiter as a connector does (``shared_limiter`` under ``budgets_in``) and acquires from
several threads as fast as it may for a few seconds, noting each grant's time. Replaying
every grant of every process, in time order, through a token bucket of the configured
capacity and rate (the server's view) must refuse none, and the grants must use most of
what that bucket allows (``capacity + rate × elapsed``).
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from podium import clock
from podium.connectors.budgets import OFFLINE_FOR, TRIES, Binding, account_key, budgets_in
from podium.connectors.ratelimit import (
    AmazonRateLimit,
    SharedLimit,
    ShopifyCallLimit,
    TokenBucket,
    shared_limiter,
)
from podium.connectors.sources.klaviyo.endpoints import Limit
from podium.connectors.sources.klaviyo.pacing import window_pacer
from podium.connectors.sources.shopify.graphql import GraphqlCostLimit, SharedGraphqlCostLimit
from podium.store.budgets import RateBudgets
from podium.store.database import Database
from podium.syncs.destinations.pacing import SlidingWindowLimit

# timing-sensitive: make test runs it by itself, after the parallel pass (Makefile)
pytestmark = pytest.mark.alone

RATE, BURST = 150.0, 10.0
SECONDS = 3.0
PROCESSES, THREADS = 3, 3


def hammer(url: str, start: Any, seconds: float, threads: int, out: Any) -> None:
    """In a child process: grant times of ``threads`` threads acquiring from when the
    parent sets ``start`` (once every process is ready) for ``seconds``."""
    with budgets_in(url):
        limiter = shared_limiter("hammer", lambda: TokenBucket(RATE, BURST), account="hammer:acct")

    def loop(n: int, note: Callable[[float], None]) -> None:
        while True:
            limiter.acquire()
            now = clock.time()
            if now >= start.value + seconds:
                return
            note(now)

    in_threads(url, start, threads, out, loop)


def in_threads(
    url: str,
    start: Any,
    threads: int,
    out: Any,
    loop: Callable[[int, Callable[[float], None]], None],
) -> None:
    """In a child process: ``threads`` threads, each connected to the store first, run
    ``loop(n, note)`` from when the parent sets ``start``; what they ``note`` goes to
    ``out``, after "ready" once every thread is."""
    noted: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)

    def note(moment: float) -> None:
        with lock:
            noted.append(moment)

    def work(n: int) -> None:
        Database(url).read().fetchone("SELECT 1")  # connected before the start
        ready.wait()
        while start.value == 0 or clock.time() < start.value:
            time.sleep(0.001)
        loop(n, note)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    ready.wait()
    out.put("ready")
    for thread in pool:
        thread.join()
    out.put(noted)


def refusals(times: Sequence[float], capacity: float, rate: float, slack: float = 0.0) -> int:
    """How many of ``times`` a token bucket (full at the first) would have refused, with
    ``slack`` seconds of refill forgiven (the Amazon simulator forgives ``_SLACK_S``)."""
    tokens, at, refused = capacity, min(times, default=0.0), 0
    for moment in sorted(times):
        tokens = min(capacity, tokens + (moment - at) * rate)
        at = moment
        if tokens >= 1.0 - rate * slack - 1e-9:
            tokens -= 1.0
        else:
            refused += 1
    return refused


def race(target: Any, store_url: str) -> list[list[float]]:
    """What each of ``PROCESSES`` spawned processes running ``target`` (``hammer``'s
    arguments) reported, once all were ready and started together."""
    Database(store_url).close()  # migrated once, before the processes race to it
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start = context.Value("d", 0.0)
    children = [
        context.Process(target=target, args=(store_url, start, SECONDS, THREADS, out))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    assert [out.get(timeout=120) for _ in children] == ["ready"] * PROCESSES
    start.value = clock.time() + 0.2
    reported = [out.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
    return reported


def test_processes_sharing_a_bucket_never_overspend_it(store_url: str) -> None:
    granted = race(hammer, store_url)
    times = [t for per in granted for t in per]
    assert all(per for per in granted), "every process was granted some"
    assert refusals(times, BURST, RATE) == 0
    allowed = BURST + RATE * SECONDS
    utilisation = len(times) / allowed
    print(f"shared bucket: {len(times)} grants of {allowed:g} allowed ({utilisation:.0%})")
    assert utilisation >= 0.8, utilisation
    db = Database(store_url)
    try:
        level = RateBudgets(db).level("hammer:acct")
    finally:
        db.close()
    assert level is not None and level[1:3] == (BURST - RATE * 0.05, RATE)


WINDOWS = (0.1, 1.0)  # Klaviyo's burst and steady windows, shrunk
WINDOW_LIMIT = Limit(3, 12)


def hammer_windows(url: str, start: Any, seconds: float, threads: int, out: Any) -> None:
    """In a child process: the moments its requests were counted, each somewhere between
    its acquire and its answer (0–40 ms after going, answered 0–40 ms later), from
    ``threads`` threads pacing by Klaviyo's windows through the store."""
    with budgets_in(url):
        limiter = shared_limiter(
            "hammer-windows", lambda: window_pacer(WINDOW_LIMIT, WINDOWS), account="kl:acct"
        )

    def loop(seed: int, note: Callable[[float], None]) -> None:
        rand = random.Random(seed)
        while clock.time() < start.value + seconds:
            limiter.acquire()
            time.sleep(rand.uniform(0.0, 0.04))
            note(clock.time())  # counted
            time.sleep(rand.uniform(0.0, 0.04))
            limiter.observe(_Answer())

    in_threads(url, start, threads, out, loop)


class _Answer:
    status = 200
    headers: dict[str, str] = {}  # noqa: RUF012 - read only


def test_processes_sharing_klaviyos_windows_never_overflow_them(store_url: str) -> None:
    """Any ``limit + 1`` requests, however unevenly they travelled, were counted more than
    a window apart (so no fixed window, wherever it starts, holds more than the limit)
    and the steady window's limit is used."""
    counted = sorted(t for per in race(hammer_windows, store_url) for t in per)
    for most, seconds in ((WINDOW_LIMIT.burst, WINDOWS[0]), (WINDOW_LIMIT.steady, WINDOWS[1])):
        spans = [b - a for a, b in zip(counted, counted[most:], strict=False)]
        # (less 1 ms: the wall clock may be slewed against the monotonic one sleeps use)
        assert min(spans, default=seconds) >= seconds - 1e-3, (most, min(spans))
    # 12 a second for 3 s, less a round trip a window
    assert len(counted) >= 0.6 * WINDOW_LIMIT.steady * SECONDS, len(counted)


def test_without_a_store_each_process_paces_by_itself() -> None:
    """The fallback: no ``budgets_in`` (a client built directly), or an in-memory store."""
    with budgets_in("sqlite://"):
        limiter = shared_limiter("fallback", lambda: TokenBucket(RATE, BURST))
    assert isinstance(limiter, TokenBucket)
    assert isinstance(shared_limiter("fallback:2", lambda: TokenBucket(1, 1)), TokenBucket)


@pytest.mark.parametrize("rate", [RATE])
def test_refusals_counts_what_a_bucket_refuses(rate: float) -> None:
    assert refusals([0.0] * 10, 10, rate) == 0
    assert refusals([0.0] * 11, 10, rate) == 1
    assert refusals([0.0] * 10 + [0.5 / rate], 10, rate) == 1
    assert refusals([0.0] * 10 + [0.5 / rate], 10, rate, slack=0.5 / rate) == 0
    assert refusals([0.0] * 10 + [1 / rate], 10, rate) == 0


class Waits:
    """A sleep that moves a fake clock instead of waiting."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now, self.waits = now, []  # type: list[float]

    def clock(self) -> float:
        return self.now

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_a_store_outage_slows_a_load_down_and_never_fails_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens at the store's port: each take is tried ``TRIES`` times with
    backoff, then this process paces by its local limiter for ``OFFLINE_FOR`` seconds
    (warned once), then the store is tried again."""
    waits = Waits()
    binding = Binding("postgresql://podium@127.0.0.1:9/none", clock=waits.clock, sleep=waits)
    limiter = TokenBucket(RATE, BURST, clock=waits.clock, sleep=waits).share(binding, "down")
    with caplog.at_level("WARNING", logger="podium.budgets"):
        limiter.acquire()
        backoffs = len(waits.waits)
        for _ in range(5):
            limiter.acquire()  # local pacing: no store tries
        assert len(waits.waits) == backoffs == TRIES - 1
        waits.now += OFFLINE_FOR
        limiter.acquire()
    assert len(waits.waits) == 2 * (TRIES - 1)  # tried the store again
    warned = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warned) == 2 and "paces by itself" in warned[0].getMessage()


def test_a_store_outage_leaves_klaviyos_windows_to_the_local_pacer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits = Waits()
    binding = Binding("postgresql://podium@127.0.0.1:9/none", clock=waits.clock, sleep=waits)
    local = window_pacer(Limit(2, 10), clock=waits.clock, sleep=waits)
    limiter = local.share(binding, "down")
    with caplog.at_level("WARNING", logger="podium.budgets"):
        for _ in range(3):
            limiter.acquire()
            limiter.observe(_Answer())
    # the store tried TRIES times (backoffs between), then the local pacer: 2 a second
    assert len(waits.waits) == TRIES - 1 + 1 and waits.waits[-1] == pytest.approx(1.0)
    warned = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warned) == 1 and "down" in warned[0].getMessage()


def test_each_limiter_shares_through_the_store_or_stays_local(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    with budgets_in(url):
        bucket = shared_limiter("t:bucket", lambda: TokenBucket(5, 5), account="t:acct")
        amazon = shared_limiter("t:amazon", lambda: AmazonRateLimit(5, 5))
        call = shared_limiter("t:rest", lambda: ShopifyCallLimit(2.0))
        graphql = shared_limiter("t:graphql", GraphqlCostLimit)
        window = shared_limiter("t:window", lambda: SlidingWindowLimit(10, 1.0))
    assert isinstance(bucket, SharedLimit) and isinstance(amazon, SharedLimit)
    assert isinstance(call, SharedLimit)
    assert isinstance(graphql, SharedGraphqlCostLimit)
    assert isinstance(window, SlidingWindowLimit)  # no store-backed twin: per process
    bucket.acquire()
    db = Database(url)
    try:
        assert RateBudgets(db).level("t:acct") is not None
    finally:
        db.close()


def test_an_account_key_holds_no_secret() -> None:
    key = account_key("shopify", "brand.myshopify.com", secret="shpat_secret")
    assert key.startswith("shopify:brand.myshopify.com:app=") and "secret" not in key
    other = account_key("shopify", "brand.myshopify.com", secret="shpat_other")
    assert key != other
