"""ShopifySimulator: the Shopify Admin GraphQL API over the generated brand.

    POST /admin/api/{version}/graphql.json   any query Shopify's Admin schema accepts
                                             (executor.py); served roots: orders,
                                             customers, products, inventoryItems, events,
                                             node, currentAppInstallation,
                                             currentBulkOperation; mutations
                                             bulkOperationRunQuery, tagsAdd, tagsRemove,
                                             customerUpdate, metafieldsSet (writes.py),
                                             stagedUploadsCreate,
                                             bulkOperationRunMutation
    GET  /bulk/{token}.jsonl                 a finished bulk job's file (a signed URL:
                                             no token needed; it expires)
    POST /staged-uploads                     a bulk mutation's JSONL of variables
                                             (multipart form, staged.py)

Auth is ``X-Shopify-Access-Token``; a wrong or revoked token gets Shopify's 401. A query
is validated against Shopify's SDL (an unknown field is refused in Shopify's shape,
rules.py) and its answer holds exactly its selection set. Every query is charged by
calculated cost from a bucket (``bucket_size`` points, restoring ``restore_rate`` a
second; the Standard plan's 1000 and 100 by default): the requested cost by Shopify's
published rules (cost.py; above 1,000 ``MAX_COST_EXCEEDED``), the actual cost by what was
returned, and the difference is given back. A query that asks for more than is left is
answered ``THROTTLED`` (HTTP 200 as Shopify mostly does, or ``throttled_status=429``) and
counts a violation. ``extensions.cost`` is on every answer.

The app's access ``scopes`` (default: all the connector needs, ``read_all_orders``
included) are listed by ``currentAppInstallation``; without ``read_all_orders`` orders
created more than 60 days ago are not shown, as Shopify hides them. A bulk query Shopify
refuses (a connection inside a list …, rules.py) gets its userError.

Shopify-specific faults, besides the server's generic ones: ``revoke_token()``,
``throttle_storm(n)`` (the bucket emptied by another app, not the client's fault),
``internal_errors(n)`` (GraphQL ``INTERNAL_SERVER_ERROR`` with HTTP 200),
``bulk.fail_next`` and ``bulk.expire_next``.
"""

from __future__ import annotations

import base64
import bisect
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from graphql import FieldNode, GraphQLError, OperationType, StringValueNode, execute

from podium.sandbox.brand import Brand
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request
from podium.sandbox.shopify.bulk import BulkJobs
from podium.sandbox.shopify.cost import actual_cost, operation, requested_cost
from podium.sandbox.shopify.executor import (
    Context,
    admin_schema,
    bulk_roots,
    prepared,
    project_each,
)
from podium.sandbox.shopify.render import Entry, Node, Snapshot, iso
from podium.sandbox.shopify.rules import bulk_problems, shopify_error
from podium.sandbox.shopify.staged import PATH as STAGED_PATH
from podium.sandbox.shopify.staged import StagedUploads
from podium.sandbox.shopify.webhooks import TOPICS, Delivery, deliver_webhooks
from podium.sandbox.shopify.writes import CustomerWrites

DEMO_SHOP = "podium-demo"
DEMO_TOKEN = "shpat_demo0123456789abcdef0123456789"
EXPORTABLE = ("orders", "customers", "products", "inventoryItems", "events")
WRITES = ("tagsAdd", "tagsRemove", "customerUpdate", "metafieldsSet")
ORDER_WINDOW = timedelta(days=60)  # what Shopify shows without read_all_orders
SCOPES = (
    "read_all_orders",
    "read_customers",
    "read_inventory",
    "read_orders",
    "read_products",
)
MAX_PAGE = 250
_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_TERM = re.compile(r"(\w+):(>=|<=|>|<)?'?([^'\s]+)'?")
_INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class ShopifySimulator:
    """See the module docstring. Thread-safe; ``violations`` counts overspending queries."""

    def __init__(
        self,
        brand: Brand,
        clock: SimClock,
        *,
        access_token: str = DEMO_TOKEN,
        shop: str = DEMO_SHOP,
        bucket_size: float = 1000.0,
        restore_rate: float = 100.0,
        bulk_polls: int = 3,
        url_ttl: float = 7 * 86_400.0,
        throttled_status: int = 200,
        timer: Callable[[], float] = time.monotonic,
        scopes: Iterable[str] = SCOPES,
    ) -> None:
        self.brand, self.clock, self.access_token = brand, clock, access_token
        self.scopes = frozenset(scopes)
        self.shop, self.webhooks_since = shop, clock.now()
        self.bucket_size, self.restore_rate = bucket_size, restore_rate
        self.throttled_status, self._timer = throttled_status, timer
        self.bulk = BulkJobs(polls=bulk_polls, url_ttl=url_ttl, clock=timer)
        self.violations = 0
        self.throttled = 0  # every THROTTLED answer, storms included
        self.spent = 0  # actual cost of every query answered, in points
        self.revoked = False
        self._storm = self._internal = 0
        self._available, self._at = bucket_size, timer()
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self.writes = CustomerWrites(brand)
        self.staged = StagedUploads(shop)

    # -- faults --------------------------------------------------------------------------
    def revoke_token(self) -> None:
        self.revoked = True

    def throttle_storm(self, count: int) -> None:
        with self._lock:
            self._storm = count

    def internal_errors(self, count: int) -> None:
        with self._lock:
            self._internal = count

    def deliver_webhooks(
        self, url: str, secret: str, topics: Sequence[str] = TOPICS
    ) -> list[Delivery]:
        """POSTs signed webhooks for what changed since the last delivery (webhooks.py)."""
        return deliver_webhooks(self, url, secret, topics)

    # -- serving -------------------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        if request.method == "GET" and request.path.startswith("/bulk/"):
            return self.bulk.download(request.path[len("/bulk/") :].removesuffix(".jsonl"))
        if request.method == "POST" and request.path == STAGED_PATH:
            return self.staged.upload(request)
        if not _PATH.match(request.path):
            return _json(404, {"errors": "Not Found"})
        token = request.headers.get("x-shopify-access-token")
        if self.revoked or token != self.access_token:
            return _json(401, {"errors": _INVALID_TOKEN})
        if request.method != "POST":
            return _json(405, {"errors": "GraphQL requests must be POST"})
        try:
            body = orjson.loads(request.body)
            query, variables = str(body["query"]), dict(body.get("variables") or {})
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return _json(400, {"errors": {"query": "Required parameter missing or invalid"}})
        return self._graphql(query, variables, request.base)

    def snapshot(self) -> Snapshot:
        now = self.clock.now()
        with self._lock:
            if self._snapshot is None or self._snapshot.now != now:
                self._snapshot = Snapshot(self.brand, now, self.writes.overlay)
            return self._snapshot

    def truth(self) -> dict[str, Any]:
        """The customers writes changed: their tags, note, email, phone and metafields
        (``GET /_sandbox/truth/shopify-writes``)."""
        return {"customers": self.writes.truth()}

    def _forget(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.forget_customers()

    def _graphql(self, query: str, variables: dict[str, Any], base: str) -> Answer:
        document, invalid = prepared(query)
        if document is None or invalid:
            return _json(200, {"errors": [shopify_error(e) for e in invalid]})
        schema = admin_schema()
        requested = requested_cost(schema, document, variables)
        refused = self._charge(requested)
        if refused is not None:
            return refused
        with self._lock:
            if self._internal > 0:
                self._internal -= 1
                return self._error(
                    "Internal error. Looks like something went wrong on our end.",
                    "INTERNAL_SERVER_ERROR",
                    requested,
                    locked=True,
                )
        now = iso(self.clock.now())
        context = Context(lambda name, args: self._root(name, args, base, now))
        result = execute(schema, document, variable_values=variables, context_value=context)
        assert not isinstance(result, Awaitable)  # noqa: S101 - every resolver is sync
        actual = actual_cost(schema, document, variables, result.data)
        return self._ok(
            result.data, requested, actual, [shopify_error(e) for e in result.errors or []]
        )

    def _root(self, name: str, args: dict[str, Any], base: str, now: str) -> Any:
        if name == "currentBulkOperation":
            return self.bulk.poll(base, now, str(args.get("type") or "QUERY"))
        if name == "bulkOperationRunQuery":
            return self._run_bulk(str(args.get("query") or ""), now)
        if name in WRITES:
            written = self._write(name, args)
            self._forget()
            return written
        if name == "stagedUploadsCreate":
            return self.staged.create(list(args.get("input") or []), base)
        if name == "bulkOperationRunMutation":
            mutation, path = str(args.get("mutation")), str(args.get("stagedUploadPath"))
            return self._run_bulk_mutation(mutation, path, now)
        if name == "node" and str(args.get("id")).startswith("gid://shopify/BulkOperation/"):
            return self.bulk.by_id(str(args.get("id")), base, now)
        if name == "currentAppInstallation":
            scopes = [{"handle": s, "description": s} for s in sorted(self.scopes)]
            return {"id": "gid://shopify/AppInstallation/1", "accessScopes": scopes}
        if name == "node":
            return self.snapshot().find(str(args.get("id")), self._oldest_order())
        first = args.get("first")
        if not isinstance(first, int) or not 0 < first <= MAX_PAGE:
            raise GraphQLError(f"first must be between 1 and {MAX_PAGE}, got {first!r}")
        entries = _select(self._entries(name), args.get("query"), name)
        return _page(entries, args, name)

    def _run_bulk(self, inner: str, now: str) -> dict[str, Any]:
        document, invalid = prepared(inner)
        problems = [f"Invalid bulk query: {e.message}" for e in invalid]
        if document is not None and not invalid:
            problems = bulk_problems(admin_schema(), document)
            names = [f.name.value for f in bulk_roots(document)]
            if not problems and (len(names) != 1 or names[0] not in EXPORTABLE):
                problems = [f"the simulator exports one of {', '.join(EXPORTABLE)}, not {names}"]
        if document is None or problems:
            errors = [{"field": ["query"], "message": m, "code": "INVALID"} for m in problems]
            return {"bulkOperation": None, "userErrors": errors}
        snapshot, oldest = self.snapshot(), self._oldest_order()

        def nodes() -> Iterator[Node]:
            (field,) = bulk_roots(document)
            entries = _entries_of(snapshot, field.name.value, oldest)
            search = _argument(field, "query")
            chosen = [e.node for e in _select(entries, search, field.name.value)]
            return project_each(admin_schema(), document, chosen)

        return self.bulk.start(inner, nodes, now)

    def _write(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        now, writes = self.clock.now(), self.writes
        if name == "tagsAdd":
            return writes.tags_add(str(args["id"]), args["tags"], now)
        if name == "tagsRemove":
            return writes.tags_remove(str(args["id"]), args["tags"], now)
        if name == "customerUpdate":
            return writes.customer_update(dict(args["input"]), now)
        return writes.metafields_set(list(args["metafields"]), now)

    def _run_bulk_mutation(self, mutation: str, path: str, now: str) -> dict[str, Any]:
        """``bulkOperationRunMutation``: each line of the staged JSONL is one execution's
        variables; the result file has one line per input line (``data`` with the
        payload's userErrors, or ``errors``) and its ``__lineNumber`` (0-based)."""
        document, invalid = prepared(mutation)
        problem = "; ".join(e.message for e in invalid)
        if document is not None and not invalid:
            roots = [f.name.value for f in bulk_roots(document)]
            is_mutation = operation(document).operation is OperationType.MUTATION
            if not is_mutation or len(roots) != 1 or roots[0] not in WRITES:
                problem = f"the simulator runs one of {', '.join(WRITES)} in bulk, not {roots}"
        if document is None or problem:
            return _bulk_error(["mutation"], f"Invalid mutation: {problem}", "INVALID_MUTATION")
        body = self.staged.read(path)
        if body is None:
            message = f"The JSONL file could not be found at {path!r}: upload it first."
            return _bulk_error(["stagedUploadPath"], message, "NO_SUCH_FILE")
        try:
            lines = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        except orjson.JSONDecodeError as error:
            message = f"The JSONL file is invalid ({error}): each line must be a JSON object."
            return _bulk_error(["stagedUploadPath"], message, "INVALID_STAGED_UPLOAD_FILE")
        if not all(isinstance(line, dict) for line in lines):
            message = "The JSONL file is invalid: each line must be a JSON object of variables."
            return _bulk_error(["stagedUploadPath"], message, "INVALID_STAGED_UPLOAD_FILE")
        schema = admin_schema()

        def results() -> list[Node]:
            context = Context(lambda name, args: self._write(name, args))
            out: list[Node] = []
            for number, variables in enumerate(lines):
                result = execute(schema, document, variable_values=variables, context_value=context)
                assert not isinstance(result, Awaitable)  # noqa: S101 - sync resolvers
                line: Node = {"data": result.data} if result.data is not None else {}
                if result.errors:
                    line["errors"] = [shopify_error(e) for e in result.errors]
                out.append({**line, "__lineNumber": number})
            self._forget()
            return out

        return self.bulk.start(mutation, results, now, kind="MUTATION")

    def _oldest_order(self) -> str | None:
        """Without ``read_all_orders`` Shopify shows only the last 60 days of orders."""
        if "read_all_orders" in self.scopes:
            return None
        return iso(self.clock.now() - ORDER_WINDOW)

    def _entries(self, root: str) -> list[Entry]:
        return _entries_of(self.snapshot(), root, self._oldest_order())

    # -- cost ----------------------------------------------------------------------------
    def _charge(self, requested: int) -> Answer | None:
        with self._lock:
            now = self._timer()
            self._available = min(
                self.bucket_size, self._available + (now - self._at) * self.restore_rate
            )
            self._at = now
            if requested > self.bucket_size:
                message = f"Query cost is {requested}, which exceeds the single query max cost limit ({self.bucket_size:g})."
                return self._error(message, "MAX_COST_EXCEEDED", requested, locked=True)
            if self._storm > 0 or requested > self._available:
                if self._storm > 0:
                    self._storm -= 1
                    self._available = 0.0
                else:
                    self.violations += 1
                self.throttled += 1
                return self._throttled(requested)
            self._available -= requested
            return None

    def _throttled(self, requested: int) -> Answer:
        body = {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": self._cost(requested, None)},
        }
        return _json(self.throttled_status, body)

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.bucket_size,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.restore_rate,
            },
        }

    def _ok(
        self, data: dict[str, Any] | None, requested: int, actual: int, errors: list[Any]
    ) -> Answer:
        with self._lock:
            self._available = min(self.bucket_size, self._available + max(0, requested - actual))
            self.spent += actual
            cost = self._cost(requested, actual)
        body: dict[str, Any] = {"data": data, "extensions": {"cost": cost}}
        if errors:
            body = {"errors": errors, **body}
        return _json(200, body)

    def _error(
        self, message: str, code: str, requested: int = 0, *, locked: bool = False
    ) -> Answer:
        error = {"message": message, "extensions": {"code": code}}
        if locked:
            cost = self._cost(requested, None)
        else:
            with self._lock:
                cost = self._cost(requested, None)
        return _json(200, {"errors": [error], "extensions": {"cost": cost}})


def _bulk_error(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": field, "message": message, "code": code}],
    }


def _json(status: int, body: Any) -> Answer:
    return Answer(status, orjson.dumps(body))


def _argument(field: FieldNode, name: str) -> Any:
    """A literal argument of ``field`` (a bulk query has no variables)."""
    for argument in field.arguments or ():
        if argument.name.value == name and isinstance(argument.value, StringValueNode):
            return argument.value.value
    return None


def _entries_of(snapshot: Snapshot, root: str, oldest_order: str | None) -> list[Entry]:
    if root == "orders" and oldest_order is not None:
        return [e for e in snapshot.orders if e.created_at >= oldest_order]
    lists: dict[str, Callable[[], list[Entry]]] = {
        "orders": lambda: snapshot.orders,
        "customers": lambda: snapshot.customers,
        "products": lambda: snapshot.products,
        "inventoryItems": lambda: snapshot.inventory_items,
        "events": lambda: snapshot.events,
    }
    return lists[root]()


def _select(entries: list[Entry], search: Any, root: str) -> list[Entry]:
    """The entries matching a Shopify search string (``updated_at:>='…' AND …``)."""
    if not search:
        return entries
    kept = entries
    for name, op, value in _TERM.findall(str(search)):
        if name in ("updated_at", "created_at"):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = iso(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
            kept = [e for e in kept if _compare(getattr(e, name), op or "=", moment)]
        elif name == "subject_type":
            kept = [e for e in kept if e.node.get("subjectType", "").lower() == value.lower()]
        elif name == "action":
            kept = [e for e in kept if e.node.get("action") == value]
    return kept


def _compare(left: str, op: str, right: str) -> bool:
    return {
        ">=": left >= right,
        ">": left > right,
        "<=": left <= right,
        "<": left < right,
        "=": left == right,
    }[op]


def _page(entries: list[Entry], variables: dict[str, Any], root: str) -> Node:
    """One page after ``after``, in sortKey order (UPDATED_AT, CREATED_AT or ID)."""
    key = _sort_key(
        str(variables.get("sortKey") or ("CREATED_AT" if root == "events" else "UPDATED_AT"))
    )
    ordered = entries if key is _by_updated and root != "events" else sorted(entries, key=key)
    if variables.get("reverse"):
        ordered = ordered[::-1]
        if variables.get("after"):
            raise ValueError("reverse paging with after is not simulated")
    start = 0
    after = variables.get("after")
    if after:
        position = tuple(orjson.loads(base64.urlsafe_b64decode(str(after) + "==")))
        start = bisect.bisect_right(ordered, position, key=key)
    first = int(variables.get("first", 1))
    chosen = ordered[start : start + first]
    more = start + first < len(ordered)
    cursors = [_cursor(key(e)) for e in chosen]
    info = {
        "hasNextPage": more,
        "hasPreviousPage": start > 0,
        "startCursor": cursors[0] if cursors else None,
        "endCursor": cursors[-1] if cursors else None,
    }
    return {"nodes": [e.node for e in chosen], "_cursors": cursors, "pageInfo": info}


def _by_updated(e: Entry) -> tuple[Any, ...]:
    return (e.updated_at, e.number)


def _by_created(e: Entry) -> tuple[Any, ...]:
    return (e.created_at, e.number)


def _by_id(e: Entry) -> tuple[Any, ...]:
    return ("", e.number)


def _sort_key(name: str) -> Callable[[Entry], tuple[Any, ...]]:
    return {"CREATED_AT": _by_created, "ID": _by_id}.get(name, _by_updated)


def _cursor(position: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")
