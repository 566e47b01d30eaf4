"""One API budget per account across processes and hosts: rate limiters kept in the store.

A connection opened under ``budgets_in(store_url)`` (the extract task does it with its
project's store) gets, from ``shared_limiter``, a limiter whose bucket is a row of the
store's ``rate_budgets`` table (``podium.store.budgets``), so every engine, worker process
and host on that store spends one budget: two ``podium up`` loading one Shopify shop pace
together instead of each pacing alone.

    local limiter        its store-backed twin (``share``)
    TokenBucket          a bucket of ``burst`` tokens, ``rate`` a second; one per request
    AmazonRateLimit      the same, its rate following ``x-amzn-RateLimit-Limit``; a 429
                         empties the shared bucket, so every process waits
    ShopifyCallLimit     REST's call bucket, its level from ``X-Shopify-Shop-Api-Call-Limit``
    GraphqlCostLimit     GraphQL's cost bucket, from ``throttleStatus`` (shopify/graphql.py)
    WindowPacer          ``SharedWindows``: Klaviyo's burst and steady windows, paced by the
                         store's log of requests (``RateWindows``: when each went and when
                         its answer came) instead of a bucket

A limiter without ``share`` (a sliding window, a concurrency cap) stays per process.
Every answer's signals (the headers above, a 429 with ``Retry-After``, a query's refund)
settle into the row at once, so every process learns them.

The key names the account, never its secret: ``account_key("shopify", host, token)``
keeps a hash of the token. The level keeps a margin of ``JITTER`` seconds of restore
below what the server holds, for requests that reach it later than they were sent.

Without a store (a client built directly, ``podium extract`` on an in-memory store) the
local limiter paces, per process, as before. While the store is away a take is retried
with backoff for a few seconds; then the local limiter paces this process for
``OFFLINE_FOR`` seconds (logged once) and the store is tried again: an outage slows a
load down, it never fails it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from podium import clock as podium_clock
from podium.errors import StoreError, StoreUnavailableError
from podium.store.budgets import Learnt, RateBudgets, RateWindows, Shape
from podium.store.database import Database
from podium.store.outage import Backoff

Clock = Callable[[], float]
Sleep = Callable[[float], None]

JITTER = 0.05  # seconds of restore kept in hand for requests counted late by the server
POLL = 0.01  # the shortest wait before asking again for tokens not taken
MAX_POLL = 0.25  # the longest (a refund may land meanwhile)
TRIES = 4  # store attempts per take before pacing locally
OFFLINE_FOR = 30.0
_LOG = logging.getLogger("podium.budgets")
_T = TypeVar("_T")


def account_key(kind: str, *parts: str, secret: str = "") -> str:
    """A budget key for one API account: ``kind``, the public ``parts`` (a host, a
    region) and a short hash standing for ``secret`` (a token that tells apps apart)."""
    text = ":".join([kind, *parts])
    if secret:
        text += ":app=" + hashlib.sha256(secret.encode()).hexdigest()[:16]
    return text


class Binding:
    """One store's budgets as this process uses them: the database, opened once."""

    def __init__(self, url: str, *, clock: Clock = podium_clock.time, sleep: Sleep = time.sleep):
        self.url, self.clock, self.sleep = url, clock, sleep
        self._db: Database | None = None
        self._lock = threading.Lock()

    def budgets(self) -> RateBudgets:
        """The store's budgets; ``StoreUnavailableError`` while it is away."""
        return RateBudgets(self._database())

    def windows(self) -> RateWindows:
        """The store's log of windowed requests; ``StoreUnavailableError`` while away."""
        return RateWindows(self._database())

    def _database(self) -> Database:
        with self._lock:
            if self._db is None:
                self._db = Database(self.url)
            return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


_BINDINGS: dict[str, Binding] = {}
_BINDINGS_LOCK = threading.Lock()
_CURRENT: contextvars.ContextVar[Binding | None] = contextvars.ContextVar(
    "podium_budgets", default=None
)


def binding_for(url: str) -> Binding:
    """This process's one binding to the store at ``url``."""
    with _BINDINGS_LOCK:
        binding = _BINDINGS.get(url)
        if binding is None:
            binding = _BINDINGS[url] = Binding(url)
        return binding


def is_shareable(url: str | None) -> bool:
    """Whether a store at ``url`` can hold budgets other processes see (not in memory)."""
    return bool(url) and url not in ("sqlite://", "sqlite:///:memory:", "sqlite://:memory:")


@contextlib.contextmanager
def budgets_in(store: str | Binding | None) -> Iterator[None]:
    """Limiters made by ``shared_limiter`` inside share their budgets through ``store``
    (a URL or a ``Binding``); None or an in-memory store: per process, as without."""
    binding = store if isinstance(store, Binding) else None
    if isinstance(store, str) and is_shareable(store):
        binding = binding_for(store)
    reset = _CURRENT.set(binding)
    try:
        yield
    finally:
        _CURRENT.reset(reset)


def current_binding() -> Binding | None:
    return _CURRENT.get()


class SharedBucket:
    """One row of ``rate_budgets`` as one process sees it: ``take`` before a request,
    ``settle`` after its answer (per thread), and whether the store is reachable."""

    def __init__(
        self, binding: Binding, key: str, shape: Shape, *, sleep: Sleep | None = None
    ) -> None:
        self.binding, self.key, self.shape = binding, key, shape
        self._clock, self._sleep = binding.clock, sleep or binding.sleep
        self._local = threading.local()
        self._offline_until = 0.0

    def take(self, cost: float) -> bool:
        """Waits until ``cost`` tokens may be spent; False when the store is away (then
        the caller paces by its local limiter)."""
        if self._clock() < self._offline_until:
            return False
        while True:
            pending = float(getattr(self._local, "pending", 0.0))

            def take(settle: float = pending) -> tuple[bool, float]:
                return self.binding.budgets().take(
                    self.key, cost, self.shape, self._clock(), settle=settle
                )

            answer = from_store(take, self._sleep, self._go_offline)
            if answer is None:
                return False
            taken, wait = answer
            self._local.pending = 0.0
            if not taken:  # too little left, or another process is learning the size
                self._sleep(min(max(wait, POLL), MAX_POLL))
                continue
            self._local.pending = cost
            if wait > 0:
                self._sleep(wait)
            return True

    def settle(self, learnt: Learnt | None) -> None:
        """This thread's last request was answered; ``learnt``: what the answer said
        (None: nothing, so the settling waits for this thread's next take)."""
        pending = float(getattr(self._local, "pending", 0.0))
        if learnt is None or (pending <= 0 and self._clock() < self._offline_until):
            return
        self._local.pending = 0.0
        try:
            self.binding.budgets().settle(
                self.key, pending, learnt, self._clock(), queue=self.shape.queue
            )
        except (StoreUnavailableError, StoreError) as exc:
            self._go_offline(exc)

    def _go_offline(self, exc: Exception) -> None:
        self._offline_until = offline_until(self._clock(), self._offline_until, self.key, exc)


class Paced(Protocol):
    """What ``SharedWindows`` falls back on: a local limiter."""

    def acquire(self) -> None: ...

    def observe(self, response: Any) -> None: ...


class SharedWindows:
    """A ``WindowPacer``'s store-backed twin: every process on the store paces one log of
    the key's requests (``RateWindows``), each thread's request marked answered when its
    answer comes (or when the thread asks again: it has ended by then). While the store
    is away, ``local`` paces this process, as ``SharedBucket``'s callers do."""

    def __init__(
        self,
        binding: Binding,
        key: str,
        windows: list[tuple[int, float]],
        local: Paced,
        *,
        sleep: Sleep | None = None,
    ) -> None:
        self.binding, self.key, self.windows, self.local = binding, key, windows, local
        self._clock, self._sleep = binding.clock, sleep or binding.sleep
        self._mine = threading.local()
        self._offline_until = 0.0

    def acquire(self) -> None:
        if self._clock() < self._offline_until or not self._take():
            self.local.acquire()

    def observe(self, response: Any) -> None:
        self.local.observe(response)
        seq = getattr(self._mine, "seq", -1)
        if seq < 0 or self._clock() < self._offline_until:
            return
        self._mine.seq = -1
        try:
            self.binding.windows().answer(self.key, seq, self._clock())
        except (StoreUnavailableError, StoreError) as exc:
            self._go_offline(exc)

    def _take(self) -> bool:
        while True:
            answered: int = getattr(self._mine, "seq", -1)

            def take(done: int = answered) -> tuple[int | None, float]:
                return self.binding.windows().take(
                    self.key, self.windows, self._clock(), answered=done
                )

            answer = from_store(take, self._sleep, self._go_offline)
            if answer is None:
                return False
            seq, wait = answer
            self._mine.seq = -1
            if seq is None:  # a request that decides is in flight
                self._sleep(max(wait, POLL))
                continue
            self._mine.seq = seq
            if wait > 0:
                self._sleep(wait)
            return True

    def _go_offline(self, exc: Exception) -> None:
        self._offline_until = offline_until(self._clock(), self._offline_until, self.key, exc)


def from_store(
    action: Callable[[], _T], sleep: Sleep, offline: Callable[[Exception], None]
) -> _T | None:
    """``action()`` on the store, tried ``TRIES`` times with backoff while the store is
    away; None, after telling ``offline``, when it stays away."""
    backoff = Backoff(first=0.1, cap=2.0)
    for attempt in range(1, TRIES + 1):
        try:
            return action()
        except (StoreUnavailableError, StoreError) as exc:
            if attempt == TRIES:
                offline(exc)
            else:
                sleep(backoff.next())
    return None


def offline_until(now: float, until: float, key: str, exc: Exception) -> float:
    """When to try the store again after ``exc``; warns once per spell offline."""
    if now >= until:
        _LOG.warning(
            "rate budget %s: the store is unavailable (%s); this process paces by "
            "itself for %gs, then tries the store again",
            key,
            str(exc).split(";")[0],
            OFFLINE_FOR,
        )
    return now + OFFLINE_FOR


def margin(rate: float) -> float:
    """Tokens kept below the server's level: ``JITTER`` seconds of restore."""
    return rate * JITTER


class Shareable(Protocol):
    """A local limiter that has a store-backed twin."""

    def share(self, binding: Binding, key: str) -> object:
        """The limiter pacing ``key`` through ``binding``'s store, this one as fallback."""
        ...
