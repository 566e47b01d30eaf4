"""podium's clock: what "now" is wherever a default depends on it.

Every default that reads the time (a connector's first start, the sandbox's brand, the
demo's days, a check's freshness, the engine's schedules, the UI's "3 min ago") asks this
module, never ``datetime.now()`` or ``time.time()`` itself. Normally it is the machine's
clock. ``PODIUM_CLOCK_OFFSET`` (seconds, may be negative or fractional) shifts it for
every podium process that inherits the variable, so a test, a demo or a rehearsal can live
a year ahead or at 23:30 without touching the machine::

    PODIUM_CLOCK_OFFSET=31536000 podium run daily      # a year from now

All processes that share the variable agree on the time to the machine clock's precision,
which is what leases between processes need. ``shifted_to(moment)`` is the offset that
makes "now" equal ``moment``. Code that can take its time as a parameter still should
(``now=``); this is the default such parameters fall back to.
"""

from __future__ import annotations

import math
import os
import time as _time
from datetime import UTC, datetime

from podium.errors import UsageError

__all__ = ["OFFSET_VARIABLE", "now", "offset", "shifted_to", "time"]

OFFSET_VARIABLE = "PODIUM_CLOCK_OFFSET"


def offset() -> float:
    """The shift from the machine's clock, in seconds (0 unless the variable is set)."""
    text = os.environ.get(OFFSET_VARIABLE)
    if not text:
        return 0.0
    try:
        shift = float(text)
    except ValueError:
        shift = float("nan")
    if not math.isfinite(shift):
        raise UsageError(
            f"{OFFSET_VARIABLE}={text!r}: expected a number of seconds (e.g. 86400 for a day "
            "ahead, -3600 for an hour behind); unset it to use the machine's clock"
        )
    return shift


def time() -> float:
    """Seconds since the epoch, as ``time.time()`` but on podium's clock."""
    return _time.time() + offset()


def now() -> datetime:
    """An aware UTC datetime, as ``datetime.now(UTC)`` but on podium's clock."""
    return datetime.fromtimestamp(time(), UTC)


def shifted_to(moment: datetime) -> float:
    """The ``PODIUM_CLOCK_OFFSET`` that makes podium's "now" equal ``moment`` (aware)."""
    if moment.tzinfo is None:
        raise ValueError("shifted_to needs an aware datetime")
    return moment.timestamp() - _time.time()
