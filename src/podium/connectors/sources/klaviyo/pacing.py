"""Pacing inside Klaviyo's windows as Klaviyo counts them: a log of when requests went.

Klaviyo counts each endpoint's requests in fixed windows, a burst one (1 s) and a steady
one (1 min). ``WindowPacer`` keeps the send times of the last requests and lets one go
once fewer than ``most`` went in the ``seconds`` before it, for each window. Every
stretch of ``seconds`` then holds at most ``most`` requests, so a fixed window, which is
such a stretch, does too, wherever the server's windows start. ``most`` is 85 % of the
window's limit (at least one request), the rest left for requests that travel unevenly.

A single token bucket (``endpoints.pacing``) must take its rate from the steady window,
so it spent its burst and then went at 85 % of 3500/min: 550 event pages took five
seconds of pacing though Klaviyo allows 350 a second. The log lets a load use each
window's allowance when it needs it: those 550 pages are never held back.

Shared through a budget store (``budgets_in``), a pacer stands in for the single token
bucket that every process spends from, as before (the store keeps one bucket per
account); only a process pacing alone uses the log.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from podium.connectors.budgets import Binding
from podium.connectors.ratelimit import Observed, RateLimiter, TokenBucket
from podium.connectors.sources.klaviyo.endpoints import Limit, pacing

SHARE = 0.85  # of each window's limit


class WindowPacer:
    """At most ``most`` requests in any ``seconds``, for each ``(most, seconds)`` of
    ``windows``. Thread-safe: a caller reserves its send time under the lock and sleeps
    outside it, so concurrent callers go in turn."""

    def __init__(
        self,
        windows: list[tuple[int, float]],
        *,
        bucket: Callable[[], TokenBucket],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.windows = windows
        self._bucket, self._clock, self._sleep = bucket, clock, sleep
        self._sent = [deque[float](maxlen=most) for most, _ in windows]
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            at = now
            for (most, seconds), sent in zip(self.windows, self._sent, strict=True):
                if len(sent) == most:  # the oldest of the last `most` must be `seconds` ago
                    at = max(at, sent[0] + seconds)
            for sent in self._sent:
                sent.append(at)
        if at > now:
            self._sleep(at - now)

    def observe(self, response: Observed) -> None:
        return None  # a 429's Retry-After is waited out by the HttpClient

    def share(self, binding: Binding, key: str) -> RateLimiter:
        """The single token bucket's store-backed twin (see the module docstring)."""
        return self._bucket().share(binding, key)


def window_pacer(
    limit: Limit,
    windows: tuple[float, float] = (1.0, 60.0),
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WindowPacer:
    """The pacer for an endpoint of ``limit`` (``windows``: the burst and steady windows'
    lengths in seconds; tests shrink them)."""
    short, long = windows
    counts = [
        (max(1, math.floor(SHARE * limit.burst)), short),
        (max(1, math.floor(SHARE * limit.steady)), long),
    ]
    rate, burst = pacing(limit, windows)
    return WindowPacer(
        counts,
        bucket=lambda: TokenBucket(rate, burst, clock=clock, sleep=sleep),
        clock=clock,
        sleep=sleep,
    )
