"""ThreePLSimulator: a ShipBob-shaped 3PL order API as a sandbox app.

    POST /{version}/order                   create; header ``shipbob_channel_id`` required
    GET  /{version}/order?ReferenceIds=a,b  list by id, optionally by reference id;
         &Page=1&Limit=50                   ``Limit`` 1–250; paging in the headers
                                            ``total-count``, ``page-number``,
                                            ``total-pages`` and ``next-page``
    GET  /{version}/order/{id}              one order
    POST /{version}/order/{id}:cancel       cancel (``/{id}/cancel`` as in 2.0); answers
                                            ``{"order", "canceled_shipment_results"}``

``version`` is one of ShipBob's (``VERSIONS``); all answer alike. Every request is checked
in this order:

    Authorization: Bearer <token>    missing/unknown → 401
    rate limit (limits.py)           → 429, ``x-retry-after`` (seconds) and
                                       ``x-remaining-calls: 0``; body ``{"statusCode": 429,
                                       "message": "Rate limit is exceeded. Try again in N
                                       seconds."}``. Others carry ``x-remaining-calls``.
    the body of a create (model.py)  → 400, a map from field name to messages
    the reference id (model.py)      ``reject``: 422 ``Duplicate reference ID`` naming the
                                       order that holds it; ``upsert``: 200 and that order;
                                       ``accept``: 201 and a new (duplicate) order

Other errors are ``{"statusCode", "message"}`` (ShipBob's 429 shape). Generic faults (5xx
bursts, truncated answers, slowness) come from the SandboxServer's ``Faults``: a 5xx
answers *instead of* the app (nothing is created), a truncated or reset answer is cut
*after* it (the order exists, the client cannot tell) — the two cases an exactly-once sync
must tell apart by looking the reference id up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from podium.sandbox.brand import Brand
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request
from podium.sandbox.threepl.limits import LIMIT, WINDOW, SlidingWindow
from podium.sandbox.threepl.model import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Duplicates,
    Order,
    OrderBook,
    Status,
    validate,
)

DEMO_TOKEN = "pat_demo_3pl_0c1d2e3f4a5b6c7d8e9f"
DEMO_CHANNEL_ID = "100001"
VERSIONS = ("1.0", "2.0", "2025-07", "2026-01", "2026-07")


class ApiError(Exception):
    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _error(status: int, message: str) -> ApiError:
    return ApiError(status, {"statusCode": status, "message": message})


class ThreePLSimulator:
    """One 3PL account; see the module docstring. ``timer`` gives the rate limit's seconds
    (default: the sandbox clock's, so the window reopens only when the clock moves)."""

    def __init__(
        self,
        brand: Brand,
        clock: SimClock,
        *,
        tokens: tuple[str, ...] = (DEMO_TOKEN,),
        duplicates: str = Duplicates.REJECT.value,
        limit: int = LIMIT,
        window: float = WINDOW,
        timer: Callable[[], float] | None = None,
    ) -> None:
        self.brand, self.clock, self.tokens = brand, clock, set(tokens)
        self.book = OrderBook(Duplicates(duplicates))
        self.limits = SlidingWindow(limit, window)
        self._timer = timer or (lambda: clock.now().timestamp())
        self._lock = threading.Lock()
        self._closed_until = 0.0
        self.violations = 0  # requests sent before an announced x-retry-after ran out

    # -- test controls ---------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        with self._lock:
            return self.book.truth()

    def orders(self) -> list[Order]:
        with self._lock:
            return list(self.book.orders.values())

    def move(self, order_id: int, status: Status | str) -> Order:
        """The warehouse's own progress on an order (picked, shipped, held …)."""
        with self._lock:
            return self.book.move(order_id, Status(status))

    # -- serving -----------------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        remaining: dict[str, str] = {}
        try:
            self._authorize(request)
            remaining = self._count()
            with self._lock:
                return self._route(request, remaining)
        except ApiError as exc:
            return Answer(exc.status, orjson.dumps(exc.body), {**remaining, **exc.headers})

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token:
            raise _error(401, "Authorization header missing: send 'Authorization: Bearer <token>'")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens:
            raise _error(401, "The access token is not valid for this account")

    def _count(self) -> dict[str, str]:
        now = self._timer()
        with self._lock:
            verdict = self.limits.check(now)
            if verdict.allowed:
                return {"x-remaining-calls": str(verdict.remaining)}
            if now < self._closed_until:
                self.violations += 1
            self._closed_until = now + verdict.retry_after
        seconds = verdict.retry_after
        headers = {"x-retry-after": str(seconds), "x-remaining-calls": "0"}
        message = f"Rate limit is exceeded. Try again in {seconds} seconds."
        raise ApiError(429, {"statusCode": 429, "message": message}, headers)

    def _route(self, request: Request, headers: dict[str, str]) -> Answer:
        version, _, rest = request.path.strip("/").partition("/")
        if version not in VERSIONS:
            raise _error(404, f"no API version {version!r}; use one of {', '.join(VERSIONS)}")
        parts = rest.split("/")
        if parts[0] != "order":
            raise _error(404, f"no resource /{version}/{rest}; this 3PL serves /{version}/order")
        if len(parts) == 1 and request.method == "POST":
            return self._create(request, headers)
        if len(parts) == 1 and request.method == "GET":
            return self._list(request, headers)
        if len(parts) == 2 and parts[1].endswith(":cancel") and request.method == "POST":
            return self._cancel(parts[1].removesuffix(":cancel"), headers)
        if len(parts) == 3 and parts[2] == "cancel" and request.method == "POST":
            return self._cancel(parts[1], headers)
        if len(parts) == 2 and request.method == "GET":
            return _json(200, self._order(parts[1]).to_json(), headers)
        raise _error(404, f"no route {request.method} {request.path}")

    def _create(self, request: Request, headers: dict[str, str]) -> Answer:
        channel = request.headers.get("shipbob_channel_id", "").strip()
        if not channel:
            raise ApiError(
                400, {"shipbob_channel_id": ["The shipbob_channel_id header is required."]}
            )
        try:
            body = orjson.loads(request.body or b"null")
        except orjson.JSONDecodeError as exc:
            raise ApiError(
                400, {"body": [f"The request body is not valid JSON ({exc})."]}
            ) from None
        problems = validate(body)
        if problems:
            raise ApiError(400, problems)
        created = self.book.create(body, channel, self.clock.now())
        if created.duplicate and self.book.duplicates is Duplicates.REJECT:
            order = created.order
            message = f"Duplicate reference ID {order.reference_id!r}: order {order.id} has it"
            raise ApiError(
                422, {"statusCode": 422, "message": message, "order_id": order.id}, headers
            )
        return _json(201 if created.added else 200, created.order.to_json(), headers)

    def _list(self, request: Request, headers: dict[str, str]) -> Answer:
        params = {k.lower(): v for k, v in request.params.items()}
        page = _number(params, "Page", default=1, high=None)
        limit = _number(params, "Limit", default=DEFAULT_LIMIT, high=MAX_LIMIT)
        refs = params.get("referenceids")
        wanted = [r.strip() for r in refs.split(",") if r.strip()] if refs is not None else None
        found = self.book.find(wanted, page, limit)
        paging = {
            "total-count": str(found.total),
            "page-number": str(found.page),
            "total-pages": str(found.pages),
        }
        if page < found.pages:
            query = {**request.params, "Page": str(page + 1), "Limit": str(limit)}
            paging["next-page"] = f"{request.base}{request.path}?{urlencode(query)}"
        return _json(200, [o.to_json() for o in found.orders], {**headers, **paging})

    def _cancel(self, order_id: str, headers: dict[str, str]) -> Answer:
        order, cancelled = self.book.cancel(self._order(order_id).id)
        reason = None if cancelled else f"the order is already {order.status.value}"
        result = {"action": "Cancel", "is_success": cancelled, "reason": reason,
                  "shipment_id": order.shipment_id}  # fmt: skip
        body = {"order": order.to_json(), "canceled_shipment_results": [result]}
        return _json(200, body, headers)

    def _order(self, text: str) -> Order:
        if not text.isdigit():
            raise ApiError(400, {"orderId": [f"The order id must be a number, not {text!r}."]})
        order = self.book.orders.get(int(text))
        if order is None:
            raise _error(404, f"no order {text} in this account")
        return order


def _number(params: Mapping[str, str], name: str, *, default: int, high: int | None) -> int:
    """A query parameter from 1 to ``high`` (names compared case-blind, as ASP.NET does)."""
    text = params.get(name.lower())
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1 or (high is not None and int(text) > high):
        span = f"between 1 and {high}" if high is not None else "at least 1"
        raise ApiError(400, {name: [f"The {name} must be a whole number {span}, not {text!r}."]})
    return int(text)


def _json(status: int, value: Any, headers: Mapping[str, str]) -> Answer:
    return Answer(status, orjson.dumps(value), dict(headers))
