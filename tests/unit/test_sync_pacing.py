"""The sliding-window pacing a 3PL writer keeps (ShipBob counts 150 requests in any 60 s),
and Klaviyo's two windows at once (10 a second, 150 a minute), on a fake clock: never more
than the limit in a window, a burst goes out at once, and a 429 closes it for everyone."""

from __future__ import annotations

import pytest

from podium.syncs.destinations.pacing import SlidingWindowLimit, SlidingWindows, retry_after


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Answer:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers = status, headers


def test_no_window_ever_holds_more_than_the_limit() -> None:
    t = FakeTime()
    limit = SlidingWindowLimit(5, 60.0, margin=0.5, clock=t.clock, sleep=t.sleep)
    sent = []
    for _ in range(12):
        limit.acquire()
        sent.append(t.now)
        t.now += 1.0  # a request takes a second
    assert sent[:5] == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]
    assert sent[5] == 1060.5  # the first left the window (plus the margin)
    for i, at in enumerate(sent):
        assert sum(1 for other in sent[: i + 1] if other > at - 60.0) <= 5


def test_a_429_closes_the_window_for_its_retry_after() -> None:
    t = FakeTime()
    limit = SlidingWindowLimit(150, 60.0, clock=t.clock, sleep=t.sleep)
    limit.acquire()
    limit.observe(Answer(429, {"x-retry-after": "25"}))
    limit.acquire()
    assert t.now == 1025.0
    limit.observe(Answer(200, {"x-retry-after": "99"}))  # only a 429 closes it
    limit.acquire()
    assert t.now == 1025.0


def test_two_windows_let_a_burst_through_and_keep_both_limits() -> None:
    t = FakeTime()
    limit = SlidingWindows(((10, 1.0), (150, 60.0)), clock=t.clock, sleep=t.sleep)
    sent = []
    for _ in range(400):
        limit.acquire()
        sent.append(t.now)
        t.now += 0.001  # a request takes a millisecond
    assert sent[9] - sent[0] < 0.01 and t.slept[0] > 0.9  # ten at once, then a wait
    assert sent[10] - sent[0] == pytest.approx(1.05)  # the burst window plus its margin
    for i, at in enumerate(sent):
        assert sum(1 for other in sent[: i + 1] if other > at - 1.0) <= 10
        assert sum(1 for other in sent[: i + 1] if other > at - 60.0) <= 150
    assert sent[150] - sent[0] >= 60.0  # the 151st waits for the minute


def test_two_windows_close_together_on_a_429() -> None:
    t = FakeTime()
    limit = SlidingWindows(((10, 1.0), (150, 60.0)), clock=t.clock, sleep=t.sleep)
    limit.acquire()
    limit.observe(Answer(429, {"Retry-After": "3"}))
    limit.acquire()
    assert t.now == 1003.0
    limit.observe(Answer(429, {}))  # no Retry-After: the burst window, not the minute
    limit.acquire()
    assert t.now == 1004.0


def test_retry_after_reads_shipbobs_header_and_https() -> None:
    assert retry_after({"x-retry-after": "12"}) == 12.0
    assert retry_after({"Retry-After": "0.25"}) == 0.25
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
