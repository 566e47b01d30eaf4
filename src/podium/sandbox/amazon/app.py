"""AmazonSimulator: SP-API (Orders v0, Finances v0, Reports 2021-06-30) and LWA in one app.

    POST /auth/o2/token                          Login with Amazon (``access.Lwa``)
    GET  /orders/v0/orders                       getOrders
    GET  /orders/v0/orders/{id}/orderItems       getOrderItems
    GET  /finances/v0/financialEvents            listFinancialEvents
    GET  /reports/2021-06-30/reports             getReports (settlement reports)
    POST /reports/2021-06-30/reports             createReport (refuses what Amazon refuses)
    GET  /reports/2021-06-30/reports/{id}        getReport
    GET  /reports/2021-06-30/documents/{id}      getReportDocument
    GET  /documents/{id}?X-Amz-Signature=…       the presigned download (no token needed)

Every API call needs a live ``x-amz-access-token`` (403 ``Unauthorized`` otherwise) and
passes its operation's rate limit (``access.OperationLimits``); every answer carries
``x-amzn-RateLimit-Limit``. Orders are the brand's marketplace orders as of the clock.

It answers as the published models (``tests/specs/amazon-sp-api``) say: ``*Before`` must be
at least two minutes in the past, times must be UTC, page sizes are 1–100. A ``NextToken``
only moves the page: getOrders applies the filters sent with it ("NextToken doesn't affect
any filters that you include in your request"), and listFinancialEvents wants the same
arguments as the call that produced the token (other arguments are a 400, an assumption:
the model does not say what Amazon answers). ``PostedBefore`` is exclusive, and a finance
range of more than 180 days answers an empty page, not an error. Finance pages may come
back empty yet carry a ``NextToken`` (``empty_finance_pages=k``: the first page and every
k-th after it are empty).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from podium.sandbox.amazon.access import Credentials, Lwa, OperationLimits, sp_error
from podium.sandbox.amazon.render import (
    MARKETPLACE_ID,
    FinanceEvent,
    finance_events,
    iso,
    render_event,
    render_items,
    render_order,
)
from podium.sandbox.amazon.reports import ReportDesk
from podium.sandbox.brand import Brand, Channel, Order
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request

DEMO_CREDENTIALS = {
    "client_id": "amzn1.application-oa2-client.demo0000000000000000",
    "client_secret": "amzn1.oa2-cs.v1.demo-client-secret-0000000000000000",
    "refresh_token": "Atzr|demo-refresh-token-0000000000000000000000",
}
MIN_AGE = timedelta(minutes=2)
MAX_FINANCE_RANGE = timedelta(days=180)
_ITEMS = re.compile(r"^/orders/v0/orders/([^/]+)/orderItems$")
_REPORT = re.compile(r"^/reports/2021-06-30/reports/([^/]+)$")
_DOCUMENT = re.compile(r"^/reports/2021-06-30/documents/([^/]+)$")
_DOWNLOAD = re.compile(r"^/documents/([^/]+)$")


class InvalidInput(ValueError):
    """A parameter SP-API would refuse with 400 ``InvalidInput``."""


def demo_connection(base_url: str) -> dict[str, Any]:
    """podium.yaml settings for a connection to a simulator served at ``base_url``."""
    return {
        "type": "amazon",
        **DEMO_CREDENTIALS,
        "marketplace_ids": [MARKETPLACE_ID],
        "base_url": base_url,
        "token_url": f"{base_url}/auth/o2/token",
    }


def parse_time(text: str) -> datetime:
    """An ISO-8601 time in UTC; other offsets are refused as SP-API refuses them."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.utcoffset() != timedelta(0):
        raise InvalidInput(f"{text!r}: send date-times in UTC (Z)")
    return moment.astimezone(UTC)


def _token(data: Any) -> str:
    return base64.b64encode(orjson.dumps(data)).decode()


def _untoken(text: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidInput("Invalid NextToken") from None


class AmazonSimulator:
    """See the module docstring. Options: ``rate_limits`` ({operation: (rps, burst)}),
    ``credentials`` (default ``DEMO_CREDENTIALS``), ``report_polls``, ``compress_reports``,
    ``empty_finance_pages``. ``disburse()`` closes a settlement period now. Faults:
    ``revoke_token()``, ``expire_tokens()``,
    ``reports.sabotage_next(...)``, ``reports.expire_next_url()``."""

    def __init__(
        self,
        brand: Brand,
        clock: SimClock,
        *,
        rate_limits: Mapping[str, tuple[float, float]] | None = None,
        credentials: Mapping[str, str] | None = None,
        report_polls: int = 3,
        compress_reports: bool = True,
        empty_finance_pages: int = 0,
    ) -> None:
        self.brand, self.clock = brand, clock
        self.lwa = Lwa(Credentials(**(credentials or DEMO_CREDENTIALS)), clock.now)
        self.limits = OperationLimits(rate_limits)
        self.reports = ReportDesk(brand, clock.now, report_polls, compress_reports)
        self.empty_finance_pages = empty_finance_pages
        self._by_number: dict[str, Order] = {o.number: o for o in brand.orders(Channel.MARKETPLACE)}
        self.calls: dict[str, int] = {}

    @property
    def violations(self) -> int:
        return self.limits.violations

    def revoke_token(self) -> None:
        self.lwa.revoke()

    def expire_tokens(self) -> None:
        self.lwa.expire_tokens()

    def disburse(self) -> None:
        """A payout initiated now: Amazon closes the settlement period and makes its report."""
        self.reports.disburse()

    # -- routing ---------------------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        path = request.path
        if path == "/auth/o2/token" and request.method == "POST":
            return self.lwa.answer(request.body)
        if (download := _DOWNLOAD.match(path)) is not None:
            return self.reports.download(
                download.group(1), request.params.get("X-Amz-Signature", "")
            )
        operation, args = self._route(request.method, path)
        if operation is None:
            return sp_error(404, "NotFound", f"Resource {path} is not found.")
        answer = self._answer(operation, args, request)
        answer.headers["x-amzn-RequestId"] = str(uuid.uuid4())  # on every answer, as declared
        return answer

    def _answer(self, operation: str, args: str, request: Request) -> Answer:
        refused = self.lwa.refuse(request.headers.get("x-amz-access-token"))
        if refused is None:
            refused = self.limits.take(operation)
        if refused is not None:
            return refused
        self.calls[operation] = self.calls.get(operation, 0) + 1
        try:
            answer = self._call(operation, args, request)
        except InvalidInput as exc:
            answer = sp_error(400, "InvalidInput", str(exc))
        answer.headers.update(self.limits.header(operation))
        return answer

    def _route(self, method: str, path: str) -> tuple[str | None, str]:
        if method == "GET" and path == "/orders/v0/orders":
            return "getOrders", ""
        if method == "GET" and path == "/finances/v0/financialEvents":
            return "listFinancialEvents", ""
        if method == "POST" and path == "/reports/2021-06-30/reports":
            return "createReport", ""
        if method == "GET" and path == "/reports/2021-06-30/reports":
            return "getReports", ""
        for pattern, operation in (
            (_ITEMS, "getOrderItems"),
            (_REPORT, "getReport"),
            (_DOCUMENT, "getReportDocument"),
        ):
            match = pattern.match(path)
            if method == "GET" and match is not None:
                return operation, match.group(1)
        return None, ""

    def _call(self, operation: str, arg: str, request: Request) -> Answer:
        if operation == "getOrders":
            return self._orders(request.params)
        if operation == "getOrderItems":
            return self._items(arg, request.params)
        if operation == "listFinancialEvents":
            return self._finances(request.params)
        if operation == "createReport":
            return self.reports.create(request.body)
        if operation == "getReports":
            return self.reports.list(request.params, parse_time)
        if operation == "getReport":
            return self.reports.get(arg)
        return self.reports.document(arg, request.base)

    # -- orders ----------------------------------------------------------------------------
    def _orders(self, params: Mapping[str, str]) -> Answer:
        ids = [m for m in params.get("MarketplaceIds", "").split(",") if m]
        if not ids:
            raise InvalidInput("MarketplaceIds is required")
        query = self._orders_query(params)  # a NextToken does not change the filters
        if MARKETPLACE_ID not in ids:
            return Answer(200, orjson.dumps({"payload": {"Orders": []}}))
        last = tuple(_untoken(params["NextToken"])) if "NextToken" in params else None
        now = self.clock.now()
        field, after, before = (
            query["field"],
            parse_time(query["after"]),
            parse_time(query["before"]),
        )
        matching = []
        for order in self.brand.orders(Channel.MARKETPLACE):
            view = order.as_of(now)
            if view is None:
                continue
            moment = (view.updated_at if field == "updated" else order.created_at).replace(
                microsecond=0
            )
            key = (iso(moment), order.number)
            if after <= moment <= before and (last is None or key > last):
                matching.append((key, view))
        matching.sort(key=lambda pair: pair[0])
        page = matching[: query["size"]]
        payload: dict[str, Any] = {"Orders": [render_order(view) for _, view in page]}
        if len(matching) > len(page):
            payload["NextToken"] = _token(list(page[-1][0]))
        return Answer(200, orjson.dumps({"payload": payload}))

    def _orders_query(self, params: Mapping[str, str]) -> dict[str, Any]:
        created, updated = "CreatedAfter" in params, "LastUpdatedAfter" in params
        if created == updated:
            raise InvalidInput("Exactly one of CreatedAfter and LastUpdatedAfter is required")
        if updated and ("CreatedBefore" in params):
            raise InvalidInput("CreatedBefore cannot be combined with LastUpdatedAfter")
        if created and ("LastUpdatedBefore" in params):
            raise InvalidInput("LastUpdatedBefore cannot be combined with CreatedAfter")
        name = "LastUpdated" if updated else "Created"
        after = parse_time(params[f"{name}After"])
        before = self._before(params.get(f"{name}Before"), f"{name}Before")
        if after > before:
            raise InvalidInput(f"{name}After must be before {name}Before")
        return {
            "field": "updated" if updated else "created",
            "after": iso(after),
            "before": iso(before),
            "size": _page_size(params),
        }

    def _before(self, text: str | None, name: str) -> datetime:
        latest = self.clock.now() - MIN_AGE
        if text is None:
            return latest
        before = parse_time(text)
        if before > latest:
            raise InvalidInput(f"{name} must be a date at least 2 minutes before the request time")
        return before

    def _items(self, number: str, params: Mapping[str, str]) -> Answer:
        order = self._by_number.get(number)
        view = order.as_of(self.clock.now()) if order is not None else None
        if view is None:
            return sp_error(404, "NotFound", f"Order {number} was not found.")
        items = render_items(view)
        start = int(_untoken(params["NextToken"])) if "NextToken" in params else 0
        size = 5  # Amazon pages items in small pages; five is enough to exercise paging
        payload: dict[str, Any] = {
            "AmazonOrderId": number,
            "OrderItems": items[start : start + size],
        }
        if start + size < len(items):
            payload["NextToken"] = _token(start + size)
        return Answer(200, orjson.dumps({"payload": payload}))

    # -- finances --------------------------------------------------------------------------
    def _finances(self, params: Mapping[str, str]) -> Answer:
        arguments = {k: v for k, v in params.items() if k != "NextToken"}
        if "NextToken" in params:
            query = _untoken(params["NextToken"])
            if not isinstance(query, dict) or query.get("arguments") != arguments:
                raise InvalidInput(
                    "Invalid NextToken: send it with the same arguments as the call that "
                    "produced it"
                )
        else:
            query = {**self._finance_query(params), "arguments": arguments}
        after, before = parse_time(query["after"]), parse_time(query["before"])
        if before - after > MAX_FINANCE_RANGE:
            # the model: "If PostedAfter and PostedBefore are more than 180 days apart, the
            # response is empty."
            return Answer(200, orjson.dumps({"payload": {"FinancialEvents": {}}}))
        events = [e for e in finance_events(self.brand, after, before) if e.posted < before]
        page_no, offset, size = query["page"], query["offset"], query["size"]
        empty = self.empty_finance_pages > 0 and (page_no - 1) % self.empty_finance_pages == 0
        chosen: list[FinanceEvent] = [] if empty else events[offset : offset + size]
        lists: dict[str, list[dict[str, Any]]] = {"ShipmentEventList": [], "RefundEventList": []}
        for event in chosen:
            lists["ShipmentEventList" if event.refund is None else "RefundEventList"].append(
                render_event(event)
            )
        payload: dict[str, Any] = {"FinancialEvents": lists}
        if offset + len(chosen) < len(events):
            payload["NextToken"] = _token(
                {**query, "page": page_no + 1, "offset": offset + len(chosen)}
            )
        return Answer(200, orjson.dumps({"payload": payload}))

    def _finance_query(self, params: Mapping[str, str]) -> dict[str, Any]:
        if "PostedAfter" not in params:
            # the model only says PostedBefore needs PostedAfter; with neither, what Amazon
            # answers is not documented: refused here
            raise InvalidInput("PostedAfter is required")
        after = parse_time(params["PostedAfter"])
        if after > self.clock.now() - MIN_AGE:
            raise InvalidInput("PostedAfter must be more than two minutes before the request")
        before = self._before(params.get("PostedBefore"), "PostedBefore")
        if after >= before:
            raise InvalidInput("PostedBefore must be later than PostedAfter")
        return {
            "after": iso(after),
            "before": iso(before),
            "size": _page_size(params),
            "page": 1,
            "offset": 0,
        }


def _page_size(params: Mapping[str, str]) -> int:
    text = params.get("MaxResultsPerPage", "100")
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise InvalidInput("MaxResultsPerPage must be between 1 and 100")
    return int(text)
