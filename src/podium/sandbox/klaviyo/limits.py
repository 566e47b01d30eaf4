"""Klaviyo's rate limits: fixed windows per endpoint, a burst (1 s) and a steady (1 min) one.

Each endpoint's limits are those its operation declares in Klaviyo's OpenAPI
(``x-klaviyo-ratelimit`` of revision 2026-07-15; a test compares them), which fall in
Klaviyo's tiers (requests per burst window / per steady window):

    XS 1/15   S 3/60   M 10/150   L 75/750   XL 350/3500

    profiles L   events XL   metrics M   lists L   campaigns M   flows S

    writes (keyed by operation id): profile create/update/import L; bulk import jobs
    (create, poll, errors, relationships) M; list members add/remove M, read L

The reporting endpoints (campaign/flow values reports) allow 1/s, 2/min and 225/day.
Limits are per account *and per endpoint*; a request over any window gets a 429 with
``Retry-After`` (seconds until that window resets) and is counted as a violation. Other
answers carry ``RateLimit-Limit``/``-Remaining``/``-Reset`` for the steady window.

Tests shrink the windows (``windows=(0.05, 1.0)``) instead of waiting real minutes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DAY = 86_400.0


@dataclass(frozen=True)
class Tier:
    burst: int  # requests per burst window
    steady: int  # requests per steady window
    daily: int | None = None  # requests per day, for the reporting endpoints


TIERS: dict[str, Tier] = {
    "XS": Tier(1, 15),
    "S": Tier(3, 60),
    "M": Tier(10, 150),
    "L": Tier(75, 750),
    "XL": Tier(350, 3500),
    "REPORTS": Tier(1, 2, 225),
}

# Which tier each simulated endpoint has (its name is the resource path segment).
ENDPOINT_TIERS: dict[str, str] = {
    "profiles": "L",
    "events": "XL",
    "metrics": "M",
    "lists": "L",
    "campaigns": "M",
    "flows": "S",
    "campaign-values-reports": "REPORTS",
    "flow-values-reports": "REPORTS",
    # the write side (write_api.py), keyed by Klaviyo's operation id
    "create_profile": "L",
    "update_profile": "L",
    "get_profile": "L",
    "create_or_update_profile": "L",
    "bulk_import_profiles": "M",
    "get_bulk_import_profiles_job": "M",
    "get_errors_for_bulk_import_profiles_job": "M",
    "get_profile_ids_for_bulk_import_profiles_job": "M",
    "get_list_ids_for_bulk_import_profiles_job": "M",
    "add_profiles_to_list": "M",
    "remove_profiles_from_list": "M",
    "get_profile_ids_for_list": "L",
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float  # seconds until the exceeded window resets (0 when allowed)
    limit: int  # the steady window's limit
    remaining: int  # left in the steady window after this request
    reset: float  # seconds until the steady window resets


class FixedWindows:
    """Counts requests per endpoint in aligned fixed windows; thread-safe."""

    def __init__(
        self,
        tiers: Mapping[str, Tier],
        windows: tuple[float, float] = (1.0, 60.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tiers, self.windows, self._clock = dict(tiers), windows, clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], tuple[int, int]] = {}  # → (window index, count)

    def check(self, endpoint: str) -> Verdict:
        """Count one request to ``endpoint`` and say whether it was within its limits."""
        tier = self.tiers[endpoint]
        now = self._clock()
        spans = [(tier.burst, self.windows[0]), (tier.steady, self.windows[1])]
        if tier.daily is not None:
            spans.append((tier.daily, DAY))
        with self._lock:
            counts = []
            for n, (limit, span) in enumerate(spans):
                window = math.floor(now / span)
                seen, count = self._counts.get((endpoint, n), (window, 0))
                count = count + 1 if seen == window else 1
                self._counts[(endpoint, n)] = (window, count)
                counts.append((count, limit, span))
        steady_count, steady_limit, steady_span = counts[1]
        reset = steady_span - now % steady_span
        over = [span - now % span for count, limit, span in counts if count > limit]
        return Verdict(
            allowed=not over,
            retry_after=max(over, default=0.0),
            limit=steady_limit,
            remaining=max(0, steady_limit - steady_count),
            reset=reset,
        )


def tiers_for(overrides: Mapping[str, Tier] | None = None) -> dict[str, Tier]:
    """Each endpoint's limits: its tier's, unless ``overrides`` names the endpoint."""
    tiers = {endpoint: TIERS[tier] for endpoint, tier in ENDPOINT_TIERS.items()}
    tiers.update(overrides or {})
    return tiers
