"""The klaviyo source's pacing never breaks the simulator's fixed windows, and uses them
whole."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from time import monotonic
from time import sleep as _sleep

import pytest

from podium.connectors.budgets import SharedWindows, budgets_in
from podium.connectors.ratelimit import shared_limiter
from podium.connectors.sources.klaviyo.endpoints import REPORTS, TIERS, Limit
from podium.connectors.sources.klaviyo.pacing import WindowPacer, window_pacer
from podium.sandbox.klaviyo.limits import FixedWindows, Tier
from podium.store.database import Database


@dataclass
class Answer:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


ANSWER = Answer()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("limit", [*TIERS.values(), REPORTS], ids=[*TIERS, "REPORTS"])
@pytest.mark.parametrize("windows", [(1.0, 60.0), (0.05, 0.5)])
@pytest.mark.parametrize("offset", [0.0, 0.37, 0.999])  # where the server's windows start
def test_the_window_pacer_stays_inside_both_windows_and_uses_all_of_them(
    limit: Limit, windows: tuple[float, float], offset: float
) -> None:
    time = FakeTime()
    time.now += offset * windows[0]
    pacer = window_pacer(limit, windows, clock=time.clock, sleep=time.sleep)
    server = FixedWindows({"x": Tier(limit.burst, limit.steady)}, windows, clock=time.clock)
    started, sent = time.now, 0
    while time.now < started + 3 * windows[1]:  # three steady windows, as fast as allowed
        pacer.acquire()
        time.now += 1e-5  # the request travels
        assert server.check("x").allowed, f"request {sent + 1} at {time.now:.3f}"
        time.now += 1e-5  # and its answer
        pacer.observe(ANSWER)
        sent += 1
    per_steady = min(limit.steady, limit.burst * round(windows[1] / windows[0]))
    # each window loses about a round trip (2e-5 s), not a share of its limit
    assert sent >= 0.99 * 3 * per_steady


@pytest.mark.parametrize("seed", range(2))
def test_requests_counted_anywhere_between_sending_and_answer_stay_inside(seed: int) -> None:
    """Eight threads whose requests are counted up to 80 ms after they go and answered
    up to 80 ms after that, against a 100 ms burst window: no fixed window of the server
    holds more than its limit (a log of send times at the whole limit fails this), and the
    limit is used."""
    rand = random.Random(seed)
    limit, windows = Limit(4, 24), (0.1, 1.0)
    pacer = window_pacer(limit, windows)
    server = FixedWindows({"x": Tier(limit.burst, limit.steady)}, windows)
    refused: list[float] = []
    sent: list[float] = []
    stop = monotonic() + 1.5

    def client() -> None:
        while monotonic() < stop:
            pacer.acquire()
            _sleep(rand.uniform(0.0, 0.08))  # counted on arrival
            if not server.check("x").allowed:
                refused.append(monotonic())
            sent.append(monotonic())
            _sleep(rand.uniform(0.0, 0.08))  # the answer travels back
            pacer.observe(ANSWER)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    # half a steady window at least (≈ 30 go on a quiet machine; the fake-clock tests
    # above hold the pace to 99 %): this one is about the windows, not the pace
    assert len(sent) >= 12


def test_the_window_pacer_lets_a_whole_window_go_at_once() -> None:
    time = FakeTime()
    pacer = window_pacer(TIERS["XL"], clock=time.clock, sleep=time.sleep)
    for _ in range(350):  # 350 a second: no wait
        pacer.acquire()
    assert time.now == 1000.0
    pacer.acquire()  # the 351st waits until the first is a second old
    assert time.now == pytest.approx(1001.0)
    for _ in range(3500 - 351):  # 3500 a minute, 350 a second
        pacer.acquire()
    assert time.now == pytest.approx(1009.0)
    pacer.acquire()  # the 3501st waits until the first is a minute old
    assert time.now == pytest.approx(1060.0)


def test_a_request_another_thread_has_in_flight_is_waited_for() -> None:
    """One per 0.05 s: the second request waits for the first's answer, then 0.05 s."""
    pacer = WindowPacer([(1, 0.05)])
    answered: list[float] = []

    def first() -> None:
        pacer.acquire()
        _sleep(0.2)  # in flight for 0.2 s
        answered.append(monotonic())
        pacer.observe(ANSWER)

    thread = threading.Thread(target=first)
    thread.start()
    _sleep(0.02)
    pacer.acquire()
    went = monotonic()
    thread.join()
    assert went - answered[0] >= 0.05 - 1e-3


def test_the_window_pacer_reserves_in_turn_for_concurrent_callers() -> None:
    slept: list[float] = []
    clock = FakeTime()
    pacer = WindowPacer([(2, 1.0)], clock=clock.clock, sleep=slept.append)
    for _ in range(6):  # six callers at the same instant: two a second, in turn
        pacer.acquire()
    assert slept == [1.0, 1.0, 2.0, 2.0]


def test_under_a_budget_store_the_pacer_shares_the_stores_log(tmp_path: Path) -> None:
    alone = shared_limiter("t:kl-alone", partial(window_pacer, TIERS["XL"]))
    assert isinstance(alone, WindowPacer)
    with budgets_in(f"sqlite:///{tmp_path}/state.db"):
        shared = shared_limiter("t:kl-shared", partial(window_pacer, TIERS["XL"]), account="t:kl")
    assert isinstance(shared, SharedWindows) and isinstance(shared.local, WindowPacer)
    assert shared.windows == [(350, 1.0), (3500, 60.0)] and shared.key == "t:kl"
    for _ in range(3):
        shared.acquire()
        shared.observe(ANSWER)
    rows = (
        Database(f"sqlite:///{tmp_path}/state.db")
        .read()
        .fetchall(
            "SELECT seq, answered_at IS NOT NULL FROM rate_requests WHERE key = 't:kl' ORDER BY seq"
        )
    )
    assert [tuple(row) for row in rows] == [(0, 1), (1, 1), (2, 1)]
