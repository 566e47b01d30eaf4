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
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from podium import clock
from podium.connectors.budgets import budgets_in
from podium.connectors.ratelimit import TokenBucket, shared_limiter
from podium.store.budgets import RateBudgets
from podium.store.database import Database

RATE, BURST = 150.0, 10.0
SECONDS = 3.0
PROCESSES, THREADS = 3, 3


def hammer(url: str, start: Any, seconds: float, threads: int, out: Any) -> None:
    """In a child process: grant times of ``threads`` threads acquiring from when the
    parent sets ``start`` (once every process is ready) for ``seconds``."""
    with budgets_in(url):
        limiter = shared_limiter("hammer", lambda: TokenBucket(RATE, BURST), account="hammer:acct")
    times: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)

    def work() -> None:
        Database(url).read().fetchone("SELECT 1")  # connected before the start
        ready.wait()
        while start.value == 0 or clock.time() < start.value:
            time.sleep(0.001)
        while True:
            limiter.acquire()
            now = clock.time()
            if now >= start.value + seconds:
                return
            with lock:
                times.append(now)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    ready.wait()
    out.put("ready")
    for thread in pool:
        thread.join()
    out.put(times)


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


def test_processes_sharing_a_bucket_never_overspend_it(store_url: str) -> None:
    Database(store_url).close()  # migrated once, before the processes race to it
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start = context.Value("d", 0.0)
    children = [
        context.Process(target=hammer, args=(store_url, start, SECONDS, THREADS, out))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    assert [out.get(timeout=120) for _ in children] == ["ready"] * PROCESSES
    start.value = clock.time() + 0.2
    granted = [out.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
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
