"""Five-field cron schedules evaluated in an IANA time zone, correct across DST changes.

Syntax: ``minute hour day-of-month month day-of-week``. Each field takes ``*``, a number,
a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n`` (``a`` to the field's end), or a list
of these ``a,b-c,*/n``. Months take ``JAN``-``DEC`` and weekdays ``SUN``-``SAT`` (any case);
day-of-week is 0-7 where 0 and 7 are both Sunday (``FRI-SUN`` means Friday to Sunday).
Macros: ``@hourly @daily @midnight @weekly @monthly @yearly @annually``.

Day rule (Vixie cron): when both day-of-month and day-of-week are restricted, a day matches
if EITHER matches (``0 0 13 * FRI`` is every 13th and every Friday). As in Vixie cron, a
field that starts with ``*`` (``*``, ``*/2``) counts as unrestricted, so ``0 0 */2 * MON``
means odd-numbered days that are Mondays.

Daylight-saving rules, applied to local wall-clock times in ``timezone``:

* A wall-clock time that does not exist (spring forward; 02:30 on 2026-03-08 in
  America/New_York) fires once, at the instant the clock jumps (03:00 local). Several
  missing times (``*/15 2 * * *``) still fire only once at the jump.
* A wall-clock time that occurs twice (fall back; 01:30 on 2026-11-01 in America/New_York)
  fires once, on its first occurrence (fold=0) -- except for *hourly-or-faster* expressions,
  whose hour field is ``*`` or a step over all hours (``*/2``, ``0-23/3``). Those are about
  elapsed time and fire on both occurrences: ``0 * * * *`` fires at 01:00 EDT and 01:00 EST.
* Ticks strictly increase in UTC; no instant is emitted twice (a jump tick that coincides
  with a regular tick, e.g. 02:00 and 03:00 for ``0 * * * *``, is one tick).

Pure: no clock reads; every query takes the moment it is asked about, and every answer is
an aware UTC datetime. Zone rules come from :mod:`zoneinfo` (the ``tzdata`` package).
The search skips by field (month, day, hour, minute), never minute by minute over years.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Cron", "CronError"]

_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_LOOKBACK = timedelta(days=5 * 366)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MAX_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # index = month; Feb leap
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class CronError(ValueError):
    """A cron expression or time zone is invalid; the message names the field and the fix."""


@dataclass(frozen=True)
class _Spec:
    """One of the five fields: its name, its bounds and the names it accepts."""

    name: str
    low: int
    high: int  # the largest value a user may write
    star_high: int  # where ``*`` and ``a/n`` end (6 for day-of-week, so 7 is not doubled)
    names: Mapping[str, int]
    hint: str


_SPECS = (
    _Spec("minute", 0, 59, 59, {}, "0-59"),
    _Spec("hour", 0, 23, 23, {}, "0-23"),
    _Spec("day-of-month", 1, 31, 31, {}, "1-31"),
    _Spec("month", 1, 12, 12, {n: i + 1 for i, n in enumerate(_MONTH_NAMES)}, "1-12 or JAN-DEC"),
    _Spec("day-of-week", 0, 7, 6, {n: i for i, n in enumerate(_DAY_NAMES)}, "0-7 or SUN-SAT"),
)


@dataclass(frozen=True)
class _Fields:
    """A parsed expression: the allowed values of each field and the two special rules."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 = Sunday
    either_day: bool  # both day fields restricted: a day matches if either matches
    every_hour: bool  # hour field is * or a step over all hours: fire on both folds

    def matches_day(self, day: date) -> bool:
        in_days = day.day in self.days
        in_weekdays = day.isoweekday() % 7 in self.weekdays
        return in_days or in_weekdays if self.either_day else in_days and in_weekdays


@dataclass(frozen=True)
class Cron:
    """A cron schedule in a time zone. Build with :meth:`parse`; invalid input raises CronError."""

    expression: str
    timezone: str
    _fields: _Fields = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fields", _parse_expression(self.expression))
        object.__setattr__(self, "_zone", _load_zone(self.timezone))

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> Cron:
        return cls(expression, timezone)

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment`` (aware, any zone), in UTC."""
        for tick in self._ticks_after(moment):
            return tick
        raise CronError(f"'{self.expression}': no tick after {moment.isoformat()} before year 9999")

    def ticks_between(
        self, start: datetime, end: datetime, limit: int | None = None
    ) -> list[datetime]:
        """Ticks ``t`` with ``start < t <= end`` in UTC, ascending, at most ``limit`` of them."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, got {limit}")
        last = _as_utc(end)
        ticks: list[datetime] = []
        for tick in self._ticks_after(start):
            if tick > last or len(ticks) == limit:
                break
            ticks.append(tick)
        return ticks

    def previous_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest tick at or before ``moment``, looking back about 5 years; else None."""
        end = _as_utc(moment)
        span, clear = _HOUR, end  # invariant: no tick in (clear, end]
        while self.next_after(end - span) > end:
            if span >= _LOOKBACK:
                return None
            clear, span = end - span, min(span * 2, _LOOKBACK)
        low = end - span  # invariant: some tick in (low, end]
        while clear - low > _DAY:
            middle = low + (clear - low) / 2
            if self.next_after(middle) <= end:
                low = middle
            else:
                clear = middle
        return self.ticks_between(low, end)[-1]

    def _ticks_after(self, moment: datetime) -> Iterator[datetime]:
        """Every tick after ``moment`` in ascending UTC order, each instant once."""
        last = _as_utc(moment)
        wall = self._start_wall(last)
        while (found := _next_wall(self._fields, wall)) is not None:
            instants, wall = self._instants_from(found)
            for tick in instants:
                if tick > last:
                    yield tick
                    last = tick

    def _start_wall(self, moment: datetime) -> datetime:
        """The local minute to search from: ``moment``'s own, or for hourly-or-faster
        expressions inside a repeated hour, the start of that hour (its second occurrences
        may still lie ahead)."""
        wall = moment.astimezone(self._zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
        if self._fields.every_hour and self._is_repeated(wall):
            for _ in range(24 * 60):
                if not self._is_repeated(wall - _MINUTE):
                    break
                wall -= _MINUTE
        return wall

    def _instants_from(self, wall: datetime) -> tuple[list[datetime], datetime]:
        """The instants for the matching wall time ``wall`` and the wall time to go on from.

        A repeated stretch of an hourly-or-faster expression is taken whole: all first
        occurrences, then all second ones, so the instants come out in UTC order.
        """
        resolved = self._resolve(wall)
        if len(resolved) == 1:
            return list(resolved), wall + _MINUTE
        firsts, seconds, after = [resolved[0]], [resolved[1]], wall + _MINUTE
        while (nxt := _next_wall(self._fields, after, wall + _DAY)) is not None:
            more = self._resolve(nxt)
            if len(more) == 1:
                break
            firsts.append(more[0])
            seconds.append(more[1])
            after = nxt + _MINUTE
        return firsts + seconds, after

    def _resolve(self, wall: datetime) -> tuple[datetime, ...]:
        """The UTC instants at which the matching local wall time ``wall`` fires."""
        first, second = self._folds(wall)
        if first == second:
            return (first,)
        if first < second:  # repeated wall time (fall back)
            return (first, second) if self._fields.every_hour else (first,)
        return (self._jump(second, first),)  # missing wall time (spring forward)

    def _folds(self, wall: datetime) -> tuple[datetime, datetime]:
        """``wall`` read with the offset in force before (fold=0) and after (fold=1) a change."""
        first = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        return first, second

    def _is_repeated(self, wall: datetime) -> bool:
        first, second = self._folds(wall)
        return first < second

    def _jump(self, before: datetime, after: datetime) -> datetime:
        """The instant the clock jumps, between ``before`` (old offset) and ``after`` (new)."""
        low, high = int(before.timestamp()), int(after.timestamp())
        old = before.astimezone(self._zone).utcoffset()
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self._zone).utcoffset() == old:
                low = middle
            else:
                high = middle
        return datetime.fromtimestamp(high, UTC)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{moment.isoformat()} has no time zone; pass an aware datetime, "
            "e.g. datetime(2026, 1, 1, tzinfo=UTC)"
        )
    return moment.astimezone(UTC)


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(
            f"unknown time zone {name!r}; use an IANA name such as America/New_York"
        ) from None


# --- searching wall-clock time -------------------------------------------------------------


def _next_wall(fields: _Fields, start: datetime, limit: datetime | None = None) -> datetime | None:
    """The first local wall time at or after ``start`` (whole minutes) that every field
    matches, skipping whole months, days and hours that cannot match; None at ``limit``."""
    wall: datetime | None = start
    while wall is not None and (limit is None or wall < limit):
        if wall.month not in fields.months:
            wall = _next_month(fields.months, wall)
        elif (
            not fields.matches_day(wall.date())
            or (hour := _first_at_or_after(fields.hours, wall.hour)) is None
        ):
            wall = _next_day(wall)
        elif hour != wall.hour:
            wall = wall.replace(hour=hour, minute=0)
        elif (minute := _first_at_or_after(fields.minutes, wall.minute)) is None:
            wall = wall.replace(minute=0) + _HOUR
        else:
            return wall.replace(minute=minute)
    return None


def _first_at_or_after(values: tuple[int, ...], value: int) -> int | None:
    index = bisect.bisect_left(values, value)
    return values[index] if index < len(values) else None


def _next_month(months: tuple[int, ...], wall: datetime) -> datetime | None:
    month = _first_at_or_after(months, wall.month + 1)
    if month is not None:
        return datetime(wall.year, month, 1)
    if wall.year >= datetime.max.year:
        return None
    return datetime(wall.year + 1, months[0], 1)


def _next_day(wall: datetime) -> datetime | None:
    midnight = datetime(wall.year, wall.month, wall.day)
    return None if midnight.date() == date.max else midnight + _DAY


# --- parsing -------------------------------------------------------------------------------


def _parse_expression(expression: str) -> _Fields:
    text = expression.strip()
    if text.startswith("@"):
        text = _expand_macro(expression, text)
    parts = text.split()
    if len(parts) != 5:
        raise _error(
            expression,
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}; "
            "seconds and years are not supported",
        )
    values = [
        _parse_field(expression, part, spec) for part, spec in zip(parts, _SPECS, strict=True)
    ]
    fields = _Fields(
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=values[2],
        months=tuple(sorted(values[3])),
        weekdays=values[4],
        either_day=not parts[2].startswith("*") and not parts[4].startswith("*"),
        every_hour="," not in parts[1]
        and _item_span(expression, parts[1], _SPECS[1])[:2] == (0, 23),
    )
    _check_days_exist(expression, fields, day_star=parts[2].startswith("*"))
    return fields


def _expand_macro(expression: str, text: str) -> str:
    macro = _MACROS.get(text.lower())
    if macro is None:
        raise _error(expression, f"unknown macro; use one of {', '.join(_MACROS)}")
    return macro


def _parse_field(expression: str, text: str, spec: _Spec) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _error(expression, f"{spec.name} has an empty item in {text!r}")
        low, high, step = _item_span(expression, item, spec)
        values.update(range(low, high + 1, step))
    if spec.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


def _item_span(expression: str, item: str, spec: _Spec) -> tuple[int, int, int]:
    """``(low, high, step)`` for one list item: ``*``, ``a``, ``a-b``, with optional ``/n``."""
    base, slash, step_text = item.partition("/")
    step = _parse_step(expression, step_text, spec) if slash else 1
    if base == "*":
        return spec.low, spec.star_high, step
    if "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(expression, first, spec), _value(expression, last, spec, range_end=True)
        if low > high:
            raise _error(
                expression,
                f"{spec.name} range {base} runs backwards; write the smaller value first "
                f"(allowed {spec.hint})",
            )
        return low, high, step
    low = _value(expression, base, spec)
    return low, (spec.star_high if slash else low), step


def _parse_step(expression: str, text: str, spec: _Spec) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _error(expression, f"{spec.name} step {text!r} is not a number; write e.g. */5")
    step = int(text)
    if step < 1:
        raise _error(expression, f"{spec.name} step {step} must be at least 1")
    return step


def _value(expression: str, text: str, spec: _Spec, range_end: bool = False) -> int:
    named = spec.names.get(text.lower())
    if named is not None:
        return 7 if range_end and spec.name == "day-of-week" and named == 0 else named
    if not (text.isascii() and text.isdigit()):
        kind = "a number or a name" if spec.names else "a number"
        raise _error(expression, f"{spec.name} {text!r} is not {kind}; allowed {spec.hint}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise _error(expression, f"{spec.name} {value} is out of range {spec.low}-{spec.high}")
    return value


def _check_days_exist(expression: str, fields: _Fields, day_star: bool) -> None:
    """Reject day-of-month lists that no chosen month has (``0 0 30 2 *`` never fires)."""
    if fields.either_day or day_star:
        return
    if any(day <= _MAX_DAYS[month] for month in fields.months for day in fields.days):
        return
    months = ",".join(str(month) for month in fields.months)
    days = ",".join(str(day) for day in sorted(fields.days))
    raise _error(
        expression, f"day-of-month {days} never occurs in month {months}; it would never fire"
    )


def _error(expression: str, detail: str) -> CronError:
    return CronError(f"'{expression}': {detail}")
