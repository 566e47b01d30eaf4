"""SimClock: the simulated "now" every simulator shows its data as of.

Tests and the demo move it forward (``advance``) so new orders appear, old ones change and
refunds land, and the next incremental sync has real work to do. It never moves by itself.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("SimClock needs an aware datetime (UTC)")
        self._now = now.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a SimClock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            if now.astimezone(UTC) < self._now:
                raise ValueError("a SimClock only moves forward")
            self._now = now.astimezone(UTC)
