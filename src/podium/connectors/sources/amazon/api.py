"""Calling SP-API operations: per-operation pacing and ``NextToken`` paging.

SP-API limits each operation separately (getOrders 0.0167 rps, getOrderItems 0.5 rps …),
so one ``HttpClient`` gets an ``OperationLimiter``: before each attempt it asks the
current operation's ``AmazonRateLimit`` (shared by every task of the connection through
``shared_limiter("amazon:<connection>:<operation>")``; through the store, one budget per
seller authorisation, region and operation), whose rate then follows each
response's ``x-amzn-RateLimit-Limit``; a 429 ``QuotaExceeded`` (sent without
``Retry-After``) empties that bucket so the retry waits a full ``1 / rate``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from podium.connectors.budgets import budgets_in, current_binding
from podium.connectors.http import HttpClient
from podium.connectors.ratelimit import AmazonRateLimit, Observed, RateLimiter, shared_limiter
from podium.errors import TerminalTaskError

# operation: (requests per second, burst) as Amazon publishes them; the rate is then
# taken from x-amzn-RateLimit-Limit, the burst cannot be learned and stays as published.
LIMITS: dict[str, tuple[float, float]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "listFinancialEvents": (0.5, 30),
}

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("sp_api_op", default=None)


class OperationLimiter:
    """A ``RateLimiter`` that paces whichever operation ``using(op)`` names."""

    def __init__(self, connection: str, account: str | None = None) -> None:
        self.connection, self.account = connection, account
        self._budgets = current_binding()  # asked later, maybe on another thread

    @contextlib.contextmanager
    def using(self, operation: str) -> Iterator[None]:
        reset = _CURRENT.set(operation)
        try:
            yield
        finally:
            _CURRENT.reset(reset)

    def limiter(self, operation: str) -> RateLimiter:
        rate, burst = LIMITS[operation]
        with budgets_in(self._budgets):
            return shared_limiter(
                f"amazon:{self.connection}:{operation}",
                partial(AmazonRateLimit, rate, burst),
                account=f"{self.account}:{operation}" if self.account else None,
            )

    def acquire(self) -> None:
        operation = _CURRENT.get()
        if operation is not None:
            self.limiter(operation).acquire()

    def observe(self, response: Observed) -> None:
        operation = _CURRENT.get()
        if operation is not None:
            self.limiter(operation).observe(response)


@dataclass(frozen=True)
class Answered:
    url: str  # masked, for page locations
    body: Any


class SpApi:
    """One connection's SP-API calls; ``client`` must carry ``limits`` as its limiter."""

    def __init__(self, client: HttpClient, limits: OperationLimiter, connection: str) -> None:
        self.client, self.limits, self.connection = client, limits, connection

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Answered:
        with self.limits.using(operation):
            response = self.client.request(method, path, params=params, json=json, parse_json=True)
        return Answered(response.url, response.json())

    def pages(
        self, operation: str, path: str, params: Mapping[str, str], *, v0: bool = True
    ) -> Iterator[tuple[Answered, dict[str, Any]]]:
        """Each page's answer and its body, following the model's token. The v0 models
        (Orders, Finances) wrap the body in ``payload`` and want ``NextToken`` *with the
        same parameters* ("NextToken doesn't affect any filters"; "include the same
        arguments as the call that produced the token"); Reports 2021-06-30 (``v0=False``)
        answers unwrapped and wants ``nextToken`` "as the only parameter". Empty pages that
        still carry a token are followed; a token that repeats is a ``TerminalTaskError``."""
        seen: set[str] = set()
        first = dict(params)
        name = "NextToken" if v0 else "nextToken"
        while True:
            answered = self.call(operation, "GET", path, params=params)
            body = answered.body if isinstance(answered.body, dict) else {}
            payload = body.get("payload") if v0 else body
            if not isinstance(payload, dict):
                raise TerminalTaskError(
                    f"connection {self.connection!r}: {operation} answered without a payload "
                    f"object ({answered.url}); check base_url"
                )
            yield answered, payload
            token = payload.get(name)
            if not token:
                return
            if token in seen:
                raise TerminalTaskError(
                    f"connection {self.connection!r}: {operation} sent the same {name} "
                    f"twice ({answered.url}), so paging would never end"
                )
            seen.add(token)
            params = {**first, name: token} if v0 else {name: token}
