"""Login with Amazon as an ``httpx.Auth``: refresh-token exchange, caching, one retry.

Before a request it makes sure it holds an access token: if none is cached, or the cached
one is within ``margin`` seconds of its ``expires_in``, it first sends

    POST <token_url>  grant_type=refresh_token & refresh_token & client_id & client_secret

and caches the ``access_token`` it gets back. The token goes in ``x-amz-access-token``. If
SP-API still answers 401/403 with a token that was cached (not just fetched), the token is
taken to have expired early: it is fetched anew once and the request sent again.

How LWA's refusals end:

    400 invalid_grant     TerminalTaskError naming ``refresh_token`` (revoked or wrong); the
                          failure is remembered, so later requests fail without asking again
    401 invalid_client    TerminalTaskError naming ``client_id``/``client_secret``
    429, 5xx, no answer   ``TokenEndpointUnavailable`` (an httpx transport error), which the
                          HttpClient retries with backoff like any other
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator

import httpx
import orjson

from podium.errors import TerminalTaskError

HEADER = "x-amz-access-token"


class TokenEndpointUnavailable(httpx.TransportError):
    """LWA answered 429/5xx: worth retrying like a dropped connection."""


class LwaAuth(httpx.Auth):
    """See the module docstring. ``on_token`` is told every token fetched (for masking)."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        connection: str,
        on_token: Callable[[str], None] = lambda token: None,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 60.0,
    ) -> None:
        self.token_url, self.connection = token_url, connection
        self._form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._on_token, self._clock, self._margin = on_token, clock, margin
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (token, refresh at)
        self._refused: TerminalTaskError | None = None
        self.fetches = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._cached()
        fresh = token is None
        if token is None:
            token = self._accept((yield self._token_request()))
        request.headers[HEADER] = token
        response = yield request
        if response.status_code in (401, 403) and not fresh:
            self._forget(token)
            request.headers[HEADER] = self._accept((yield self._token_request()))
            yield request

    def _cached(self) -> str | None:
        with self._lock:
            if self._refused is not None:
                raise self._refused
            if self._token is not None and self._clock() < self._token[1]:
                return self._token[0]
            return None

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token is not None and self._token[0] == token:
                self._token = None

    def _token_request(self) -> httpx.Request:
        with self._lock:
            self.fetches += 1
        return httpx.Request("POST", self.token_url, data=self._form)

    def _accept(self, response: httpx.Response) -> str:
        """The access token in LWA's answer, cached; or the error its refusal means."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise TokenEndpointUnavailable(
                f"Login with Amazon ({self.token_url}) answered {status}", request=response.request
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = {}
        if status == 200 and not (
            isinstance(body, dict) and isinstance(body.get("access_token"), str)
        ):
            raise TokenEndpointUnavailable(
                f"Login with Amazon ({self.token_url}) answered 200 without an access_token "
                "(a cut or garbled body)",
                request=response.request,
            )
        if status == 200 and isinstance(body, dict):
            token: str = body["access_token"]
            lifetime = float(body.get("expires_in") or 3600)
            self._on_token(token)
            with self._lock:
                self._token = (token, self._clock() + max(lifetime - self._margin, lifetime / 2))
            return token
        raise self._refusal(status, body if isinstance(body, dict) else {})

    def _refusal(self, status: int, body: dict[str, object]) -> TerminalTaskError:
        error = str(body.get("error") or "")
        said = f"{status} {error}: {body.get('error_description') or ''}".rstrip(": ")
        if error == "invalid_grant":
            advice = (
                "its refresh_token is no longer valid (the seller revoked the app's "
                "authorization, or it was mistyped); re-authorize the app in Seller Central "
                "and update the secret behind refresh_token"
            )
        elif error == "invalid_client" or status == 401:
            advice = "check its client_id and client_secret (the LWA credentials of the app)"
        else:
            advice = "check its token_url, client_id, client_secret and refresh_token"
        refused = TerminalTaskError(
            f"connection {self.connection!r}: Login with Amazon refused the token exchange "
            f"({said}); {advice}. Nothing was loaded and the cursor is unchanged"
        )
        with self._lock:
            self._refused = refused
        return refused
