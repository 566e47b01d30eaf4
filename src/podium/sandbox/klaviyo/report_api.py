"""``POST /api/campaign-values-reports/`` and ``/api/flow-values-reports/``: the request
checked as Klaviyo checks it, the answer in its shape.

Request body::

    {"data": {"type": "campaign-values-report", "attributes": {
        "statistics": ["recipients", "opens_unique", "open_rate", "conversion_value"],
        "timeframe": {"key": "last_365_days"} | {"start": "…", "end": "…"},
        "conversion_metric_id": "<the Placed Order metric id>"}}}

A timeframe longer than one year, an unknown statistic or metric, or a missing field is a
400. The answer is ``{"data": {"type", "attributes": {"results": […]}}, "links": {"self"}}``,
only the fields the OpenAPI declares (no ``id``: a report is not a stored resource), with
one result per message: ``{"groupings": {"send_channel": "email", "campaign_id"|"flow_id":
…, "campaign_message_id"|"flow_message_id": …}, "statistics": {…}}``; rates are fractions
between 0 and 1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

import orjson

from podium.sandbox.klaviyo.errors import ApiError
from podium.sandbox.klaviyo.filters import parse_time
from podium.sandbox.klaviyo.model import KlaviyoModel
from podium.sandbox.klaviyo.reports import STATISTICS, values_report
from podium.sandbox.paging import Request

YEAR = timedelta(days=365)
KEYS = {
    "last_7_days": timedelta(days=7),
    "last_30_days": timedelta(days=30),
    "last_90_days": timedelta(days=90),
    "last_365_days": YEAR,
    "last_12_months": YEAR,
}


def answer_report(model: KlaviyoModel, resource: str, request: Request, now: datetime) -> Any:
    kind = resource.removesuffix("-values-reports")  # campaign | flow
    attributes = _attributes(request.body, f"{kind}-values-report")
    statistics = attributes.get("statistics")
    if not isinstance(statistics, list) or not statistics:
        _invalid("statistics is required: a list of statistic names.", "statistics")
    unknown = [s for s in statistics if s not in STATISTICS]
    if unknown:
        _invalid(f"Unknown statistics: {', '.join(map(str, unknown))}.", "statistics")
    start, end = _timeframe(attributes.get("timeframe"), now)
    metric = _metric_name(model, attributes.get("conversion_metric_id"))
    rows = values_report(model, kind, now, start, end, metric)
    results = [
        {
            "groupings": {
                "send_channel": "email",
                f"{kind}_id": row.owner,
                f"{kind}_message_id": row.message,
            },
            "statistics": {name: row.statistics[name] for name in statistics},
        }
        for row in rows
    ]
    return {
        "data": {"type": f"{kind}-values-report", "attributes": {"results": results}},
        "links": {"self": f"{request.base}{request.path}"},
    }


def _attributes(body: bytes, expected_type: str) -> dict[str, Any]:
    try:
        document = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        _invalid("The request body is not valid JSON.", "")
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or data.get("type") != expected_type:
        _invalid(f"data.type must be {expected_type!r}.", "type")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        _invalid("data.attributes is required.", "attributes")
    return attributes


def _timeframe(timeframe: Any, now: datetime) -> tuple[datetime, datetime]:
    if not isinstance(timeframe, dict):
        _invalid("timeframe is required: {key: …} or {start: …, end: …}.", "timeframe")
    if "key" in timeframe:
        span = KEYS.get(str(timeframe["key"]))
        if span is None:
            _invalid(f"Unknown timeframe key {timeframe['key']!r}.", "timeframe")
        return now - span, now
    try:
        start, end = parse_time(str(timeframe["start"])), parse_time(str(timeframe["end"]))
    except (KeyError, ValueError):
        _invalid("timeframe needs ISO-8601 start and end.", "timeframe")
    if end <= start or end - start > YEAR:
        _invalid("The timeframe must be positive and at most 1 year long.", "timeframe")
    return start, end


def _metric_name(model: KlaviyoModel, metric_id: Any) -> str:
    if not metric_id:
        _invalid("conversion_metric_id is required.", "conversion_metric_id")
    for name, mid in model.metric_ids.items():
        if mid == metric_id:
            return name
    _invalid(f"Metric {metric_id!r} does not exist.", "conversion_metric_id")


def _invalid(detail: str, pointer: str) -> NoReturn:
    raise ApiError(400, "invalid", "Invalid input.", detail,
                   {"pointer": f"/data/attributes/{pointer}"})  # fmt: skip
