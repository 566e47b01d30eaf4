"""Cron parsing, matching and DST behaviour. Every instant is asserted in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from podium.core.cron import Cron, CronError

NEW_YORK = "America/New_York"
LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hhmm(ticks: list[datetime]) -> list[str]:
    return [tick.strftime("%H:%M") for tick in ticks]


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minute_field", "minutes"),
    [
        ("*", list(range(60))),
        ("7", [7]),
        ("10-13", [10, 11, 12, 13]),
        ("*/15", [0, 15, 30, 45]),
        ("10-40/10", [10, 20, 30, 40]),
        ("50/3", [50, 53, 56, 59]),
        ("1,5,40-42", [1, 5, 40, 41, 42]),
        ("5,5,1-6/5", [1, 5, 6]),
    ],
)
def test_minute_field_forms(minute_field: str, minutes: list[int]) -> None:
    cron = Cron.parse(f"{minute_field} 3 * * *")
    ticks = cron.ticks_between(utc(2026, 1, 1, 2, 59), utc(2026, 1, 1, 3, 59))
    assert [tick.minute for tick in ticks] == minutes


@pytest.mark.parametrize(
    ("month_field", "months"),
    [
        ("JAN", [1]),
        ("jan,Mar", [1, 3]),
        ("oct-DEC", [10, 11, 12]),
        ("*/4", [1, 5, 9]),
        ("FEB-dec/5", [2, 7, 12]),
    ],
)
def test_month_numbers_and_names(month_field: str, months: list[int]) -> None:
    ticks = Cron.parse(f"0 0 1 {month_field} *").ticks_between(utc(2025, 12, 31), utc(2026, 12, 31))
    assert [tick.month for tick in ticks] == months


@pytest.mark.parametrize(
    ("weekday_field", "days"),
    [
        ("MON-FRI", [5, 6, 7, 8, 9]),  # 2026-01-04 is a Sunday
        ("sat,SUN", [4, 10]),
        ("0", [4]),
        ("7", [4]),
        ("5-7", [4, 9, 10]),
        ("FRI-SUN", [4, 9, 10]),
        ("*/2", [4, 6, 8, 10]),
        ("1/2", [5, 7, 9]),
    ],
)
def test_weekday_numbers_and_names(weekday_field: str, days: list[int]) -> None:
    ticks = Cron.parse(f"0 12 * * {weekday_field}").ticks_between(utc(2026, 1, 4), utc(2026, 1, 11))
    assert [tick.day for tick in ticks] == days


@pytest.mark.parametrize(
    ("macro", "expansion"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@ANNUALLY", "0 0 1 1 *"),
    ],
)
def test_macros_match_their_expansion(macro: str, expansion: str) -> None:
    start, end = utc(2025, 6, 1), utc(2027, 6, 1)
    expected = Cron.parse(expansion).ticks_between(start, end)
    assert Cron.parse(macro).ticks_between(start, end) == expected
    assert expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 25 * * *", "'0 25 * * *': hour 25 is out of range 0-23"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
        ("0 0 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"),
        ("0 0 * *", "got 4"),
        ("", "got 0"),
        ("x * * * *", "minute 'x' is not a number; allowed 0-59"),
        ("0 0 * foo *", "month 'foo' is not a number or a name; allowed 1-12 or JAN-DEC"),
        (
            "0 0 * * funday",
            "day-of-week 'funday' is not a number or a name; allowed 0-7 or SUN-SAT",
        ),
        ("*/0 * * * *", "minute step 0 must be at least 1"),
        ("*/x * * * *", "minute step 'x' is not a number"),
        ("0 5-2 * * *", "hour range 5-2 runs backwards"),
        ("1,,2 * * * *", "minute has an empty item in '1,,2'"),
        ("-1 * * * *", "minute '' is not a number"),
        ("@reboot", "'@reboot': unknown macro; use one of @hourly"),
        ("0 0 30 2 *", "day-of-month 30 never occurs in month 2"),
        ("0 0 31 4,6 *", "day-of-month 31 never occurs in month 4,6"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        Cron.parse(expression)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("zone", ["Mars/Base", "", "../etc/passwd", "America"])
def test_unknown_time_zone(zone: str) -> None:
    with pytest.raises(CronError) as caught:
        Cron.parse("0 0 * * *", zone)
    assert str(caught.value) == (
        f"unknown time zone {zone!r}; use an IANA name such as America/New_York"
    )


def test_constructing_directly_validates_too() -> None:
    with pytest.raises(CronError):
        Cron("0 25 * * *", "UTC")
    assert Cron.parse("0 5 * * *", NEW_YORK) == Cron("0 5 * * *", NEW_YORK)
    assert len({Cron.parse("@daily"), Cron.parse("@daily")}) == 1


# --- next_after ----------------------------------------------------------------------------


def test_next_after_is_strictly_after() -> None:
    cron = Cron.parse("*/15 * * * *")
    assert cron.next_after(utc(2026, 5, 4, 10, 7)) == utc(2026, 5, 4, 10, 15)
    assert cron.next_after(utc(2026, 5, 4, 10, 15)) == utc(2026, 5, 4, 10, 30)
    almost = utc(2026, 5, 4, 10, 14) + timedelta(seconds=59, microseconds=999_999)
    assert cron.next_after(almost) == utc(2026, 5, 4, 10, 15)
    assert cron.next_after(utc(2026, 5, 4, 10, 15) + timedelta(microseconds=1)) == utc(
        2026, 5, 4, 10, 30
    )


def test_next_after_rolls_over_hour_day_month_and_year() -> None:
    assert Cron.parse("5 * * * *").next_after(utc(2026, 5, 4, 10, 6)) == utc(2026, 5, 4, 11, 5)
    assert Cron.parse("0 9 * * *").next_after(utc(2026, 5, 4, 9, 0)) == utc(2026, 5, 5, 9, 0)
    assert Cron.parse("0 0 31 * *").next_after(utc(2026, 4, 1)) == utc(2026, 5, 31)
    assert Cron.parse("@yearly").next_after(utc(2026, 12, 31, 23, 59)) == utc(2027, 1, 1)


def test_next_after_accepts_any_zone_and_answers_in_utc() -> None:
    tokyo = datetime(2026, 5, 4, 18, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 09:30 UTC
    tick = Cron.parse("0 10 * * *").next_after(tokyo)
    assert tick == utc(2026, 5, 4, 10, 0)
    assert tick.tzinfo is UTC


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        Cron.parse("@daily").next_after(datetime(2026, 1, 1))


def test_schedule_in_a_zone_fires_at_local_time() -> None:
    cron = Cron.parse("0 9 * * MON-FRI", NEW_YORK)
    # Friday 2026-01-09 14:00 UTC is 09:00 EST; next is Monday 2026-01-12.
    assert cron.next_after(utc(2026, 1, 9, 14)) == utc(2026, 1, 12, 14)
    assert cron.next_after(utc(2026, 7, 10, 13)) == utc(2026, 7, 13, 13)  # EDT


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # January 2026: the 13th is a Tuesday; Fridays are the 2nd, 9th, 16th, 23rd and 30th.
    either = Cron.parse("0 0 13 * FRI").ticks_between(utc(2025, 12, 31), utc(2026, 1, 31))
    assert [tick.day for tick in either] == [2, 9, 13, 16, 23, 30]
    march = Cron.parse("0 0 1 3 MON").ticks_between(utc(2026, 2, 28), utc(2026, 3, 31))
    assert [tick.day for tick in march] == [1, 2, 9, 16, 23, 30]


def test_day_fields_combine_with_and_when_one_is_a_star() -> None:
    fridays = Cron.parse("0 0 * * FRI").ticks_between(utc(2025, 12, 31), utc(2026, 1, 31))
    assert [tick.day for tick in fridays] == [2, 9, 16, 23, 30]
    thirteenths = Cron.parse("0 0 13 * *").ticks_between(utc(2025, 12, 31), utc(2026, 1, 31))
    assert [tick.day for tick in thirteenths] == [13]
    # Vixie: a day field starting with '*' counts as unrestricted, so */2 + MON is an AND.
    odd_mondays = Cron.parse("0 0 */2 * MON").ticks_between(utc(2026, 2, 28), utc(2026, 4, 30))
    assert [(tick.month, tick.day) for tick in odd_mondays] == [(3, 9), (3, 23), (4, 13), (4, 27)]


def test_february_29_waits_for_a_leap_year() -> None:
    cron = Cron.parse("0 0 29 2 *")
    assert cron.next_after(utc(2026, 3, 1)) == utc(2028, 2, 29)
    assert cron.next_after(utc(2096, 2, 29)) == utc(2104, 2, 29)  # 2100 is not a leap year


# --- daylight saving -----------------------------------------------------------------------
# New York 2026: clocks go 02:00 EST -> 03:00 EDT on Mar 8 (07:00 UTC) and
# 02:00 EDT -> 01:00 EST on Nov 1 (06:00 UTC). London 2026: 01:00 GMT -> 02:00 BST on
# Mar 29 (01:00 UTC) and 02:00 BST -> 01:00 GMT on Oct 25 (01:00 UTC).


def test_new_york_missing_time_fires_at_the_jump() -> None:
    ticks = Cron.parse("30 2 * * *", NEW_YORK).ticks_between(utc(2026, 3, 7), utc(2026, 3, 10))
    assert ticks == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]


def test_several_missing_times_fire_once() -> None:
    ticks = Cron.parse("*/15 2 * * *", NEW_YORK).ticks_between(utc(2026, 3, 8), utc(2026, 3, 9))
    assert ticks == [utc(2026, 3, 8, 7, 0)]


def test_new_york_spring_forward_leaves_existing_times_alone() -> None:
    ticks = Cron.parse("30 1 * * *", NEW_YORK).ticks_between(utc(2026, 3, 7), utc(2026, 3, 10))
    assert ticks == [utc(2026, 3, 7, 6, 30), utc(2026, 3, 8, 6, 30), utc(2026, 3, 9, 5, 30)]


def test_new_york_hourly_spring_forward() -> None:
    cron = Cron.parse("0 * * * *", NEW_YORK)
    ticks = cron.ticks_between(utc(2026, 3, 8, 4, 30), utc(2026, 3, 8, 8, 30))
    assert hhmm(ticks) == ["05:00", "06:00", "07:00", "08:00"]  # 00, 01 EST; 03, 04 EDT
    # A minute inside the missing hour is also a missing time: it fires at the jump.
    half = Cron.parse("30 * * * *", NEW_YORK)
    ticks = half.ticks_between(utc(2026, 3, 8, 5), utc(2026, 3, 8, 8))
    assert hhmm(ticks) == ["05:30", "06:30", "07:00", "07:30"]


def test_new_york_repeated_time_fires_on_first_occurrence_only() -> None:
    cron = Cron.parse("30 1 * * *", NEW_YORK)
    ticks = cron.ticks_between(utc(2026, 10, 31), utc(2026, 11, 3))
    assert ticks == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    # Asked during the second 01:xx (01:10 EST = 06:10 UTC), today's run is already done.
    assert cron.next_after(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)


def test_new_york_hourly_fires_on_both_occurrences() -> None:
    cron = Cron.parse("0 * * * *", NEW_YORK)
    ticks = cron.ticks_between(utc(2026, 11, 1, 3, 30), utc(2026, 11, 1, 7, 30))
    assert hhmm(ticks) == ["04:00", "05:00", "06:00", "07:00"]  # 00, 01 EDT; 01, 02 EST
    # From inside the first 01:xx, the second 01:00 is still ahead.
    assert cron.next_after(utc(2026, 11, 1, 5, 45)) == utc(2026, 11, 1, 6, 0)
    assert cron.next_after(utc(2026, 11, 1, 6, 0)) == utc(2026, 11, 1, 7, 0)


def test_sub_hourly_ticks_stay_in_utc_order_through_the_repeated_hour() -> None:
    cron = Cron.parse("*/30 * * * *", NEW_YORK)
    ticks = cron.ticks_between(utc(2026, 11, 1, 4, 45), utc(2026, 11, 1, 7, 0))
    assert hhmm(ticks) == ["05:00", "05:30", "06:00", "06:30", "07:00"]
    assert cron.next_after(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 6, 30)


def test_london_spring_forward() -> None:
    missing = Cron.parse("30 1 * * *", LONDON).ticks_between(utc(2026, 3, 28), utc(2026, 3, 31))
    assert missing == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    after = Cron.parse("30 2 * * *", LONDON).ticks_between(utc(2026, 3, 28), utc(2026, 3, 31))
    assert after == [utc(2026, 3, 28, 2, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 1, 30)]
    hourly = Cron.parse("0 * * * *", LONDON)
    ticks = hourly.ticks_between(utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 2, 30))
    assert hhmm(ticks) == ["00:00", "01:00", "02:00"]  # 00:00 GMT; 02:00 and 03:00 BST


def test_london_fall_back() -> None:
    daily = Cron.parse("30 1 * * *", LONDON).ticks_between(utc(2026, 10, 24), utc(2026, 10, 27))
    assert daily == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    hourly = Cron.parse("0 * * * *", LONDON)
    ticks = hourly.ticks_between(utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 2, 30))
    assert hhmm(ticks) == ["23:00", "00:00", "01:00", "02:00"]  # 00, 01 BST; 01, 02 GMT


def test_hour_step_counts_as_hourly_for_the_repeated_hour() -> None:
    # London repeats 01:xx on Oct 25: 01:15 BST is 00:15 UTC, 01:15 GMT is 01:15 UTC.
    for hours in ("*/1", "0-23", "0/1"):
        every = Cron.parse(f"15 {hours} * * *", LONDON)
        ticks = every.ticks_between(utc(2026, 10, 25, 0), utc(2026, 10, 25, 1, 30))
        assert hhmm(ticks) == ["00:15", "01:15"], hours
    listed = Cron.parse("15 0,1,2 * * *", LONDON)
    ticks = listed.ticks_between(utc(2026, 10, 25, 0), utc(2026, 10, 25, 1, 30))
    assert hhmm(ticks) == ["00:15"]


# --- ticks_between -------------------------------------------------------------------------


def test_daily_new_york_year_has_365_ticks_at_five_local() -> None:
    zone = ZoneInfo(NEW_YORK)
    start = datetime(2026, 1, 1, tzinfo=zone)
    ticks = Cron.parse("0 5 * * *", NEW_YORK).ticks_between(
        start, datetime(2027, 1, 1, tzinfo=zone)
    )
    assert len(ticks) == 365
    assert {(tick.astimezone(zone).hour, tick.astimezone(zone).minute) for tick in ticks} == {
        (5, 0)
    }
    assert all(tick.tzinfo is UTC for tick in ticks)
    assert {tick.hour for tick in ticks} == {9, 10}  # 05:00 EDT and 05:00 EST


def test_hourly_new_york_year_is_every_elapsed_hour() -> None:
    zone = ZoneInfo(NEW_YORK)
    start, end = datetime(2026, 1, 1, tzinfo=zone), datetime(2027, 1, 1, tzinfo=zone)
    ticks = Cron.parse("@hourly", NEW_YORK).ticks_between(start, end)
    assert len(ticks) == 8760
    assert all(later - earlier == timedelta(hours=1) for earlier, later in pairwise(ticks))


def test_ticks_between_bounds_and_limit() -> None:
    cron = Cron.parse("0 * * * *")
    ticks = cron.ticks_between(utc(2026, 1, 1, 0), utc(2026, 1, 1, 3))
    assert ticks == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)]
    assert cron.ticks_between(utc(2026, 1, 1), utc(2026, 1, 2), limit=2) == ticks[:2]
    assert cron.ticks_between(utc(2026, 1, 1), utc(2026, 1, 2), limit=0) == []
    assert cron.ticks_between(utc(2026, 1, 2), utc(2026, 1, 1)) == []
    with pytest.raises(ValueError, match="limit"):
        cron.ticks_between(utc(2026, 1, 1), utc(2026, 1, 2), limit=-1)


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        ("*/20 * * * *", NEW_YORK),
        ("45 1,2 * * *", NEW_YORK),
        ("0 */2 * * *", LONDON),
        ("0,30 * * * *", "Australia/Lord_Howe"),  # half-hour DST shifts
        ("0 0 * * *", "America/Santiago"),  # changes at midnight
    ],
)
def test_ticks_strictly_increase_and_chain_with_next_after(expression: str, zone: str) -> None:
    cron = Cron.parse(expression, zone)
    ticks = cron.ticks_between(utc(2026, 1, 1), utc(2027, 1, 1))
    assert all(earlier < later for earlier, later in pairwise(ticks))
    chained = [cron.next_after(utc(2026, 1, 1))]
    while (following := cron.next_after(chained[-1])) <= utc(2027, 1, 1):
        chained.append(following)
    assert chained == ticks


# --- previous_at_or_before -----------------------------------------------------------------


def test_previous_at_or_before() -> None:
    cron = Cron.parse("0 9 * * MON-FRI")
    assert cron.previous_at_or_before(utc(2026, 1, 12, 9)) == utc(2026, 1, 12, 9)
    assert cron.previous_at_or_before(utc(2026, 1, 12, 8, 59)) == utc(2026, 1, 9, 9)
    leap = Cron.parse("0 0 29 2 *")
    assert leap.previous_at_or_before(utc(2030, 1, 1)) == utc(2028, 2, 29)
    assert leap.previous_at_or_before(utc(2103, 12, 31)) is None  # 2096 is over 5 years back


def test_previous_at_or_before_inverts_next_after_across_dst() -> None:
    cron = Cron.parse("*/20 1,2 * * *", NEW_YORK)
    ticks = cron.ticks_between(utc(2026, 10, 30), utc(2026, 11, 3)) + cron.ticks_between(
        utc(2026, 3, 7), utc(2026, 3, 10)
    )
    for earlier, tick in pairwise(ticks):
        if earlier < tick:
            assert cron.previous_at_or_before(tick) == tick
            assert cron.previous_at_or_before(tick - timedelta(seconds=1)) == earlier
