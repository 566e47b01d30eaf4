"""Moving podium's clock in a test: "today" a year ahead, at any hour of the day.

``set_podium_clock(monkeypatch, moment)`` sets ``PODIUM_CLOCK_OFFSET`` for the test's own
process (the sandbox, in-process sources) and every podium subprocess it starts, so the
whole test lives at ``moment`` while the machine's clock stays where it is. The moments are
taken from the machine's date on purpose: the point is to land somewhere it is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from podium import clock

A_YEAR = timedelta(days=365)


def a_year_ahead(hour: int, minute: int = 30, years: int = 1) -> datetime:
    """``hour``:``minute`` UTC on the machine's date ``years`` from now (may be negative)."""
    day = datetime.now(UTC).date() + A_YEAR * years
    return datetime.combine(day, time(hour, minute), UTC)


def every_hour_a_year_ahead() -> list[pytest.param]:  # type: ignore[valid-type]
    """``(years, hour)`` for each hour of a day a year ahead (``+1y-HHh``), and noon a year
    behind (``-1y-12h``): a default that read the machine's clock instead of podium's would
    start after the brand's history there, where a year ahead it might still cover it."""
    ahead = [pytest.param((1, hour), id=f"+1y-{hour:02d}h") for hour in range(24)]
    return [*ahead, pytest.param((-1, 12), id="-1y-12h")]


def set_podium_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> datetime:
    """Make podium's "now" ``moment`` for this test; returns podium's now (just after)."""
    monkeypatch.setenv(clock.OFFSET_VARIABLE, repr(clock.shifted_to(moment)))
    now = clock.now()
    assert abs(now - moment) < timedelta(seconds=5), (now, moment)
    return now
