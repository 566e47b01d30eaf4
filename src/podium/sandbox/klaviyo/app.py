"""KlaviyoSimulator: Klaviyo's JSON:API as a sandbox app, showing the brand as of the clock.

Every request is checked as Klaviyo checks it, in this order:

    Authorization: Klaviyo-API-Key pk_…   missing/unknown → 401 ``not_authenticated``;
                                           revoked (``revoke_key``) → 401
                                           ``authentication_failed``
    rate limit of the endpoint            → 429 ``throttled`` + ``Retry-After`` (limits.py);
                                           each such request counts in ``violations``
    revision: YYYY-MM-DD                   missing, malformed or not one of the
                                           revisions served (revisions.py) → 400
    query parameters                       each must be one the operation declares in
                                           that revision (revisions.py) → 400

Errors have Klaviyo's JSON:API shape ``{"errors": [{"id", "status", "code", "title",
"detail", "source"}]}``.

Lists (``GET /api/{profiles,events,metrics,lists,campaigns,flows}/``) page with
``links.next`` carrying every parameter plus ``page[cursor]`` (a keyset position, so
records arriving between pages never shift one), left out on the last page (the spec's
``next`` is a URI, not nullable); ``page[size]`` within each endpoint's maximum;
``sort=<field>`` and ``filter=op(field,value),…`` only where Klaviyo takes them.
Campaigns need ``equals(messages.channel,'email')``; archived campaigns and flows are
listed only with ``equals(archived,true)``. Reports: ``POST /api/campaign-values-reports/``
and ``/api/flow-values-reports/`` (see ``reports.py`` and ``report_api.py``).

Writes (profile create/update/import, bulk import jobs, list members) are routed by
``write_api.py`` to their operation id, which also keys their rate limits and parameters;
``store.py`` keeps what they changed, and ``written_state()`` shows it to tests.
"""

from __future__ import annotations

import base64
import bisect
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from podium.sandbox.brand import Brand
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.klaviyo.errors import ApiError, error_answer
from podium.sandbox.klaviyo.filters import Condition, parse_filter, parse_time
from podium.sandbox.klaviyo.limits import FixedWindows, Tier, tiers_for
from podium.sandbox.klaviyo.model import KlaviyoModel
from podium.sandbox.klaviyo.report_api import answer_report
from podium.sandbox.klaviyo.resources import Listing, Renderer, Rows, listings
from podium.sandbox.klaviyo.revisions import check_parameters, revision_of
from podium.sandbox.klaviyo.store import AccountState
from podium.sandbox.klaviyo.webhooks import WebhookSender
from podium.sandbox.klaviyo.write_api import WriteApi, route
from podium.sandbox.paging import Request

DEMO_API_KEY = "pk_demo_5f1e2d3c4b5a69788796a5b4c3d2e1f0"
DEMO_CREDENTIALS = {"api_key": DEMO_API_KEY}
_MAX_KEY = "\U0010ffff"


class KlaviyoSimulator:
    """Klaviyo's API for one brand's account; see the module docstring."""

    def __init__(
        self,
        brand: Brand,
        clock: SimClock,
        *,
        api_keys: tuple[str, ...] = (DEMO_API_KEY,),
        tiers: Mapping[str, Tier] | None = None,
        windows: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.brand, self.clock = brand, clock
        self.model = KlaviyoModel(brand)
        self.api_keys, self.revoked = set(api_keys), set[str]()
        self.limits = FixedWindows(tiers_for(tiers), windows)
        self.violations = 0
        self._base = "https://a.klaviyo.com"
        self.state = AccountState(self.model)
        renderer = self._renderer = Renderer(self.model, lambda: self._base, self.state)
        self.listings = listings(renderer)
        self.webhooks = WebhookSender(self.model, clock, renderer.event)
        self.writes = WriteApi(self.state, lambda: self._base)
        self._write_lock = threading.Lock()

    # -- test controls ---------------------------------------------------------------
    def render_ahead(self) -> None:
        """Generate the account and render every event now (the benchmarks do, before
        their clock starts), not on the first events page."""
        self._renderer.render_events()

    def revoke_key(self, key: str = DEMO_API_KEY) -> None:
        """The key stops working, as when a user deletes it in Klaviyo's settings."""
        self.revoked.add(key)

    def deliver_webhooks(self, url: str, secret: str) -> int:
        """POST events that happened since the last delivery to ``url``; see webhooks.py."""
        return self.webhooks.deliver(url, secret)

    def written_state(self) -> dict[str, Any]:
        """Ground truth after writes, as of the clock: every profile's attributes by id
        and every list's member ids (what a sync test compares its rows with)."""
        now = self.clock.now()
        return {
            "profiles": self.state.profiles(now),
            "lists": {lid: self.state.members(lid, now) for lid in sorted(self.state.list_ids())},
        }

    def truth(self) -> dict[str, Any]:
        """``written_state()`` with each list's name: what ``GET /_sandbox/truth/klaviyo-writes``
        answers, the ground truth a sync run from outside the process is checked against."""
        state = self.written_state()
        names = dict(self.model.lists)
        state["list_names"] = {lid: names[lid] for lid in state["lists"]}
        return state

    # -- serving ---------------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        self._base = request.base
        try:
            return self._answer(request)
        except ApiError as error:
            return error_answer(error)

    def _answer(self, request: Request) -> Answer:
        _authenticate(request, self.api_keys, self.revoked)
        write = route(request.method, request.path)
        resource = write[0] if write else _resource(request.path)
        if resource not in self.limits.tiers:
            raise ApiError(404, "not_found", "Not found.", f"No endpoint {request.path}.")
        verdict = self.limits.check(resource)
        if not verdict.allowed:
            self.violations += 1
            raise ApiError(
                429, "throttled", "Request was throttled.",
                f"Request was throttled. Expected available in {verdict.retry_after:.0f} "
                "seconds.", retry_after=verdict.retry_after,
            )  # fmt: skip
        revision = revision_of(request.headers)
        check_parameters(resource, request.params, revision, request.path if write else None)
        headers = {
            "RateLimit-Limit": str(verdict.limit),
            "RateLimit-Remaining": str(verdict.remaining),
            "RateLimit-Reset": str(int(verdict.reset)),
        }
        now = self.clock.now()
        if write:
            with self._write_lock:
                status, reply = self.writes.answer(*write, request, now)
            return Answer(status, b"" if reply is None else orjson.dumps(reply), headers,
                          "application/vnd.api+json")  # fmt: skip
        if resource.endswith("-reports"):
            if request.method != "POST":
                raise ApiError(405, "method_not_allowed", "Method not allowed.",
                               f"{request.method} is not allowed on {request.path}.")  # fmt: skip
            body = answer_report(self.model, resource, request, now)
        else:
            if request.method != "GET":
                raise ApiError(405, "method_not_allowed", "Method not allowed.",
                               f"{request.method} is not allowed on {request.path}.")  # fmt: skip
            body = self._list(self.listings[resource], request, now)
        return Answer(200, orjson.dumps(body), headers, "application/vnd.api+json")

    # -- listing ---------------------------------------------------------------------
    def _list(self, listing: Listing, request: Request, now: datetime) -> dict[str, Any]:
        params = request.params
        size = _page_size(listing, params)
        conditions = parse_filter(params.get("filter", ""), listing)
        archived = any(c.field == "archived" and c.value is True for c in conditions)
        _check_sort(listing, params.get("sort"))
        rows = listing.rows(now, archived)
        start, end = _bounds(rows, listing, conditions)
        values = [c for c in conditions if c.field in listing.values]
        if values:
            rows, start, end = _narrowed(rows, listing, values, start, end, now)
        if any(c.field == "messages.channel" and c.value != "email" for c in conditions):
            end = start  # the brand sends email campaigns only
        token = params.get("page[cursor]")
        if token:
            start = max(start, bisect.bisect_right(rows.keys, _untoken(token), 0, rows.count))
        end = max(start, end)
        chosen = range(start, min(end, start + size))
        data: Any = (
            [rows.render(rows.items[i]) for i in chosen]
            if rows.encoded is None
            else (orjson.Fragment(b"[" + b",".join(map(rows.encoded, chosen)) + b"]"))
        )
        links: dict[str, Any] = {"self": f"{request.base}{request.path}"}
        if start + size < end:
            query = urlencode({**params, "page[cursor]": _token(rows.keys[chosen[-1]])})
            links["next"] = f"{request.base}{request.path}?{query}"
        return {"data": data, "links": links}


def _authenticate(request: Request, keys: set[str], revoked: set[str]) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme != "Klaviyo-API-Key" or not key or (key not in keys and key not in revoked):
        raise ApiError(401, "not_authenticated",
                       "Authentication credentials were not provided.",
                       "Missing or invalid private key.", {"pointer": "/data/"})  # fmt: skip
    if key in revoked:
        raise ApiError(401, "authentication_failed", "Incorrect authentication credentials.",
                       "The private key has been revoked.", {"pointer": "/data/"})  # fmt: skip


def _resource(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) == 2 and parts[0] == "api" else ""


def _page_size(listing: Listing, params: Mapping[str, str]) -> int:
    """``page[size]`` (already known to be a parameter of the request's revision)."""
    raw = params.get("page[size]")
    if raw is None:
        return listing.page_default
    if not raw.isdigit() or not 1 <= int(raw) <= listing.page_max:
        raise ApiError(400, "invalid", "Invalid input.",
                       f"page[size] must be an integer between 1 and {listing.page_max}.",
                       {"parameter": "page[size]"})  # fmt: skip
    return int(raw)


def _check_sort(listing: Listing, sort: str | None) -> None:
    if sort is not None and sort != listing.sort:
        allowed = listing.sort or "nothing"
        raise ApiError(400, "invalid", "Invalid input.",
                       f"sort '{sort}' is not simulated for {listing.name}: the simulator "
                       f"sorts it by {allowed} only.", {"parameter": "sort"})  # fmt: skip


def _bounds(rows: Rows, listing: Listing, conditions: list[Condition]) -> tuple[int, int]:
    """The index range of rows passing the sort-field conditions (the others are checked
    by ``parse_filter``: channel and archived are applied when rows are chosen)."""
    start, end = 0, rows.count
    for c in conditions:
        if c.field != listing.sort:
            continue
        if listing.sort is None or not isinstance(c.value, datetime):
            raise ApiError(400, "invalid", "Invalid input.",
                           f"Invalid date filter value for {c.field}.",
                           {"parameter": "filter"})  # fmt: skip
        low, high = (c.value,), (c.value, _MAX_KEY)
        if c.op in ("greater-than", "greater-or-equal", "equals"):
            at = high if c.op == "greater-than" else low
            start = max(start, bisect.bisect_left(rows.keys, at, 0, rows.count))
        if c.op in ("less-than", "less-or-equal", "equals"):
            at = low if c.op == "less-than" else high
            end = min(end, bisect.bisect_right(rows.keys, at, 0, rows.count))
    return start, end


def _narrowed(
    rows: Rows, listing: Listing, conditions: list[Condition], start: int, end: int,
    now: datetime,
) -> tuple[Rows, int, int]:  # fmt: skip
    """The rows in ``[start, end)`` matching every ``any``/``equals`` condition, as rows of
    their own (so paging over them works as over any listing)."""
    if listing.find is not None and rows.index is not None:
        first = conditions[0]
        ids = listing.find(first.field, first.value, now)
        positions = sorted(i for i in (rows.index.get(rid) for rid in ids) if i is not None)
    else:
        positions = list(range(start, end))
    chosen = []
    for i in positions:
        if not start <= i < end:
            continue
        rendered = rows.render(rows.items[i])
        if all(_value_of(rendered, c.field) in c.value for c in conditions):
            chosen.append(i)
    narrowed = Rows([rows.keys[i] for i in chosen], [rows.items[i] for i in chosen], rows.render)
    return narrowed, 0, narrowed.count


def _value_of(resource: Mapping[str, Any], field: str) -> Any:
    return resource.get("id") if field == "id" else (resource.get("attributes") or {}).get(field)


def _token(key: Any) -> str:
    value, rid = key
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    raw = orjson.dumps([text, rid, isinstance(value, datetime)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> Any:
    try:
        text, rid, is_time = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return (parse_time(text) if is_time else text, rid)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ApiError(400, "invalid", "Invalid input.", "Invalid page cursor.",
                       {"parameter": "page[cursor]"}) from None  # fmt: skip
