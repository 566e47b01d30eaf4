"""Pacing inside Klaviyo's windows as Klaviyo counts them: a log of when requests went.

Klaviyo counts each endpoint's requests in fixed windows, a burst one (1 s) and a steady
one (1 min), up to the endpoint's whole limit in each. Klaviyo counts a request somewhere
between the moment the client sends it and the moment the client has its answer; a pacer
that kept a margin instead (85 % of each window, as this one did) left the rest unused:
the large brand's 669 pages of profiles, under the 750 a minute of tier L, waited a whole
minute for their last 32 pages.

``WindowPacer`` keeps, for each request, when it was let go and when its answer came
back (``observe``; the calling thread's request). The next request goes once, for each
window of ``most`` requests in ``seconds``, every request ``most`` or more before it has
been answered at least ``seconds`` ago. Then any ``most + 1`` requests are counted more
than ``seconds`` apart, however unevenly they travelled, so no fixed window holds more
than ``most``, wherever the server's windows start. What the pace loses to that is one
round trip per window, not a share of the limit.

An attempt that failed without an answer is closed when its thread asks again (it has
ended by then), else ``PATIENCE`` seconds after it went: a request still unanswered then
is taken as counted by then, as a server counts on arrival.

Under a budget store (``budgets_in``: a project's extract), every process on the store
paces one such log kept in the store (``budgets.SharedWindows``); this pacer paces its own
process while the store is away.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from podium.connectors.budgets import Binding, SharedWindows
from podium.connectors.ratelimit import Observed
from podium.connectors.sources.klaviyo.endpoints import Limit
from podium.store.budgets import PATIENCE  # unanswered that long: taken as counted


@dataclass
class _Request:
    sent: float
    answered: float | None = None


class WindowPacer:
    """At most ``most`` requests in any ``seconds`` as the server counts them, for each
    ``(most, seconds)`` of ``windows``. Thread-safe: a caller reserves its send time under
    the lock and sleeps outside it, so concurrent callers go in turn."""

    def __init__(
        self,
        windows: list[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.windows = windows
        self._clock, self._sleep = clock, sleep
        # the last requests, enough for the widest window, and per window the latest
        # answer among the requests that have fallen `most` behind
        self._requests = deque[_Request](maxlen=max(most for most, _ in windows))
        self._answered = [float("-inf")] * len(windows)
        self._lock = threading.Condition()
        self._mine = threading.local()

    def acquire(self) -> None:
        with self._lock:
            self._close_mine(self._clock())
            while (unanswered := self._unanswered()) is not None:
                self._wait_for(unanswered)  # others may go meanwhile: look again
            now = at = self._clock()
            for index, (most, seconds) in enumerate(self.windows):
                if len(self._requests) >= most:  # the request `most` back leaves the log
                    answered = self._requests[-most].answered
                    assert answered is not None
                    self._answered[index] = max(self._answered[index], answered)
                at = max(at, self._answered[index] + seconds)
            request = _Request(at)
            self._requests.append(request)
            self._mine.request = request
        if at > now:
            self._sleep(at - now)

    def observe(self, response: Observed) -> None:
        """The calling thread's request is answered (a 429's Retry-After is waited out by
        the HttpClient)."""
        with self._lock:
            self._close_mine(self._clock())
            self._lock.notify_all()

    def share(self, binding: Binding, key: str) -> SharedWindows:
        """The twin pacing ``key`` by the store's log, this pacer its fallback."""
        return SharedWindows(binding, key, self.windows, self, sleep=self._sleep)

    def _close_mine(self, now: float) -> None:
        """The calling thread's last request has ended by ``now``; the caller holds the
        lock."""
        request: _Request | None = getattr(self._mine, "request", None)
        if request is not None and request.answered is None:
            request.answered = max(now, request.sent)
        self._mine.request = None

    def _unanswered(self) -> _Request | None:
        """A request the next one must know the answer time of, still in flight."""
        for most, _ in self.windows:
            if len(self._requests) >= most and self._requests[-most].answered is None:
                return self._requests[-most]
        return None

    def _wait_for(self, request: _Request) -> None:
        """Until ``request`` is answered, ``PATIENCE`` after it went at the latest; the
        caller holds the lock (released while waiting)."""
        left = request.sent + PATIENCE - self._clock()
        if (left <= 0 or not self._lock.wait(timeout=left)) and request.answered is None:
            request.answered = max(self._clock(), request.sent)


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
    return WindowPacer([(limit.burst, short), (limit.steady, long)], clock=clock, sleep=sleep)
