"""A workflow's daily deadline: a run of it must have succeeded by ``HH:MM`` local time.

Each local day has one deadline instant. The deadline of a day is met when a run of the
workflow (not a catch-up run) succeeded between that day's local midnight and the deadline;
otherwise the engine records ``SlaMissed`` once for that day. A deadline that falls in a
daylight-saving gap (02:30 on the day clocks jump from 02:00 to 03:00) is taken at the
instant the wall clock would have shown it before the jump (03:30 the new time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HH_MM = re.compile(r"(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)")


def time_problem(text: str) -> str | None:
    """Why ``text`` is not a time of day written ``HH:MM`` (24-hour), or None."""
    if _HH_MM.fullmatch(text.strip()):
        return None
    return f'{text!r} is not a time of day; write it HH:MM on a 24-hour clock, e.g. "07:00"'


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not a known IANA time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}; use an IANA name such as America/New_York"
    return None


@dataclass(frozen=True)
class Deadline:
    """``at`` (``HH:MM``) in ``timezone`` (an IANA name), every day."""

    at: str
    timezone: str = "UTC"

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _time(self) -> time:
        match = _HH_MM.fullmatch(self.at.strip())
        if match is None:
            raise ValueError(time_problem(self.at))
        return time(int(match["hour"]), int(match["minute"]))

    def on(self, day: date) -> datetime:
        """The deadline instant of local ``day``, in UTC."""
        return datetime.combine(day, self._time, tzinfo=self._zone).astimezone(UTC)

    def day_start(self, day: date) -> datetime:
        """Local midnight starting ``day``, in UTC: the start of that day's window."""
        return datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def latest_passed(self, moment: datetime) -> date:
        """The local day of the latest deadline at or before ``moment``."""
        day = self.local_day(moment)
        return day if self.on(day) <= moment else day - timedelta(days=1)

    def next_after(self, moment: datetime) -> datetime:
        """The first deadline instant after ``moment``, in UTC."""
        day = self.local_day(moment)
        while self.on(day) <= moment:
            day += timedelta(days=1)
        return self.on(day)

    def __str__(self) -> str:
        return f"{self.at} {self.timezone}"
