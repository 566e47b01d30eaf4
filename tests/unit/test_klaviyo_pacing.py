"""The klaviyo source's token buckets never break the simulator's fixed windows."""

from __future__ import annotations

import pytest

from podium.connectors.ratelimit import TokenBucket
from podium.connectors.sources.klaviyo.endpoints import REPORTS, TIERS, Limit, pacing
from podium.sandbox.klaviyo.limits import FixedWindows, Tier


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("limit", [*TIERS.values(), REPORTS], ids=[*TIERS, "REPORTS"])
@pytest.mark.parametrize("windows", [(1.0, 60.0), (0.05, 0.5)])
def test_a_greedy_client_stays_inside_both_windows(
    limit: Limit, windows: tuple[float, float]
) -> None:
    time = FakeTime()
    rate, burst = pacing(limit, windows)
    bucket = TokenBucket(rate, burst, clock=time.clock, sleep=time.sleep)
    server = FixedWindows({"x": Tier(limit.burst, limit.steady)}, windows, clock=time.clock)
    sent = 0
    while time.now < 1000.0 + 3 * windows[1]:  # three steady windows, as fast as allowed
        bucket.acquire()
        time.now += 1e-4  # the request travels
        assert server.check("x").allowed, f"request {sent + 1} at {time.now:.3f}"
        sent += 1
    allowed = 3 * windows[1] * min(limit.steady / windows[1], limit.burst / windows[0])
    assert sent >= 0.5 * allowed  # and it is not needlessly slow either


def test_pacing_uses_most_of_the_steady_allowance() -> None:
    rate, burst = pacing(TIERS["XL"])
    assert 45 < rate < 3500 / 60 and 200 < burst < 350
