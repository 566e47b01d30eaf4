"""Token-based authentication (OAuth 1.0a, HMAC-SHA256), signed anew for every attempt.

NetSuite's TBA header::

    Authorization: OAuth realm="1234567_SB1", oauth_consumer_key="…", oauth_token="…",
        oauth_signature_method="HMAC-SHA256", oauth_timestamp="…", oauth_nonce="…",
        oauth_version="1.0", oauth_signature="…"

The signature is base64 HMAC-SHA256 of ``METHOD&enc(base URL)&enc(params)`` keyed with
``enc(consumer_secret)&enc(token_secret)``: the base URL is scheme, host (lower case) and
path without the query; the params are the query parameters and the ``oauth_*`` values
(not ``realm``, not the signature), each name and value percent-encoded (RFC 3986), sorted,
joined ``k=v`` with ``&``. The realm is the account id in upper case with ``_``
(``1234567_SB1``), the hostname uses ``-`` (``1234567-sb1``).

``TbaAuth`` is an ``httpx.Auth``: ``HttpClient`` runs it for every attempt, so each retry
carries a fresh timestamp and nonce (NetSuite rejects a nonce it has seen).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from podium.connectors.sources.netsuite.answers import check_answer

CREDENTIALS = "auth.token_id / auth.token_secret (and auth.consumer_key / auth.consumer_secret)"


def encode(text: str) -> str:
    """RFC 3986 percent-encoding: only ``A-Z a-z 0-9 - . _ ~`` stay as they are."""
    return quote(text, safe="~")


def base_url(url: str) -> str:
    """Scheme and host in lower case, default ports dropped, the path; no query."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``METHOD&enc(base URL)&enc(normalised params)``."""
    pairs = sorted((encode(k), encode(v)) for k, v in params)
    normalised = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), encode(base_url(url)), encode(normalised)))


def sign(base: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{encode(consumer_secret)}&{encode(token_secret)}".encode()
    digest = hmac.new(key, base.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def realm_of(account_id: str) -> str:
    """``1234567-sb1`` or ``1234567_sb1`` → ``1234567_SB1``."""
    return account_id.strip().upper().replace("-", "_")


@dataclass(frozen=True)
class TbaCredentials:
    account_id: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str


def authorization(
    creds: TbaCredentials,
    method: str,
    url: str,
    query: Iterable[tuple[str, str]],
    *,
    timestamp: int,
    nonce: str,
) -> str:
    """The ``Authorization: OAuth …`` value for one request."""
    oauth = {
        "oauth_consumer_key": creds.consumer_key,
        "oauth_token": creds.token_id,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": str(timestamp),
        "oauth_nonce": nonce,
        "oauth_version": "1.0",
    }
    base = base_string(method, url, [*query, *oauth.items()])
    oauth["oauth_signature"] = sign(base, creds.consumer_secret, creds.token_secret)
    fields = [f'realm="{realm_of(creds.account_id)}"']
    fields += [f'{k}="{encode(v)}"' for k, v in oauth.items()]
    return "OAuth " + ", ".join(fields)


class TbaAuth(httpx.Auth):
    """Signs every request (every retry) with a new timestamp and nonce; a 401 or 400
    answer becomes a ``TerminalTaskError`` (see ``answers.py``)."""

    requires_response_body = True

    def __init__(
        self,
        creds: TbaCredentials,
        connection: str = "netsuite",
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self.creds, self.connection, self._clock, self._nonce = creds, connection, clock, nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        query = list(request.url.params.multi_items())
        request.headers["Authorization"] = authorization(
            self.creds,
            request.method,
            str(request.url),
            query,
            timestamp=int(self._clock()),
            nonce=self._nonce(),
        )
        response = yield request
        check_answer(self.connection, response, CREDENTIALS)
