"""The ``netsuite`` source: SuiteQL over REST, sliced under the row ceiling.

Each page is ``POST /services/rest/query/v1/suiteql?limit=1000&offset=N`` with
``Prefer: transient`` and ``{"q": "SELECT …"}``; the answer carries ``items``, ``hasMore``,
``offset``, ``count``, ``totalResults`` and ``links``; the next page is the one the
``next`` link names (Oracle, "Collection Paging"). A SuiteQL query reaches at most
100,000 rows (``max_rows_per_query``) and at most 1000 pages, so at ``page_size`` 5 only
5,000 rows; an offset past either is an error. A read is therefore a chain of *slices*:
when the next page would pass that reach (a slice whose ``totalResults`` is over it
always does), the slice is cut and the next one starts at the last value read of
the slice column (``lastmodifieddate >= that``, inclusive; ``item >= that`` for inventory).
Rows at that value are read twice and merged on their key. A slice that cannot move on
(more rows than the reach share one value) is a ``TerminalTaskError``. A 4xx NetSuite
will repeat is one too, naming the stream, NetSuite's ``o:errorCode`` and what to do
(``answers.py``).

Concurrency, not rate, is what NetSuite limits (15 requests in flight per account by
default; over it REST answers 429). Every request holds a slot of a ``ConcurrencyCap``
shared by every task on the connection in this process (``max_concurrent_requests``, default 4), and a
429 is retried with backoff. Within a slice, once a page's ``totalResults`` says which
offsets hold rows, one read asks for up to ``max_concurrent_requests`` of those pages at
once and yields them in order (at most that many answers wait in memory), so a read is not
one round trip per page; parallel tasks on the connection share the cap. Other
integrations on the account share NetSuite's limit too, which is why the default leaves
room.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from podium.connectors.http import HttpClient, HttpRetry
from podium.connectors.ratelimit import Observed, shared_limiter
from podium.connectors.source import JsonPage, Page, Stream, StreamState, misconfigured
from podium.connectors.sources.netsuite.answers import NetSuiteRefusal
from podium.connectors.sources.netsuite.config import NetSuiteConfig, parse_netsuite_settings
from podium.connectors.sources.netsuite.dates import parse_instant, rewind
from podium.connectors.sources.netsuite.oauth2 import TOKEN_PATH, OAuth2Auth, OAuth2Credentials
from podium.connectors.sources.netsuite.rsa import load_private_key
from podium.connectors.sources.netsuite.streams import StreamSpec, stream_specs
from podium.connectors.sources.netsuite.tba import TbaAuth, TbaCredentials
from podium.errors import TerminalTaskError

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_PAGES = 1000  # Collection Paging: at most 1000 pages of results, whatever the limit


class ConcurrencyCap:
    """At most ``limit`` requests in flight; a ``RateLimiter`` only so ``shared_limiter``
    can hold it (``acquire``/``observe`` do nothing: use ``slot()``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            yield

    def acquire(self) -> None:
        return None

    def observe(self, response: Observed) -> None:
        return None


def netsuite_problems(settings: Any) -> list[str]:
    """Every problem in a ``netsuite`` connection's settings, each starting with its key."""
    return parse_netsuite_settings(settings)[1]


def open_netsuite_source(
    name: str,
    settings: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
    logger: logging.Logger | None = None,
    root: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> NetSuiteSource:
    """A ``NetSuiteSource`` for connection ``name``; ``TerminalTaskError`` if misconfigured.
    ``root`` is not used (nothing is read from disk)."""
    config, problems = parse_netsuite_settings(settings)
    hidden = [*secrets, *(config.secrets() if config else [])]
    if config is None or problems:
        raise misconfigured(name, problems, hidden)
    client = HttpClient(
        config.base_url,
        secrets=hidden,
        timeout=config.timeout,
        retry=HttpRetry(attempts=config.retries + 1),
        name=name,
        logger=logger,
        sleep=sleep,
        transport=transport,
        auth=_auth(name, config),
    )
    cap = shared_limiter(
        f"netsuite:{name}:{config.account_id}:{config.max_concurrent_requests}",
        lambda: ConcurrencyCap(config.max_concurrent_requests),
    )
    assert isinstance(cap, ConcurrencyCap)  # the key above is only ever made by this factory
    return NetSuiteSource(name, config, client, cap)


def _auth(name: str, config: NetSuiteConfig) -> httpx.Auth:
    a = config.auth
    if config.auth_method == "oauth2":
        try:
            key = load_private_key(a["private_key"])
        except ValueError as exc:
            raise TerminalTaskError(
                f"connection {name!r}: auth.private_key: {exc}; paste the PEM of the key "
                "whose certificate is uploaded to the integration's M2M setup"
            ) from None
        creds = OAuth2Credentials(
            a["client_id"], a["certificate_id"], key, config.base_url + TOKEN_PATH, name
        )
        return OAuth2Auth(creds)
    return TbaAuth(
        TbaCredentials(
            config.account_id, a["consumer_key"], a["consumer_secret"], a["token_id"],
            a["token_secret"],
        ),
        name,
    )  # fmt: skip


class NetSuiteSource:
    """Reads a NetSuite account's streams (see ``streams.py``) through SuiteQL."""

    def __init__(
        self, name: str, config: NetSuiteConfig, client: HttpClient, cap: ConcurrencyCap
    ) -> None:
        self.name, self.config, self.client, self.cap = name, config, client, cap
        self._specs = {s.stream.name: s for s in stream_specs(config.lookback)}

    def streams(self) -> Sequence[Stream]:
        return tuple(spec.stream for spec in self._specs.values())

    def read(
        self, stream: Stream, state: StreamState, *, full_refresh: bool = False
    ) -> Iterator[Page]:
        spec = self._specs.get(stream.name)
        if spec is None:
            raise TerminalTaskError(
                f"connection {self.name!r} has no stream {stream.name!r} "
                f"(it has: {', '.join(self._specs)})"
            )
        lower: Any = None
        if spec.stream.cursor and state.cursor is not None and not full_refresh:
            lower = rewind(str(state.cursor), stream.lookback)
        elif spec.is_dated() and self.config.start_date is not None:
            lower = self.config.start_date
        yield from self._slices(spec, lower)

    def close(self) -> None:
        self.client.close()

    def _slices(self, spec: StreamSpec, lower: Any) -> Iterator[JsonPage]:
        """Slice after slice until a page says there is no more (module docstring)."""
        size = self.config.page_size
        reachable = min(self.config.max_rows, MAX_PAGES * size)
        while True:
            query = spec.query(None if lower is None else spec.literal(lower, self.config.timezone))
            last: Any = None
            offset = 0
            ahead: list[int] = []  # offsets the last body's totalResults says are there
            while True:
                offsets = [offset, *ahead]
                for body, url in self._fetch(spec, query, offsets):
                    rows = self._records(spec, body["items"])
                    yield JsonPage(rows, f"POST {url} ({query})")
                    if rows:
                        last = self._slice_value(spec, rows[-1])
                    if not body.get("hasMore") or not rows:
                        return
                offset = self._next_offset(spec, body, offsets[-1], size)
                if offset + size > reachable:
                    break
                ahead = _pages_after(offset, size, body.get("totalResults"), reachable)
            if lower is not None and last is not None and last <= lower:
                raise self._stuck(spec, query, reachable)
            lower = last

    def _fetch(
        self, spec: StreamSpec, query: str, offsets: list[int]
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """The pages at ``offsets``, in order, up to ``max_concurrent_requests`` of them
        in flight (NetSuite limits requests in flight, not their rate; each holds a slot of
        the connection's cap, so parallel tasks on it still share the cap). At most that
        many answers wait in memory; the caller stops at a page without ``hasMore``."""
        if len(offsets) == 1 or self.config.max_concurrent_requests == 1:
            for offset in offsets:
                yield self._page(spec, query, offset)
            return
        workers = min(self.config.max_concurrent_requests, len(offsets))
        with ThreadPoolExecutor(workers, thread_name_prefix="podium-netsuite") as pool:
            pending = deque(pool.submit(self._page, spec, query, o) for o in offsets[:workers])
            following = iter(offsets[workers:])
            try:
                while pending:
                    answer = pending.popleft().result()
                    nxt = next(following, None)
                    if nxt is not None:
                        pending.append(pool.submit(self._page, spec, query, nxt))
                    yield answer
            finally:
                for future in pending:
                    future.cancel()

    def _records(self, spec: StreamSpec, items: list[Any]) -> list[dict[str, Any]]:
        try:
            return [spec.record(row, self.config.timezone) for row in items]
        except (ValueError, ArithmeticError, TypeError, AttributeError) as exc:
            raise TerminalTaskError(
                f"connection {self.name!r}, stream {spec.stream.name!r}: a row could not be "
                f"read ({exc}); the source asks for dates as ISO text (TO_CHAR), so check that "
                "base_url is the account's SuiteTalk REST host, and report this with the message"
            ) from None

    def _next_offset(
        self, spec: StreamSpec, body: Mapping[str, Any], offset: int, size: int
    ) -> int:
        """The offset of the page the ``next`` link points at (Collection Paging)."""
        links = body.get("links")
        hrefs = [
            link.get("href") for link in links if isinstance(link, dict) and link.get("rel") == "next"
        ] if isinstance(links, list) else []  # fmt: skip
        params = dict(parse_qsl(urlsplit(str(hrefs[0])).query)) if hrefs else {}
        following = params.get("offset", "")
        if not following.isdigit() or int(following) <= offset or params.get("limit") != str(size):
            raise TerminalTaskError(
                f"connection {self.name!r}, stream {spec.stream.name!r}: NetSuite said "
                f"hasMore at offset {offset} but gave no usable next link ({hrefs or links!r}); "
                "check base_url (it must be the account's SuiteTalk REST host) and report "
                "this with the message"
            )
        return int(following)

    def _page(self, spec: StreamSpec, query: str, offset: int) -> tuple[dict[str, Any], str]:
        params = {"limit": str(self.config.page_size), "offset": str(offset)}
        try:
            with self.cap.slot():
                response = self.client.request(
                    "POST",
                    SUITEQL_PATH,
                    params=params,
                    json={"q": query},
                    headers={"Prefer": "transient"},
                    parse_json=True,
                )
        except NetSuiteRefusal as refusal:
            raise refusal.for_stream(spec.stream.name, self.config.max_rows) from None
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise TerminalTaskError(
                f"connection {self.name!r}, stream {spec.stream.name!r}: {response.url} "
                "answered without an items list; check base_url (it must be the account's "
                "SuiteTalk REST host)"
            )
        return body, response.url

    @staticmethod
    def _slice_value(spec: StreamSpec, row: Mapping[str, Any]) -> datetime | int:
        value = row.get(spec.slice_field)
        return parse_instant(str(value)) if spec.is_dated() else int(str(value))

    def _stuck(self, spec: StreamSpec, query: str, reachable: int) -> TerminalTaskError:
        return TerminalTaskError(
            f"connection {self.name!r}, stream {spec.stream.name!r}: more than "
            f"{reachable} rows share one {spec.slice_column} value, so SuiteQL's "
            f"row ceiling cannot be sliced under ({query}); raise max_rows_per_query only if "
            "the account has a higher ceiling, or report this with the message"
        )


def _pages_after(offset: int, size: int, total: Any, reachable: int) -> list[int]:
    """The offsets after ``offset`` that a body's ``totalResults`` says hold rows and that
    this slice may still reach (empty when NetSuite did not say how many)."""
    if not isinstance(total, int) or isinstance(total, bool):
        return []
    return list(range(offset + size, min(total, reachable - size + 1), size))
