"""Campaign and flow values reports, counted from the simulated events.

``values_report(model, kind, now, start, end, conversion_metric)`` gives one row per email
message of ``kind`` (``campaign`` or ``flow``) that had a send in ``[start, end]``, with
every statistic Klaviyo's ``POST /api/{kind}-values-reports/`` can return here:

    recipients, delivered   Received Email events of the message (no bounces simulated)
    opens, opens_unique     Opened Email events / distinct profiles
    clicks, clicks_unique   Clicked Email events / distinct profiles
    open_rate, click_rate   unique / delivered, a fraction between 0 and 1
    conversions, conversion_uniques, conversion_value, conversion_rate
                            conversion-metric events attributed to the message: a
                            conversion belongs to the profile's latest open or click of
                            any message within the 5 days before it (last touch)

Every count is of events with ``datetime`` in ``[start, end]`` and ``<= now``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from podium.sandbox.klaviyo.model import ATTRIBUTION_WINDOW, Event, KlaviyoModel, value_of

STATISTICS = (
    "recipients",
    "delivered",
    "opens",
    "opens_unique",
    "open_rate",
    "clicks",
    "clicks_unique",
    "click_rate",
    "conversions",
    "conversion_uniques",
    "conversion_value",
    "conversion_rate",
)


@dataclass
class _Tally:
    recipients: int = 0
    opens: int = 0
    clicks: int = 0
    openers: set[str] = field(default_factory=set)
    clickers: set[str] = field(default_factory=set)
    conversions: int = 0
    converters: set[str] = field(default_factory=set)
    value: Decimal = Decimal("0.00")

    def statistics(self) -> dict[str, float | int]:
        delivered = self.recipients
        return {
            "recipients": self.recipients,
            "delivered": delivered,
            "opens": self.opens,
            "opens_unique": len(self.openers),
            "open_rate": _rate(len(self.openers), delivered),
            "clicks": self.clicks,
            "clicks_unique": len(self.clickers),
            "click_rate": _rate(len(self.clickers), delivered),
            "conversions": self.conversions,
            "conversion_uniques": len(self.converters),
            "conversion_value": float(self.value),
            "conversion_rate": _rate(len(self.converters), delivered),
        }


@dataclass(frozen=True)
class ReportRow:
    kind: str  # campaign | flow
    owner: str  # campaign id or flow id
    message: str
    statistics: dict[str, float | int]


def values_report(
    model: KlaviyoModel,
    kind: str,
    now: datetime,
    start: datetime,
    end: datetime,
    conversion_metric: str,
) -> list[ReportRow]:
    """One row per message of ``kind`` with a send in the timeframe; see the module doc."""
    events = model.events_as_of(min(now, end))
    window = events[model.index_from(start) :]
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for event in window:
        _count_email(event, tallies)
    for event, touched in _attributed(events, window, conversion_metric):
        tally = tallies.get(touched)
        if tally is not None:
            tally.conversions += 1
            tally.converters.add(event.profile)
            tally.value += value_of(event)
    rows = []
    for message_id, tally in sorted(tallies.items()):
        found = model.messages[message_id]
        owner = found.campaign if kind == "campaign" else found.flow
        if owner is not None and tally.recipients:
            rows.append(ReportRow(kind, owner, message_id, tally.statistics()))
    return rows


def _count_email(event: Event, tallies: dict[str, _Tally]) -> None:
    if event.message is None:
        return
    tally = tallies[event.message]
    if event.metric == "Received Email":
        tally.recipients += 1
    elif event.metric == "Opened Email":
        tally.opens += 1
        tally.openers.add(event.profile)
    elif event.metric == "Clicked Email":
        tally.clicks += 1
        tally.clickers.add(event.profile)


def _attributed(
    events: tuple[Event, ...], window: tuple[Event, ...], metric: str
) -> list[tuple[Event, str]]:
    """Each conversion in ``window`` with the message it is attributed to (last touch)."""
    touches: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for event in events:  # sorted by time, so each profile's touches are too
        if event.message is not None and event.metric in ("Opened Email", "Clicked Email"):
            touches[event.profile].append((event.at, event.message))
    found = []
    for event in window:
        if event.metric != metric:
            continue
        mine = touches.get(event.profile, [])
        before = bisect.bisect_right(mine, (event.at, "\U0010ffff"))
        if before and event.at - mine[before - 1][0] <= ATTRIBUTION_WINDOW:
            found.append((event, mine[before - 1][1]))
    return found


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
