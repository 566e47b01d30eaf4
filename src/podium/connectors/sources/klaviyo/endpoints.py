"""The streams a ``klaviyo`` connection offers, the endpoint behind each, and its limits.

    stream          endpoint (GET unless noted)          how it is read
    profiles        /api/profiles/          L            merge on id; greater-than(updated, cursor − 1 h),
                                                         sort=updated, 100 a page
    events          /api/events/            XL           append on id (events never change);
                                                         greater-or-equal(datetime, cursor − 10 min),
                                                         sort=datetime, 1000 a page from revision
                                                         2026-01-15 (before it no page[size]: 200)
    metrics         /api/metrics/           M            replaced each load
    lists           /api/lists/             L            replaced each load
    campaigns       /api/campaigns/         M            merge on id; one pass per channel
                                                         (Klaviyo requires the channel filter)
                                                         and per archived true/false;
                                                         greater-or-equal(updated_at, cursor − 1 h)
    flows           /api/flows/             S            merge on id; archived false and true;
                                                         greater-or-equal(updated, cursor − 1 h),
                                                         50 a page
    campaign_values POST /api/campaign-values-reports/   replaced each load: the last 365 days
    flow_values     POST /api/flow-values-reports/       per message, conversions on Placed Order

Limits are each operation's ``x-klaviyo-ratelimit`` in Klaviyo's OpenAPI (a test compares
them), in Klaviyo's tiers (burst per second / steady per minute): S 3/60, M 10/150,
L 75/750, XL 350/3500; the reports 1/s and 2/min (and 225/day, which pacing does not
track). Each endpoint has its own budget, as Klaviyo counts them per endpoint.

``page[size]`` is sent only under a revision that has it (``page_size``): campaigns and
lists never send it, as their default page is already their largest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podium.connectors.source import Stream, WriteMode

HOUR = 3600.0


@dataclass(frozen=True)
class Limit:
    burst: int  # requests per second
    steady: int  # requests per minute


TIERS = {"S": Limit(3, 60), "M": Limit(10, 150), "L": Limit(75, 750), "XL": Limit(350, 3500)}
REPORTS = Limit(1, 2)


@dataclass(frozen=True)
class Endpoint:
    stream: Stream
    path: str
    limit: Limit
    page_size: int | None = None  # None: page[size] is never sent
    page_size_from: str = ""  # the first revision whose operation takes page[size]
    sort: str | None = None  # the cursor field, sent as sort= and filtered on
    cursor_op: str = "greater-or-equal"
    channels: tuple[str, ...] = ()  # one pass per channel (campaigns)
    archivable: bool = False  # a second pass with equals(archived,true)
    report: str | None = None  # campaign | flow: a values report, POSTed
    columns: dict[str, str] = field(default_factory=dict)


def _stream(name: str, mode: WriteMode, cursor: str | None = None, lookback: float = 0.0,
            columns: dict[str, str] | None = None, key: tuple[str, ...] = ("id",)) -> Stream:  # fmt: skip
    return Stream(name, key, cursor, mode, lookback=lookback, columns=columns or {})


_TIMES = {"created": "timestamp", "updated": "timestamp"}
_CAMPAIGN_TIMES = {
    f: "timestamp" for f in ("created_at", "updated_at", "scheduled_at", "send_time")
}
_REPORT_COLUMNS = {"conversion_value": "decimal(18,2)"}

ENDPOINTS: dict[str, Endpoint] = {
    "profiles": Endpoint(
        _stream("profiles", WriteMode.MERGE, "updated", HOUR, _TIMES),
        "/api/profiles/", TIERS["L"], 100, sort="updated", cursor_op="greater-than",
    ),
    "events": Endpoint(
        _stream("events", WriteMode.APPEND, "datetime", 600.0,
                {"datetime": "timestamp", "value": "decimal(18,2)"}),
        "/api/events/", TIERS["XL"], 1000, "2026-01-15", "datetime",
    ),
    "metrics": Endpoint(_stream("metrics", WriteMode.REPLACE, columns=_TIMES), "/api/metrics/",
                        TIERS["M"]),
    "lists": Endpoint(_stream("lists", WriteMode.REPLACE, columns=_TIMES), "/api/lists/",
                      TIERS["L"]),
    "campaigns": Endpoint(
        _stream("campaigns", WriteMode.MERGE, "updated_at", HOUR, _CAMPAIGN_TIMES),
        "/api/campaigns/", TIERS["M"], sort="updated_at", channels=("email", "sms"),
        archivable=True,
    ),
    "flows": Endpoint(
        _stream("flows", WriteMode.MERGE, "updated", HOUR, _TIMES),
        "/api/flows/", TIERS["S"], 50, sort="updated", archivable=True,
    ),
    "campaign_values": Endpoint(
        _stream("campaign_values", WriteMode.REPLACE, columns=_REPORT_COLUMNS,
                key=("campaign_message_id",)),
        "/api/campaign-values-reports/", REPORTS, report="campaign",
    ),
    "flow_values": Endpoint(
        _stream("flow_values", WriteMode.REPLACE, columns=_REPORT_COLUMNS,
                key=("flow_message_id",)),
        "/api/flow-values-reports/", REPORTS, report="flow",
    ),
}  # fmt: skip
STREAM_NAMES = tuple(ENDPOINTS)

#: The write side (a sync's ``klaviyo`` destination), named like ``rate_limits``' keys: bulk
#: import jobs (create, poll, errors: each its own budget at this tier) and list
#: relationships are M; profile-import (and the PATCH a 409 leads to) L, whose steady
#: window was 700/min before revision 2026-07-15 (reverse-etl-apis.md §1.2, §1.7).
WRITE_ENDPOINTS: dict[str, Limit] = {
    "profile_bulk_import_jobs": TIERS["M"],
    "profile_import": TIERS["L"],
    "list_relationships": TIERS["M"],
}
L_BEFORE_2026_07_15 = Limit(75, 700)


def write_limit(name: str, revision: str) -> Limit:
    """The published limit of write endpoint ``name`` under ``revision``."""
    if name == "profile_import" and revision < "2026-07-15":
        return L_BEFORE_2026_07_15
    return WRITE_ENDPOINTS[name]


def page_size(endpoint: Endpoint, revision: str) -> int | None:
    """The ``page[size]`` to send under ``revision``; None where that revision has none
    (events took it from 2026-01-15)."""
    return endpoint.page_size if revision >= endpoint.page_size_from else None
