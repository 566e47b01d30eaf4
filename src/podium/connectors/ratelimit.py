"""Rate limits: how a client paces its requests, from a fixed budget or the server's signals.

The ``HttpClient`` calls ``acquire()`` before every attempt and ``observe(response)`` after
every response (a 429 included; the client itself then waits per ``Retry-After``).

    TokenBucket         a fixed rate and burst (``rate_limit: {requests_per_second, burst}``)
    ShopifyCallLimit    reads ``X-Shopify-Shop-Api-Call-Limit: 32/40`` (a leaky bucket) and,
                        through ``observe_graphql(body)``, GraphQL's ``throttleStatus``
    AmazonRateLimit     a token bucket whose rate follows ``x-amzn-RateLimit-Limit``

``shared_limiter(key, factory)`` hands every task of this process that uses the same
connection one limiter, so they spend one budget between them. Under ``budgets_in(store)``
(connectors/budgets.py) a limiter that can ``share`` comes as its store-backed twin
(``SharedLimit``), so every process on that store spends one budget per account. Each
limiter is thread-safe; clocks and sleeps are injectable so tests never wait.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from podium.connectors.budgets import Binding, SharedBucket, current_binding, margin
from podium.store.budgets import Learnt, Shape

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Observed(Protocol):
    """What a limiter may learn from: a response's status and headers."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class RateLimiter(Protocol):
    def acquire(self) -> None:
        """Block until one request may be sent."""

    def observe(self, response: Observed) -> None:
        """Learn from a response's headers (and a 429)."""


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved up; one token per request.

    A caller that finds the bucket empty reserves its token (the count goes negative) and
    sleeps outside the lock, so concurrent callers queue fairly instead of stampeding.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and burst >= 1")
        self.rate, self.burst = float(rate_per_s), float(burst)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._at = clock()

    def acquire(self) -> None:
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

    def observe(self, response: Observed) -> None:
        return None

    def share(self, binding: Binding, key: str) -> RateLimiter:
        shape = Shape(max(1.0, self.burst - margin(self.rate)), self.rate)
        return SharedLimit(
            SharedBucket(binding, key, shape, sleep=self._sleep), self, _learn_refusal
        )

    def set_rate(self, rate_per_s: float) -> None:
        with self._lock:
            self._refill()
            self.rate = max(float(rate_per_s), 1e-6)

    def drain(self) -> None:
        """Spend everything saved: the next request waits a full ``1 / rate``."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now


class ShopifyCallLimit:
    """Shopify REST's leaky bucket, tracked from ``X-Shopify-Shop-Api-Call-Limit``.

    The header says ``used/size``; the bucket leaks ``leak_per_s`` calls a second (2, 4 or
    20 by plan). ``acquire`` waits while sending would leave fewer than ``headroom`` free
    slots, and counts the call it lets through, so tasks sharing it do not overfill.
    """

    HEADER = "X-Shopify-Shop-Api-Call-Limit"

    def __init__(
        self,
        leak_per_s: float = 2.0,
        size: int = 40,
        *,
        headroom: int = 2,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.leak, self.size, self.headroom = float(leak_per_s), float(size), float(headroom)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._used, self._at = 0.0, clock()
        self._points: tuple[float, float, float] | None = None  # GraphQL (available, max, rate)
        self._points_at, self._cost = 0.0, 0.0

    def acquire(self) -> None:
        with self._lock:
            used = self._level()
            wait = max(0.0, (used + 1 - (self.size - self.headroom)) / self.leak)
            self._used = used + 1
            wait = max(wait, self._points_wait())
        if wait > 0:
            self._sleep(wait)

    def observe(self, response: Observed) -> None:
        value = _header(response.headers, self.HEADER)
        with self._lock:
            if value and "/" in value:
                used, _, size = value.partition("/")
                try:
                    self._used, self.size = float(used), float(size)
                except ValueError:
                    return
                self._at = self._clock()
            elif response.status == 429:
                self._used, self._at = self.size, self._clock()

    def share(self, binding: Binding, key: str) -> RateLimiter:
        room = max(1.0, self.size - self.headroom)
        shape = Shape(room, self.leak)

        def learn(response: Observed) -> Learnt | None:
            value = _header(response.headers, self.HEADER)
            if value and "/" in value:
                used, _, size = value.partition("/")
                with contextlib.suppress(ValueError):
                    room = max(1.0, float(size) - self.headroom)
                    return Learnt(available=room - float(used), capacity=room)
            return _learn_refusal(response)

        return SharedLimit(SharedBucket(binding, key, shape, sleep=self._sleep), self, learn)

    def observe_graphql(self, body: Any) -> None:
        """Learn from a GraphQL body's ``extensions.cost`` (points left, restore rate)."""
        cost = body.get("extensions", {}).get("cost", {}) if isinstance(body, dict) else {}
        status = cost.get("throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(status, dict):
            return
        with self._lock:
            self._points = (
                float(status.get("currentlyAvailable", 0)),
                float(status.get("maximumAvailable", 0)),
                float(status.get("restoreRate", 1)) or 1.0,
            )
            self._cost = float(cost.get("requestedQueryCost") or self._cost)
            self._points_at = self._clock()

    def _level(self) -> float:
        now = self._clock()
        level = max(0.0, self._used - (now - self._at) * self.leak)
        self._at = now
        return level

    def _points_wait(self) -> float:
        if self._points is None:
            return 0.0
        available, maximum, rate = self._points
        available = min(maximum, available + (self._clock() - self._points_at) * rate)
        return max(0.0, (self._cost - available) / rate)


class AmazonRateLimit:
    """SP-API's per-operation token bucket: the rate follows ``x-amzn-RateLimit-Limit``.

    SP-API sends no ``Retry-After`` with its 429 ``QuotaExceeded``; a 429 here empties the
    bucket, so the next request waits one full ``1 / rate`` (as Airbyte does).
    """

    HEADER = "x-amzn-RateLimit-Limit"

    def __init__(
        self,
        rate_per_s: float = 0.0167,
        burst: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.bucket = TokenBucket(rate_per_s, burst, clock=clock, sleep=sleep)

    def acquire(self) -> None:
        self.bucket.acquire()

    def observe(self, response: Observed) -> None:
        value = _header(response.headers, self.HEADER)
        if value:
            with contextlib.suppress(ValueError):
                self.bucket.set_rate(float(value))
        if response.status == 429:
            self.bucket.drain()

    def share(self, binding: Binding, key: str) -> RateLimiter:
        bucket = self.bucket
        shape = Shape(max(1.0, bucket.burst - margin(bucket.rate)), bucket.rate)

        def learn(response: Observed) -> Learnt | None:
            rate = None
            with contextlib.suppress(TypeError, ValueError):
                rate = float(_header(response.headers, self.HEADER))  # type: ignore[arg-type]
            refused = response.status == 429
            return Learnt(rate=rate, drain=refused) if rate or refused else None

        bucket_ = SharedBucket(binding, key, shape, sleep=bucket._sleep)
        return SharedLimit(bucket_, self, learn)


class SharedLimit:
    """A local limiter's store-backed twin: each request takes ``cost()`` tokens of the
    shared ``bucket``, each answer settles what ``learn`` makes of it. While the store is
    away, ``local`` paces (it hears every answer, so it knows what the server said)."""

    def __init__(
        self,
        bucket: SharedBucket,
        local: RateLimiter,
        learn: Callable[[Observed], Learnt | None],
        cost: Callable[[], float] = lambda: 1.0,
    ) -> None:
        self.bucket, self.local, self._learn, self._cost = bucket, local, learn, cost

    def acquire(self) -> None:
        if not self.bucket.take(self._cost()):
            self.local.acquire()

    def observe(self, response: Observed) -> None:
        self.local.observe(response)
        self.bucket.settle(self._learn(response))


def _learn_refusal(response: Observed) -> Learnt | None:
    """A 429: nothing is left, for every process, and for ``Retry-After`` seconds if the
    server said so."""
    if response.status != 429:
        return None
    value = _header(response.headers, "Retry-After") or ""
    pause = float(value) if value.strip().replace(".", "", 1).isdigit() else 0.0
    return Learnt(drain=True, pause=min(pause, 120.0))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


_SHARED: dict[str, RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(
    key: str, factory: Callable[[], RateLimiter], *, account: str | None = None
) -> RateLimiter:
    """The process-wide limiter for ``key`` (a connection), made by ``factory`` the first
    time: every task using that connection in this process spends one budget. Under
    ``budgets_in(store)`` it is shared through the store, keyed by ``account`` (the API
    account, no secret in it; default ``key``) when the limiter can ``share``."""
    binding = current_binding()
    if binding is not None:
        key = f"{binding.url}\n{account or key}"
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = factory()
            share = getattr(limiter, "share", None)
            if binding is not None and share is not None:
                limiter = share(binding, account or key.partition("\n")[2])
            _SHARED[key] = limiter
        return limiter
