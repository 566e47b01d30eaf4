"""NetSuite's dates, read and written in the account's time zone.

SuiteQL shows a date field as the user's Date Format preference says, without a zone and
to the minute: ``"5/1/2025"`` and ``"5/2/2025 9:14 am"`` for M/D/YYYY, but ``5/2/2025``
is 5 February for a D/M/YYYY user (Oracle, "Using Datetime Fields": REST records use ISO
8601 in UTC, the N/query module under SuiteQL "a different date format"). So the source
asks for every date column as ``TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS')`` (``DATE_SQL``
for dates, ``SQL_FORMAT`` for date-times): ISO text to the second, whatever the
preference. The time is the *account's* time zone (the ``timezone`` setting, default
``America/Los_Angeles``, an assumption: set it to the company's Time Zone preference).
``parse_datetime`` turns such a value into UTC ISO text; ``suiteql_timestamp`` writes a UTC
instant back as the local ``TO_TIMESTAMP`` literal a SuiteQL filter compares with.

The US ``M/D/YYYY [h:mm am]`` form is still read (a date not asked for with TO_CHAR). In
the hour the clocks go back a local time is ambiguous; the earlier instant is taken
(``fold=0``), which can only move a cursor back, never skip a record.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_US = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]m)?)?", re.IGNORECASE
)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
# what TO_CHAR(col, SQL_FORMAT) gives: read by ``datetime.fromisoformat`` (no regex)
_TO_CHAR = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
SQL_FORMAT = "YYYY-MM-DD HH24:MI:SS"
DATE_SQL = "YYYY-MM-DD"


def _parts(text: str) -> tuple[date, int, int, int] | None:
    us = _US.fullmatch(text.strip())
    if us:
        month, day, year, hour, minute, second, half = us.groups()
        h = int(hour or 0)
        if half:
            h = h % 12 + (12 if half.lower() == "pm" else 0)
        return date(int(year), int(month), int(day)), h, int(minute or 0), int(second or 0)
    iso = _ISO.fullmatch(text.strip())
    if iso:
        year, month, day, hour, minute, second = iso.groups()
        d = date(int(year), int(month), int(day))
        return d, int(hour or 0), int(minute or 0), int(second or 0)
    return None


@lru_cache(maxsize=1 << 14)
def parse_date(text: str) -> str:
    """``"5/1/2025"`` → ``"2025-05-01"``; ``ValueError`` if it is not a date. (Cached: a
    page's rows share few dates.)"""
    parts = _parts(text)
    if parts is None:
        raise ValueError(f"{text!r} is not a date in M/D/YYYY or YYYY-MM-DD form")
    return parts[0].isoformat()


@lru_cache(maxsize=1 << 16)
def parse_datetime(text: str, zone: ZoneInfo) -> str:
    """``"5/2/2025 9:14 am"`` in ``zone`` → ``"2025-05-02T16:14:00Z"``. Cached (the lines
    of a transaction share its ``lastmodifieddate``); the TO_CHAR form skips the regex."""
    if len(text) == 19 and _TO_CHAR.fullmatch(text):
        local = datetime.fromisoformat(text).replace(tzinfo=zone)
    else:
        parts = _parts(text)
        if parts is None:
            raise ValueError(f"{text!r} is not a date-time in M/D/YYYY h:mm am form")
        day, hour, minute, second = parts
        local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """A saved cursor (ISO, ``Z`` or offset or naive UTC) as an aware UTC datetime."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def suiteql_timestamp(moment: datetime, zone: ZoneInfo) -> str:
    """A SuiteQL ``TO_TIMESTAMP`` literal for ``moment`` in the account's local time."""
    local = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    return f"TO_TIMESTAMP('{local}', '{SQL_FORMAT}')"


def rewind(cursor: str, lookback: float) -> datetime:
    """The saved cursor minus the stream's lookback, as a UTC instant."""
    return parse_instant(cursor) - timedelta(seconds=lookback)
