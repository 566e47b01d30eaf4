"""OAuth 2.0 client credentials (machine to machine): a JWT assertion for a Bearer token.

    POST {base_url}/services/rest/auth/oauth2/v1/token
        grant_type=client_credentials
        client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
        client_assertion=<JWT>

The JWT header is ``{"alg": "PS256", "typ": "JWT", "kid": <certificate_id>}``; its claims
``iss`` (the integration's client id), ``scope`` (``["rest_webservices"]``), ``aud`` (the
token URL), ``iat`` and ``exp`` (at most an hour later). NetSuite answers
``{"access_token", "expires_in", "token_type": "bearer"}``; the token is cached until a
minute before it expires and sent as ``Authorization: Bearer``.

``OAuth2Auth`` is an ``httpx.Auth``: the token request runs inside the flow of the first
request that needs one (one token per connection, shared by threads). A 401 on an API call
drops the token and tries once with a new one. A token endpoint that refuses the assertion
(400/401) is a ``TerminalTaskError`` naming the settings to check; a 5xx from it is handed to
the ``HttpClient`` as that request's answer, so it is retried like any other.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx
import jwt
import orjson

from podium.connectors.sources.netsuite.answers import check_answer
from podium.connectors.sources.netsuite.rsa import RsaKey
from podium.errors import TerminalTaskError

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
CREDENTIALS = "auth.client_id / auth.certificate_id / auth.private_key"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def make_assertion(
    key: RsaKey, client_id: str, certificate_id: str, audience: str, now: float
) -> str:
    """A PS256-signed JWT for NetSuite's client-credentials token request (PyJWT)."""
    claims = {
        "iss": client_id,
        "scope": ["rest_webservices"],
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + 3600,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="PS256", headers={"kid": certificate_id, "typ": "JWT"})


@dataclass(frozen=True)
class OAuth2Credentials:
    client_id: str
    certificate_id: str
    key: RsaKey
    token_url: str
    connection: str


class OAuth2Auth(httpx.Auth):
    """Fetches, caches and renews the Bearer token (see the module docstring)."""

    requires_response_body = True

    def __init__(self, creds: OAuth2Credentials, *, clock: Callable[[], float] = time.time):
        self.creds, self._clock = creds, clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (token, expires at)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for attempt in (1, 2):
            token = self._valid_token()
            if token is None:
                response = yield self._token_request()
                token = self._take_token(response)
                if token is None:
                    return  # a 5xx from the token endpoint: the client retries
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401 or attempt == 2:
                check_answer(self.creds.connection, response, CREDENTIALS)
                return
            with self._lock:
                self._token = None

    def _valid_token(self) -> str | None:
        with self._lock:
            if self._token and self._token[1] - 60 > self._clock():
                return self._token[0]
        return None

    def _token_request(self) -> httpx.Request:
        c = self.creds
        assertion = make_assertion(c.key, c.client_id, c.certificate_id, c.token_url, self._clock())
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        return httpx.Request("POST", c.token_url, data=form)

    def _take_token(self, response: httpx.Response) -> str | None:
        if response.status_code >= 500 or response.status_code in (408, 429):
            return None
        body = _json(response.content)
        token = body.get("access_token") if response.status_code == 200 else None
        if not isinstance(token, str) or not token:
            detail = body.get("error_description") or body.get("error") or response.reason_phrase
            raise TerminalTaskError(
                f"connection {self.creds.connection!r}: NetSuite's token endpoint refused the "
                f"client-credentials assertion ({response.status_code}: {detail}); check "
                "auth.client_id, auth.certificate_id and auth.private_key, and that the "
                "certificate is mapped to the integration and role (a sandbox refresh clears it)"
            )
        seconds = float(str(body.get("expires_in") or 3600))
        with self._lock:
            self._token = (token, self._clock() + seconds)
        return token


def _json(content: bytes) -> dict[str, object]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}
