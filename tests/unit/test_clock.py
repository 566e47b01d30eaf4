"""podium's clock: the machine's, shifted by PODIUM_CLOCK_OFFSET for every process."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from podium import clock
from podium.errors import UsageError


def test_without_an_offset_it_is_the_machine_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.OFFSET_VARIABLE, raising=False)
    before = time.time()
    assert before <= clock.time() <= time.time()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_an_offset_moves_it_and_shifted_to_lands_on_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(clock.OFFSET_VARIABLE, "-3600")
    assert abs(clock.now() - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=1)
    moment = datetime(2031, 2, 28, 23, 59, tzinfo=UTC)
    monkeypatch.setenv(clock.OFFSET_VARIABLE, repr(clock.shifted_to(moment)))
    assert abs(clock.now() - moment) < timedelta(seconds=1)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        clock.shifted_to(datetime(2031, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize("text", ["tomorrow", "nan", "inf", "1d"])
def test_an_offset_that_is_not_seconds_is_refused_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(clock.OFFSET_VARIABLE, text)
    with pytest.raises(UsageError, match=f"PODIUM_CLOCK_OFFSET='{text}': expected a number"):
        clock.now()
