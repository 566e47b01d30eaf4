"""The one HTTP client every podium source uses: retries, rate limits, masking.

``HttpClient`` wraps one ``httpx.Client`` (connections are reused) and sends each request
until it succeeds, fails for good, or runs out of attempts:

    2xx                               returned (with ``parse_json``/``decode``: once the body
                                      parses; a truncated or unparsable body is re-fetched)
    408, 429, 5xx, timeouts,          retried with exponential backoff and jitter, or after
    connection errors and resets      the server's ``Retry-After`` (seconds or an HTTP date,
                                      capped at ``HttpRetry.max_retry_after``)
    any other status (401, 403, 404)  ``TerminalTaskError`` at once, naming the connection,
                                      the status, the URL, the server's message and what
                                      to check; a status in ``accept`` is returned instead
    attempts exhausted                ``TransientTaskError`` naming the attempts and the last
                                      failure (the engine's task retry may try later)

Every message and log line passes through a ``Masker`` holding the connection's secrets
(and the values of auth-looking headers), so no secret reaches an error, a log or a page
location. Time, randomness and sleeping are injectable: tests never wait.

Redirects are followed (at most ``MAX_REDIRECTS``) by this client, not by httpx, which
keeps every header but ``Authorization`` on a hop to another host. A redirect to another
origin (scheme, host, port) goes without credentials: no ``auth`` flow, and none of the
headers an auth flow added, whose name looks like a credential, or whose value holds a
secret (``X-Shopify-Access-Token``, ``x-amz-access-token``, a custom ``X-Api-Key``). One
that would re-send a request body there (307/308) is refused: a body may hold a secret.

``auth`` (an ``httpx.Auth``) runs on every attempt, so a per-request signature (OAuth 1.0a)
is made anew for each retry and a token fetched from a token endpoint can be refreshed when
it expires. Such a flow must pass what it fetches to ``HttpClient.mask.add`` if it can
ever be printed.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx
import orjson

from podium.connectors import spend
from podium.connectors.ratelimit import RateLimiter
from podium.core.masking import Masker
from podium.errors import TerminalTaskError, TransientTaskError

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
MAX_REDIRECTS = 10
# httpcore reads a response 64 KiB at a time, and each read costs a copy of everything not
# yet taken from its buffer: a page of JSON of a megabyte took ~2.9 ms of CPU instead of
# ~2.2 ms with 1 MiB reads (measured on 250-order pages). It is a plain class attribute,
# meant to be tuned; every client in the process gets the larger reads.
httpcore.HTTP11Connection.READ_NUM_BYTES = 1024 * 1024
_SSL_LOCK = threading.Lock()
_SSL: list[ssl.SSLContext] = []


def shared_ssl_context() -> ssl.SSLContext:
    """The process's one verifying TLS context (httpx's default: certifi's bundle, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as set when first asked). Building one loads the CA
    bundle, ~20 ms, which every client paid, so a sync opening its writer per attempt paid
    it per webhook; a context is safe to share between clients and threads."""
    with _SSL_LOCK:
        if not _SSL:
            _SSL.append(httpx.create_ssl_context())
        return _SSL[0]


_AUTH_WORDS = ("auth", "token", "key", "secret", "signature", "cookie")
_MESSAGE_KEYS = ("errors", "error", "message", "detail", "error_description", "title")


class UnparsableBodyError(TransientTaskError):
    """A response body that is not the JSON it should be (truncated, cut, garbled)."""


@dataclass(frozen=True)
class HttpRetry:
    """How often and how patiently a request is retried.

    ``attempts`` counts every try (1 means no retry). Backoff doubles from ``backoff`` up to
    ``max_backoff``; ``jitter`` is the share of each wait drawn at random (0.5: between half
    and all of it).
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    jitter: float = 0.5

    def backoff_for(self, attempt: int, rand: float) -> float:
        base = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return base * (1.0 - self.jitter + self.jitter * rand)


@dataclass(frozen=True)
class HttpRequest:
    """A request to send: ``params`` merge into any query ``url`` already carries."""

    method: str
    url: str
    params: Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None  # a form body (application/x-www-form-urlencoded)


class HttpResponse:
    """A complete response. ``url`` is the masked text of where it came from, for messages
    and page locations; ``real_url`` is unmasked, for resolving links, never for printing."""

    __slots__ = ("status", "headers", "content", "url", "reason", "real_url", "_mask", "_parsed")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        url: str,
        *,
        reason: str = "",
        real_url: str = "",
        mask: Callable[[str], str] = str,
    ) -> None:
        self.status, self.headers, self.content, self.url = status, headers, content, url
        self.reason, self.real_url = reason, real_url or url
        self._mask = mask
        self._parsed: tuple[Any] | None = None

    def json(self) -> Any:
        """The parsed body (as ``decode`` left it, if it was called; else by ``orjson``);
        ``UnparsableBodyError`` (retryable) when it is not JSON."""
        if self._parsed is None:
            return self.decode(orjson.loads)
        return self._parsed[0]

    def decode(self, decoder: Callable[[bytes], Any]) -> Any:
        """The body as ``decoder`` reads it, kept for ``json()``; a ``ValueError`` from
        ``decoder`` (``orjson``'s and ``msgspec``'s errors are) is ``UnparsableBodyError``."""
        try:
            self._parsed = (decoder(self.content),)
        except ValueError as exc:
            raise self._unparsable(exc) from None
        return self._parsed[0]

    def _unparsable(self, exc: Exception) -> UnparsableBodyError:
        start = self.content[:80].decode("utf-8", "replace")
        return UnparsableBodyError(
            self._mask(
                f"{self.url}: the body is not valid JSON ({exc}); "
                f"{len(self.content)} bytes starting {start!r}"
            )
        )


@dataclass(frozen=True)
class _Failure:
    reason: str
    wait: float | None = None  # the server's Retry-After, when it gave one


class HttpClient:
    """One connection's HTTP client; see the module docstring for what it retries."""

    def __init__(
        self,
        base_url: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: float = 30.0,
        retry: HttpRetry | None = None,
        limiter: RateLimiter | None = None,
        name: str = "source",
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        auth: httpx.Auth | None = None,
        accept: Iterable[int] = (),
    ) -> None:
        headers = dict(headers or {})
        self.accept = frozenset(accept)  # statuses returned as answers, besides 2xx
        auth_values = [v for k, v in headers.items() if _is_auth_header(k)]
        self.name, self.retry, self.limiter = name, retry or HttpRetry(), limiter
        self.mask = Masker([*secrets, *auth_values])
        self._logger, self._sleep, self._rand, self._clock = logger, sleep, rand, clock
        self._timeout = timeout
        self._client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,  # followed by _follow, without credentials elsewhere
            verify=shared_ssl_context(),
            transport=transport,
            auth=auth,
        )

    def get(self, url: str, params: Mapping[str, str] | None = None) -> HttpResponse:
        return self.send(HttpRequest("GET", url, params))

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> HttpResponse:
        """GET whose body must parse: ``.json()`` on the result cannot fail."""
        return self.send(HttpRequest("GET", url, params), parse_json=True)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        parse_json: bool = False,
    ) -> HttpResponse:
        return self.send(
            HttpRequest(method, url, params, json, data), headers=headers, parse_json=parse_json
        )

    def send(
        self,
        request: HttpRequest,
        *,
        headers: Mapping[str, str] | None = None,
        parse_json: bool = False,
        decode: Callable[[bytes], Any] | None = None,
    ) -> HttpResponse:
        """The response to ``request``, retried as the module docstring describes;
        with ``parse_json`` its body must parse, with ``decode`` it must decode (raise no
        ``ValueError``; ``json()`` is then what ``decode`` returned)."""
        attempts = max(1, self.retry.attempts)
        failure = _Failure("no attempt made")
        decoder = decode if decode is not None else orjson.loads if parse_json else None
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(request, headers, decoder)
            if isinstance(outcome, HttpResponse):
                return outcome
            failure = outcome
            if attempt < attempts:
                self._wait(request, attempt, failure)
        raise TransientTaskError(
            self.mask(
                f"connection {self.name!r}: {request.method} {self._url_text(request)} failed "
                f"after {attempts} attempts; last: {failure.reason}. The task's retries may "
                "try again later; if this persists, check the service's status"
            )
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one attempt ---------------------------------------------------------------------
    def _attempt(
        self,
        request: HttpRequest,
        headers: Mapping[str, str] | None,
        decoder: Callable[[bytes], Any] | None,
    ) -> HttpResponse | _Failure:
        if self.limiter is not None:
            held = time.monotonic()
            self.limiter.acquire()
            spend.paced(self.name, time.monotonic() - held)
        try:
            built = self._build(request, headers)
            own = frozenset(built.headers.keys())  # before an auth flow adds its own
            raw = self._follow(self._client.send(built), own)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise TerminalTaskError(
                self.mask(
                    f"connection {self.name!r}: {request.method} {request.url}: {exc}; "
                    f"check the base_url/path of connection {self.name!r}"
                )
            ) from None
        except httpx.TimeoutException as exc:
            return _Failure(f"no answer within {self._timeout:g}s ({type(exc).__name__})")
        except httpx.RequestError as exc:
            return _Failure(f"connection failed ({type(exc).__name__}: {exc})")
        url = str(raw.url)
        response = HttpResponse(
            raw.status_code,
            raw.headers,
            raw.content,
            self.mask(url),
            reason=raw.reason_phrase,
            real_url=url,
            mask=self.mask,
        )
        if self.limiter is not None:
            self.limiter.observe(response)
        if 200 <= response.status < 300 or response.status in self.accept:
            return response if decoder is None else self._decoded(response, decoder)
        if response.status in RETRYABLE or response.status >= 500:
            return _Failure(self._status_text(response), self._retry_after(response))
        raise self._terminal(request, response)

    def _follow(self, raw: httpx.Response, own: frozenset[str]) -> httpx.Response:
        """Follows ``raw``'s redirects; to another origin without any credential."""
        origin = _origin(raw.request.url)
        for _ in range(MAX_REDIRECTS):
            hop = raw.next_request
            if hop is None:
                return raw
            if _origin(hop.url) == origin:
                raw = self._client.send(hop)
                continue
            if hop.method not in ("GET", "HEAD"):
                raise TerminalTaskError(
                    self.mask(
                        f"connection {self.name!r}: {raw.request.method} {raw.request.url} "
                        f"was redirected ({raw.status_code}) to another origin, "
                        f"{_origin(hop.url)}, with its body; refused, as the body may hold "
                        "a secret. Point the connection at the final URL"
                    )
                )
            for name in list(hop.headers.keys()):
                if self._is_credential(name, hop.headers[name], own):
                    del hop.headers[name]
            raw = self._client.send(hop, auth=None)
        raise TerminalTaskError(
            self.mask(
                f"connection {self.name!r}: more than {MAX_REDIRECTS} redirects from "
                f"{raw.request.url}; check the connection's base_url"
            )
        )

    def _is_credential(self, name: str, value: str, own: frozenset[str]) -> bool:
        return name.lower() not in own or _is_auth_header(name) or self.mask(value) != value

    def _build(self, request: HttpRequest, headers: Mapping[str, str] | None) -> httpx.Request:
        params = dict(request.params) if request.params else None
        data = dict(request.data) if request.data is not None else None
        return self._client.build_request(
            request.method,
            request.url,
            params=params,
            json=request.json,
            data=data,
            headers=headers,
        )

    def _decoded(
        self, response: HttpResponse, decoder: Callable[[bytes], Any]
    ) -> HttpResponse | _Failure:
        try:
            response.decode(decoder)
        except UnparsableBodyError as exc:
            return _Failure(str(exc))
        return response

    def _wait(self, request: HttpRequest, attempt: int, failure: _Failure) -> None:
        if failure.wait is not None:
            wait = min(failure.wait, self.retry.max_retry_after)
        else:
            wait = self.retry.backoff_for(attempt, self._rand())
        if self._logger is not None:
            self._logger.warning(
                self.mask(
                    f"connection {self.name!r}: {request.method} {self._url_text(request)}: "
                    f"{failure.reason}; retry {attempt}/{self.retry.attempts - 1} in {wait:.2f}s"
                )
            )
        self._sleep(wait)

    def _retry_after(self, response: HttpResponse) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - self._clock())

    # -- messages ------------------------------------------------------------------------
    def _url_text(self, request: HttpRequest) -> str:
        try:
            url = self._build(request, None).url
        except httpx.HTTPError:
            return self.mask(request.url)
        return self.mask(str(url))

    def _status_text(self, response: HttpResponse) -> str:
        message = _server_message(response.content)
        text = f"{response.status} {response.reason}".rstrip()
        return self.mask(f"{text}: {message}" if message else text)

    def _terminal(self, request: HttpRequest, response: HttpResponse) -> TerminalTaskError:
        return TerminalTaskError(
            self.mask(
                f"connection {self.name!r}: {request.method} {response.url} returned "
                f"{self._status_text(response)}; {_hint(response.status, self.name)}"
            )
        )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _is_auth_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _AUTH_WORDS)


def _hint(status: int, name: str) -> str:
    if status == 401:
        return f"check the access token / API key for connection {name!r}"
    if status == 403:
        return f"check that the access token / API key for connection {name!r} has the scopes or permissions this resource needs"
    if status == 404:
        return f"check the path/base_url of connection {name!r}"
    if status == 402:
        return f"check the plan or billing of the account behind connection {name!r}"
    return (
        f"check the request's parameters (params, cursor_param, page size) for connection {name!r}"
    )


def _server_message(content: bytes, limit: int = 200) -> str:
    """The error message a server put in its body, when it is short enough to quote."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        text = content.decode("utf-8", "replace").strip()
        return text if 0 < len(text) <= limit and "<" not in text else ""
    message = _message_in(body)
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return message


def _message_in(body: Any) -> str:
    if isinstance(body, list):
        return _message_in(body[0]) if body else ""
    if not isinstance(body, dict):
        return str(body) if isinstance(body, str) else ""
    for key in _MESSAGE_KEYS:
        value = body.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list | dict) and value:
            return _message_in(value) or orjson.dumps(value).decode()
    return ""
