"""Shopify's GraphQL endpoint: cost-paced queries, throttling however it is answered.

``GraphqlCostLimit`` paces by calculated cost. Each answer's ``extensions.cost.
throttleStatus`` says how many points are left and how fast they come back; before a
query is sent, ``acquire`` waits until the points it will ask for (``expect``) are there,
and reserves them, so every task sharing the connection's limiter spends one budget.
(``ratelimit.ShopifyCallLimit`` paces by the REST call bucket and guesses the next cost
from the last one; a GraphQL client knows the cost of the query it is about to send: by
Shopify's published rules (cost.py) until the server has reported it.)

``ShopifyGraphql.execute`` sends one query and returns its ``data``:

    THROTTLED (HTTP 200 or 429)      the limiter learns the bucket and waits, then retry
    INTERNAL_SERVER_ERROR, TIMEOUT   retried with backoff (Shopify sends them in short runs)
    MAX_COST_EXCEEDED, other errors  ``TerminalTaskError`` with Shopify's message
    401/403/5xx/bodies cut short     as ``HttpClient`` decides (terminal / retried)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from podium.connectors.budgets import Binding, SharedBucket, margin
from podium.connectors.http import HttpClient
from podium.connectors.ratelimit import Observed
from podium.connectors.sources.shopify.cost import requested_cost
from podium.errors import TerminalTaskError, TransientTaskError
from podium.store.budgets import Learnt, Shape

_RETRY_CODES = ("INTERNAL_SERVER_ERROR", "TIMEOUT", "SERVICE_UNAVAILABLE")


class GraphqlCostLimit:
    """Cost-based pacing; see the module docstring. Thread-safe, clock/sleep injectable."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = threading.local()
        self._available: float | None = None  # unknown until the first answer
        self._maximum, self._rate, self._at = 0.0, 1.0, clock()

    def expect(self, cost: float) -> None:
        """The cost of this thread's next query."""
        self._next.cost = cost

    def acquire(self) -> None:
        cost = float(getattr(self._next, "cost", 0.0))
        with self._lock:
            if self._available is None:
                return
            available = self._level()
            cost = min(cost, self._maximum)
            wait = max(0.0, (cost - available) / self._rate)
            self._available = available - cost
        if wait > 0:
            self._sleep(wait)

    def observe(self, response: Observed) -> None:
        parse = getattr(response, "json", None)
        if parse is None:
            return
        try:
            self.learn(parse())
        except TransientTaskError:  # not JSON: nothing to learn
            return

    def learn(self, body: Any) -> None:
        cost = body.get("extensions", {}).get("cost") if isinstance(body, dict) else None
        status = cost.get("throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(status, dict):
            return
        with self._lock:
            self._maximum = float(status.get("maximumAvailable") or 0.0)
            self._rate = float(status.get("restoreRate") or 1.0)
            self._available = float(status.get("currentlyAvailable") or 0.0)
            self._at = self._clock()

    def share(self, binding: Binding, key: str) -> GraphqlCostLimit:
        """The twin pacing ``key`` through ``binding``'s store (this one its fallback)."""
        return SharedGraphqlCostLimit(self, binding, key)

    def _level(self) -> float:
        now = self._clock()
        level = min(self._maximum, (self._available or 0.0) + (now - self._at) * self._rate)
        self._at = now
        return level


class SharedGraphqlCostLimit(GraphqlCostLimit):
    """``GraphqlCostLimit`` whose bucket is a row of the store (connectors/budgets.py):
    its size is unknown until the first answer, so one query goes first to learn it; each
    answer's refund (requested − actual cost) and ``currentlyAvailable`` settle into the
    row; a THROTTLED answer says the level counts every query in flight (``strict``)."""

    def __init__(self, local: GraphqlCostLimit, binding: Binding, key: str) -> None:
        super().__init__(clock=local._clock, sleep=local._sleep)
        self.local = local
        self._next = local._next  # ``expect`` on either names the same next cost
        self.bucket = SharedBucket(
            binding, key, Shape(1.0, 1.0, known=False, queue=False), sleep=local._sleep
        )

    def acquire(self) -> None:
        if not self.bucket.take(float(getattr(self._next, "cost", 0.0))):
            self.local.acquire()

    def observe(self, response: Observed) -> None:
        self.local.observe(response)
        parse = getattr(response, "json", None)
        body: Any = None
        if parse is not None:
            try:
                body = parse()
            except TransientTaskError:  # not JSON: nothing to learn
                body = None
        self.bucket.settle(_learnt(body))


def _learnt(body: Any) -> Learnt | None:
    """What an answer's ``extensions.cost`` says, a margin kept below the server's level."""
    cost = body.get("extensions", {}).get("cost") if isinstance(body, dict) else None
    status = cost.get("throttleStatus") if isinstance(cost, dict) else None
    if not isinstance(cost, dict) or not isinstance(status, dict):
        return None
    rate = float(status.get("restoreRate") or 1.0)
    keep = margin(rate)
    throttled = _code(body.get("errors")) == "THROTTLED" if body.get("errors") else False
    actual = cost.get("actualQueryCost")
    return Learnt(
        charged=0.0 if throttled else (float(actual) if actual is not None else None),
        available=float(status.get("currentlyAvailable") or 0.0) - keep,
        capacity=max(1.0, float(status.get("maximumAvailable") or 0.0) - keep),
        rate=rate,
        strict=throttled,
    )


class ShopifyGraphql:
    """Queries one shop's GraphQL endpoint through the connection's ``HttpClient``."""

    def __init__(
        self,
        client: HttpClient,
        limiter: GraphqlCostLimit,
        path: str,
        *,
        name: str,
        attempts: int = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.limiter, self.path, self.name = client, limiter, path, name
        self.attempts, self._sleep = attempts, sleep
        self._costs: dict[tuple[str, int], float] = {}  # learnt requestedQueryCost

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        variables = dict(variables or {})
        last, failures = "", 0  # backoff doubles per server error, not per THROTTLED
        for _attempt in range(1, self.attempts + 1):
            key = (query, int(variables.get("first", 1)))
            self.limiter.expect(self._costs.get(key) or requested_cost(query, variables))
            response = self.client.request(
                "POST", self.path, json={"query": query, "variables": variables}, parse_json=True
            )
            body = response.json()
            cost = (body.get("extensions") or {}).get("cost") or {}
            if cost.get("requestedQueryCost") is not None:
                self._costs[key] = float(cost["requestedQueryCost"])
            errors = body.get("errors")
            if not errors:
                return dict(body.get("data") or {})
            code, last = _code(errors), _message(errors)
            if code == "THROTTLED":
                continue  # the limiter has learnt the bucket; acquire waits
            if code in _RETRY_CODES:
                failures += 1
                self._sleep(min(30.0, 0.5 * 2 ** (failures - 1)))
                continue
            raise TerminalTaskError(
                self.client.mask(
                    f"connection {self.name!r}: Shopify GraphQL refused the query ({code}): "
                    f"{last}; check the connection's api_version and the app's access scopes"
                )
            )
        raise TransientTaskError(
            f"connection {self.name!r}: Shopify GraphQL still failing after {self.attempts} "
            f"attempts (last: {last}); the task's retries may try again later"
        )

    def pages(
        self, root: str, query: str, variables: Mapping[str, Any]
    ) -> Iterator[tuple[list[Any], str]]:
        """Each page of connection ``root``'s nodes with where it came from, following
        ``pageInfo`` until ``hasNextPage`` is false."""
        after: str | None = None
        while True:
            data = self.execute(query, {**variables, "after": after})
            connection = data.get(root)
            if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
                raise TerminalTaskError(
                    f"connection {self.name!r}: the answer to the {root} query has no "
                    f"{root}.nodes list; check api_version"
                )
            where = f"POST {self.client.mask(self.path)} {root} after={after or '-'}"
            yield connection["nodes"], where
            info = connection.get("pageInfo") or {}
            following = info.get("endCursor")
            if not info.get("hasNextPage"):
                return
            if not following or following == after:
                raise TerminalTaskError(
                    f"connection {self.name!r}: {root} page after {after!r} links to itself, "
                    "so paging would never end"
                )
            after = following


def _code(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = (errors[0].get("extensions") or {}).get("code")
        return str(code or "GRAPHQL_ERROR")
    return "GRAPHQL_ERROR"


def _message(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))[:300]
    return str(errors)[:300]
