"""The simulator's gatekeepers: Login with Amazon tokens and per-operation rate limits.

``Lwa`` answers ``POST /auth/o2/token`` (``grant_type=refresh_token``) like
api.amazon.com: a client that fails to authenticate gets 401 ``invalid_client``, a wrong
or revoked refresh token 400 ``invalid_grant``. Access tokens last ``expires_in`` (3600 s)
of *simulated* time, so moving the clock past that expires them as real time would.

``OperationLimits`` keeps one token bucket per SP-API operation in real time, with
Amazon's published rates and bursts unless told otherwise; a request finding its bucket
empty gets 429 ``QuotaExceeded`` without ``Retry-After`` and counts as a violation.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import orjson

from podium.sandbox.faults import Answer

# operation: (requests per second, burst), as published for SP-API.
RATE_LIMITS: dict[str, tuple[float, float]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "createReport": (0.0167, 15),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "listFinancialEvents": (0.5, 30),
}
TOKEN_LIFETIME = timedelta(seconds=3600)
_SLACK_S = 0.05  # arrival jitter forgiven, in seconds of refill


def sp_error(status: int, code: str, message: str, details: str = "") -> Answer:
    """SP-API's error shape: ``{"errors": [{"code", "message", "details"}]}``."""
    body = {"errors": [{"code": code, "message": message, "details": details}]}
    return Answer(status, orjson.dumps(body))


def _oauth_error(status: int, error: str, description: str) -> Answer:
    return Answer(status, orjson.dumps({"error": error, "error_description": description}))


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    refresh_token: str


class Lwa:
    """Issues and checks access tokens; see the module docstring."""

    def __init__(self, credentials: Credentials, now: Callable[[], datetime]) -> None:
        self.credentials, self._now = credentials, now
        self._lock = threading.Lock()
        self._tokens: dict[str, datetime] = {}  # access token → expiry (simulated time)
        self.revoked = False
        self.token_requests = 0

    def answer(self, body: bytes) -> Answer:
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        with self._lock:
            self.token_requests += 1
        c = self.credentials
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be refresh_token")
        if form.get("client_id") != c.client_id or form.get("client_secret") != c.client_secret:
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if self.revoked or form.get("refresh_token") != c.refresh_token:
            return _oauth_error(
                400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = "Atza|" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self._now() + TOKEN_LIFETIME
        body_out = {
            "access_token": token,
            "refresh_token": c.refresh_token,
            "token_type": "bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
        }
        return Answer(200, orjson.dumps(body_out))

    def refuse(self, token: str | None) -> Answer | None:
        """None when ``token`` may call the API, else the 403 SP-API answers."""
        with self._lock:
            expiry = self._tokens.get(token or "")
        if not token:
            return sp_error(
                403, "Unauthorized", "Access to requested resource is denied.",
                "The request has no x-amz-access-token header.",
            )  # fmt: skip
        if expiry is None:
            return sp_error(
                403, "Unauthorized", "Access to requested resource is denied.",
                "The access token you provided is revoked, malformed or invalid.",
            )  # fmt: skip
        if expiry <= self._now():
            return sp_error(
                403, "Unauthorized", "Access to requested resource is denied.",
                "The access token you provided has expired.",
            )  # fmt: skip
        return None

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as if an hour had passed)."""
        with self._lock:
            self._tokens = dict.fromkeys(
                self._tokens, datetime.min.replace(tzinfo=self._now().tzinfo)
            )

    def revoke(self) -> None:
        """The seller revoked the app: the refresh token and every access token are dead."""
        with self._lock:
            self.revoked = True
            self._tokens.clear()


class OperationLimits:
    """One real-time token bucket per operation; see the module docstring."""

    def __init__(
        self,
        overrides: Mapping[str, tuple[float, float]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {**RATE_LIMITS, **(overrides or {})}
        self._clock = clock
        self._lock = threading.Lock()
        start = clock()
        self._state = {op: (float(burst), start) for op, (_, burst) in self.limits.items()}
        self.violations = 0

    def header(self, operation: str) -> dict[str, str]:
        return {"x-amzn-RateLimit-Limit": f"{self.limits[operation][0]:g}"}

    def take(self, operation: str) -> Answer | None:
        """None when the request may go on, else the 429 (counted as a violation)."""
        rate, burst = self.limits[operation]
        with self._lock:
            tokens, at = self._state[operation]
            now = self._clock()
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= 1.0 - rate * _SLACK_S:
                self._state[operation] = (tokens - 1.0, now)
                return None
            self._state[operation] = (tokens, now)
            self.violations += 1
        answer = sp_error(
            429, "QuotaExceeded", "You exceeded your quota for the requested resource."
        )
        answer.headers.update(self.header(operation))
        return answer
