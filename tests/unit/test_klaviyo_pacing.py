"""The klaviyo source's pacing never breaks the simulator's fixed windows."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from podium.connectors.budgets import budgets_in
from podium.connectors.ratelimit import SharedLimit, TokenBucket, shared_limiter
from podium.connectors.sources.klaviyo.endpoints import REPORTS, TIERS, Limit, pacing
from podium.connectors.sources.klaviyo.pacing import WindowPacer, window_pacer
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


@pytest.mark.parametrize("limit", [*TIERS.values(), REPORTS], ids=[*TIERS, "REPORTS"])
@pytest.mark.parametrize("windows", [(1.0, 60.0), (0.05, 0.5)])
@pytest.mark.parametrize("offset", [0.0, 0.37, 0.999])  # where the server's windows start
def test_the_window_pacer_stays_inside_both_windows_and_uses_most_of_them(
    limit: Limit, windows: tuple[float, float], offset: float
) -> None:
    time = FakeTime()
    time.now += offset * windows[0]
    pacer = window_pacer(limit, windows, clock=time.clock, sleep=time.sleep)
    server = FixedWindows({"x": Tier(limit.burst, limit.steady)}, windows, clock=time.clock)
    started, sent = time.now, 0
    while time.now < started + 3 * windows[1]:  # three steady windows, as fast as allowed
        pacer.acquire()
        time.now += 1e-4  # the request travels
        assert server.check("x").allowed, f"request {sent + 1} at {time.now:.3f}"
        sent += 1
    steady, burst = (max(1, int(0.85 * n)) for n in (limit.steady, limit.burst))
    per_steady = min(steady, burst * round(windows[1] / windows[0]))
    assert sent >= 3 * per_steady  # 85 % of the binding window, none left unused


def test_the_window_pacer_lets_a_burst_go_at_once_up_to_85_percent_of_a_window() -> None:
    time = FakeTime()
    pacer = window_pacer(TIERS["XL"], clock=time.clock, sleep=time.sleep)
    for _ in range(297):  # 85 % of 350 a second: no wait
        pacer.acquire()
    assert time.now == 1000.0
    pacer.acquire()  # the 298th waits until the first is a second old
    assert time.now == pytest.approx(1001.0)
    for _ in range(2975 - 298):  # 85 % of 3500 a minute, 297 a second
        pacer.acquire()
    assert time.now == pytest.approx(1010.0)
    pacer.acquire()  # the 2976th waits until the first is a minute old
    assert time.now == pytest.approx(1060.0)


def test_the_window_pacer_reserves_in_turn_for_concurrent_callers() -> None:
    slept: list[float] = []
    clock = FakeTime()
    pacer = WindowPacer([(2, 1.0)], bucket=lambda: TokenBucket(1.0), clock=clock.clock,
                        sleep=slept.append)  # fmt: skip
    for _ in range(6):  # six callers at the same instant: two a second, in turn
        pacer.acquire()
    assert slept == [1.0, 1.0, 2.0, 2.0]


def test_under_a_budget_store_the_pacer_shares_as_the_single_token_bucket(
    tmp_path: Path,
) -> None:
    alone = shared_limiter("t:kl-alone", partial(window_pacer, TIERS["XL"]))
    assert isinstance(alone, WindowPacer)
    with budgets_in(f"sqlite:///{tmp_path}/state.db"):
        shared = shared_limiter("t:kl-shared", partial(window_pacer, TIERS["XL"]), account="t:kl")
    assert isinstance(shared, SharedLimit) and isinstance(shared.local, TokenBucket)
    assert (shared.local.rate, shared.local.burst) == pacing(TIERS["XL"])
