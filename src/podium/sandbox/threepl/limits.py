"""ShipBob's rate limit: 150 requests a minute on a sliding window, per account.

Time is given to each ``check`` (seconds, from whatever clock the app is told to use; the
sandbox's own simulated clock by default), so a test decides exactly when the window
reopens. A request over the limit is refused and not counted; the answer says how long
until the oldest counted request leaves the window (ShipBob's ``x-retry-after``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

LIMIT = 150  # requests per window (ShipBob: 150 a minute)
WINDOW = 60.0  # seconds


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int  # calls left in the window after this one
    retry_after: int  # whole seconds until a call is allowed again (0 when allowed)


@dataclass
class SlidingWindow:
    limit: int = LIMIT
    window: float = WINDOW
    _times: deque[float] = field(default_factory=deque)

    def check(self, now: float) -> Verdict:
        """Counts one request at ``now`` if the window has room; callers hold the app's lock."""
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            wait = self._times[0] + self.window - now
            return Verdict(False, 0, max(1, math.ceil(wait)))
        self._times.append(now)
        return Verdict(True, self.limit - len(self._times), 0)
