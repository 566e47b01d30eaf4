"""The store's rate budgets (``rate_budgets``), on SQLite and PostgreSQL, time passed in:
a bucket row spends its burst then queues, learns from answers, and never errs high."""

from __future__ import annotations

import pytest

from podium.store.budgets import STALE, Learnt, RateBudgets, Shape
from podium.store.database import Database

T0 = 1_800_000_000.0
KEY = "test:acct:op"


class Budgets(RateBudgets):
    def wait(self, key: str, cost: float, shape: Shape, now: float) -> float | None:
        """The wait of a take that was granted; None when it was not."""
        taken, wait = self.take(key, cost, shape, now)
        return wait if taken else None


@pytest.fixture
def budgets(database: Database) -> Budgets:
    return Budgets(database)


def test_spends_the_burst_then_queues_each_taker_at_its_slot(budgets: Budgets) -> None:
    shape = Shape(capacity=3, rate=2)
    waits = [budgets.wait(KEY, 1, shape, T0) for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 1.0]  # the 4th waits one token, the 5th two
    for _ in range(5):
        budgets.settle(KEY, 1, Learnt(), T0 + 1)  # answered
    assert [budgets.wait(KEY, 1, shape, T0 + 10) for _ in range(4)] == [0, 0, 0, 0.5]


def test_refill_stops_below_what_is_still_in_flight(budgets: Budgets) -> None:
    """Tokens taken for requests not yet answered keep their place in the bucket: the
    level refills to ``capacity - inflight`` only, until they are settled."""
    shape = Shape(capacity=4, rate=1)
    for _ in range(4):
        budgets.wait(KEY, 1, shape, T0)
    level = budgets.level(KEY)
    assert level is not None and level[0] == 0 and level[3] == 4
    budgets.wait(KEY, 1, shape, T0 + 10)  # 10 s later, 4 still in flight: no refill above 0
    level = budgets.level(KEY)
    assert level is not None and level[0] == -1
    for _ in range(5):
        budgets.settle(KEY, 1, Learnt(), T0 + 10)
    assert budgets.wait(KEY, 1, shape, T0 + 20) == 0.0  # settled: refilled again


def test_in_flight_is_forgotten_after_a_quiet_spell(budgets: Budgets) -> None:
    shape = Shape(capacity=2, rate=1)
    budgets.wait(KEY, 2, shape, T0)  # taken, never answered (the process died)
    assert budgets.wait(KEY, 1, shape, T0 + STALE + 1) == 0.0


def test_an_answer_refunds_lowers_and_teaches_the_rate(budgets: Budgets) -> None:
    shape = Shape(capacity=1000, rate=50)
    assert budgets.wait(KEY, 600, shape, T0) == 0.0
    budgets.settle(KEY, 600, Learnt(charged=100, rate=100), T0)  # 500 refunded
    level = budgets.level(KEY)
    assert level is not None and level[0] == 900 and level[2] == 100
    budgets.settle(KEY, 0, Learnt(available=300), T0)  # another app spent: lowered
    level = budgets.level(KEY)
    assert level is not None and level[0] == 300
    budgets.settle(KEY, 0, Learnt(available=800), T0)  # a higher word never raises it
    level = budgets.level(KEY)
    assert level is not None and level[0] == 300


def test_a_refusal_drains_the_bucket_for_every_taker(budgets: Budgets) -> None:
    shape = Shape(capacity=10, rate=2)
    budgets.wait(KEY, 1, shape, T0)
    budgets.settle(KEY, 1, Learnt(drain=True, pause=3), T0)
    assert budgets.wait(KEY, 1, shape, T0) == pytest.approx(3.5)  # Retry-After, then a token


def test_an_unknown_bucket_lets_one_request_find_out_first(budgets: Budgets) -> None:
    unknown = Shape(capacity=1, rate=1, known=False)
    assert budgets.wait(KEY, 400, unknown, T0) == 0.0
    assert budgets.wait(KEY, 400, unknown, T0) is None  # ask again: one is finding out
    budgets.settle(KEY, 400, Learnt(charged=400, available=600, capacity=1000, rate=100), T0 + 0.1)
    assert budgets.wait(KEY, 400, unknown, T0 + 0.1) == 0.0
    assert budgets.wait(KEY, 400, unknown, T0 + 0.1) == pytest.approx(2.0)
    level = budgets.level(KEY)
    assert level is not None and level[1:3] == (1000, 100) and level[4]


def test_a_clock_behind_adds_nothing(budgets: Budgets) -> None:
    shape = Shape(capacity=1, rate=1)
    budgets.take(KEY, 1, shape, T0 + 5)
    budgets.settle(KEY, 1, Learnt(), T0 + 5)
    assert budgets.wait(KEY, 1, shape, T0 + 4) == pytest.approx(1.0)  # not 0: no refill


def test_a_bucket_that_does_not_queue_takes_nothing_short_and_spends_refunds_at_once(
    budgets: Budgets,
) -> None:
    shape = Shape(capacity=1000, rate=100, queue=False)
    assert budgets.take(KEY, 800, shape, T0) == (True, 0.0)
    assert budgets.take(KEY, 800, shape, T0) == (False, pytest.approx(6.0))  # nothing taken
    level = budgets.level(KEY)
    assert level is not None and level[0] == 200
    budgets.settle(KEY, 800, Learnt(charged=150), T0 + 1, queue=False)  # refund 650
    assert budgets.take(KEY, 800, shape, T0 + 1) == (True, 0.0)  # 200 + 100 + 650 = 950
    budgets.take(KEY, 100, shape, T0 + 1)
    assert budgets.take(KEY, 100, shape, T0 + 10) == (True, 0.0)  # in flight: no ceiling
