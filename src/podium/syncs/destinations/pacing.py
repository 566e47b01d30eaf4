"""Pacing a writer to a sliding-window limit (ShipBob: 150 requests in any 60 seconds).

A token bucket lets a burst through after a quiet spell and then drips; a sliding window
counts what was sent in the last ``window`` seconds, which is what ShipBob counts, so a
writer that keeps its own window full but never over sees no 429 at all. A 429 still
closes the window for the server's ``x-retry-after`` (or ``Retry-After``) seconds, for
every writer sharing the limiter (``shared_limiter``: one per connection).

Klaviyo counts in fixed windows, a burst one (1 s) and a steady one (1 min) per endpoint:
``SlidingWindows`` keeps both at once. No fixed window can then hold more than its limit
(each is one of the sliding windows), yet a burst of ten job creates goes out at once
where a token bucket, whose rate must stay under the steady limit, spaces them out.

Clock and sleep are parameters: a test passes the sandbox's simulated clock, and a sleep
that moves it, so a run of hundreds of requests waits for nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence

from podium.connectors.ratelimit import Clock, Observed, Sleep

RETRY_HEADERS = ("x-retry-after", "Retry-After")


class SlidingWindowLimit:
    """At most ``limit`` acquisitions in any ``window`` seconds; ``margin`` seconds more
    are waited when the window is full, as the server counts a request a little later
    than the client sends it."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        margin: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a sliding window needs limit >= 1 and window > 0")
        self.limit, self.window, self.margin = limit, float(window), margin
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._closed_until = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                wait = self._wait(self._clock())
                if wait <= 0:
                    self._sent.append(self._clock())
                    return
            self._sleep(wait)

    def observe(self, response: Observed) -> None:
        if response.status != 429:
            return
        seconds = retry_after(response.headers)
        with self._lock:
            closed = self._clock() + (seconds if seconds is not None else self.window)
            self._closed_until = max(self._closed_until, closed)

    def _wait(self, now: float) -> float:
        """Seconds until one more request may go (≤ 0: now); the caller holds the lock."""
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        wait = self._closed_until - now
        if len(self._sent) >= self.limit:
            wait = max(wait, self._sent[0] + self.window - now + self.margin)
        return wait


class SlidingWindows:
    """At most ``limit`` acquisitions in any ``window`` seconds, for each ``(limit,
    window)`` of ``windows`` at once; a full window waits ``margin × window`` more (at
    most half a second), for the time between sending and being counted."""

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        margin: float = 0.05,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._windows = [
            SlidingWindowLimit(n, w, margin=min(0.5, margin * w), clock=clock, sleep=sleep)
            for n, w in windows
        ]
        if not self._windows:
            raise ValueError("SlidingWindows needs at least one window")
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = max(w._wait(now) for w in self._windows)
                if wait <= 0:
                    for w in self._windows:
                        w._sent.append(now)
                    return
            self._sleep(wait)

    def observe(self, response: Observed) -> None:
        """A 429 closes every window for its ``Retry-After``; without one, for the
        shortest window (the client's own backoff spaces any further 429s), not for a
        whole steady minute."""
        if response.status != 429:
            return
        seconds = retry_after(response.headers)
        if seconds is None:
            seconds = min(w.window for w in self._windows)
        with self._lock:
            closed = self._clock() + seconds
            for w in self._windows:
                w._closed_until = max(w._closed_until, closed)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait (ShipBob's ``x-retry-after``, HTTP's
    ``Retry-After`` in seconds), or None when it did not say."""
    for name in RETRY_HEADERS:
        value = headers.get(name) or headers.get(name.lower())
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None
