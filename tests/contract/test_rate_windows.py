"""The store's log of windowed requests (``rate_requests``), on SQLite and PostgreSQL, time
passed in: a request goes once every request a window's limit before it was answered a
window ago; one still in flight is waited for, up to ``PATIENCE``."""

from __future__ import annotations

import pytest

from podium.store.budgets import PATIENCE, RateWindows
from podium.store.database import Database

T0 = 1_800_000_000.0
KEY = "test:klaviyo:acct:/api/profiles/"
WINDOWS = [(3, 1.0), (5, 60.0)]


@pytest.fixture
def windows(database: Database) -> RateWindows:
    return RateWindows(database)


def test_a_whole_window_goes_at_once_then_waits_for_the_answers(windows: RateWindows) -> None:
    taken = [windows.take(KEY, WINDOWS, T0) for _ in range(3)]
    assert [wait for _, wait in taken] == [0.0, 0.0, 0.0]
    assert [seq for seq, _ in taken] == [0, 1, 2]
    assert windows.take(KEY, WINDOWS, T0 + 0.1) == (None, pytest.approx(0.05))  # 0 in flight
    windows.answer(KEY, 0, T0 + 0.2)
    assert windows.take(KEY, WINDOWS, T0 + 0.3) == (3, pytest.approx(0.9))  # 0 answered + 1 s


def test_the_steady_window_counts_from_the_answer_a_limit_back(windows: RateWindows) -> None:
    now = T0
    for seq in range(5):
        got, wait = windows.take(KEY, WINDOWS, now)
        assert got == seq
        now += wait
        windows.answer(KEY, seq, now + 0.5)  # half a second on the way
        now += 0.5
    got, wait = windows.take(KEY, WINDOWS, now)
    # request 0 went at T0 and was answered at T0 + 0.5: the 6th goes a minute after that
    assert got == 5 and now + wait == pytest.approx(T0 + 60.5)


def test_an_earlier_request_of_the_caller_is_answered_by_its_next_take(
    windows: RateWindows,
) -> None:
    """A request that failed without an answer: the caller's next take closes it."""
    seq, _ = windows.take(KEY, [(1, 1.0)], T0)
    assert windows.take(KEY, [(1, 1.0)], T0 + 2.0, answered=seq) == (1, pytest.approx(1.0))


def test_a_request_unanswered_for_patience_is_taken_as_counted(windows: RateWindows) -> None:
    windows.take(KEY, [(1, 1.0)], T0)
    assert windows.take(KEY, [(1, 1.0)], T0 + PATIENCE - 1)[0] is None
    seq, wait = windows.take(KEY, [(1, 1.0)], T0 + PATIENCE)
    assert seq == 1 and wait == pytest.approx(1.0)


def test_old_requests_are_deleted_and_keys_are_apart(windows: RateWindows) -> None:
    now = T0
    for _ in range(50):
        seq, wait = windows.take(KEY, [(2, 1.0)], now)
        assert seq is not None
        now += wait
        windows.answer(KEY, seq, now)
    rows = windows.db.read().fetchone("SELECT count(*) FROM rate_requests WHERE key = ?", (KEY,))
    assert rows is not None and int(rows[0]) <= 4
    assert windows.take("other", [(2, 1.0)], now) == (0, 0.0)
