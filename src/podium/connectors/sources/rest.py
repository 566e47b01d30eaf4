"""The generic ``rest`` source: any paged JSON API described in ``podium.yaml``.

.. code-block:: yaml

    connections:
      shop_api:
        type: rest
        base_url: http://127.0.0.1:8000
        headers: {X-Api-Key: "${SHOP_API_KEY}"}     # auth header(s), from secrets
        params: {api_version: "2025-01"}            # optional: sent by every stream
        page_size: 250                              # sent as page_size_param
        page_size_param: limit                      # default limit
        pagination: {style: link}                   # see below; default none (one request)
        rate_limit: {requests_per_second: 4, burst: 8}   # or {signal: shopify|amazon}
        timeout: 30s                                # per request
        retries: 5                                  # retries after the first attempt
        streams:
          orders:
            path: /orders.json
            records: orders          # dotted path to the records list; "" = the body is one
            primary_key: id          # or [a, b]
            cursor: updated_at       # optional: incremental
            cursor_param: updated_at_min   # how the saved cursor is sent (inclusive)
            lookback: 10m            # subtracted from the saved cursor (units for numbers)
            write_mode: merge        # append | merge | replace (default merge with a key)
            schema: evolve           # evolve | freeze | discard_row
            type_conflict: widen     # widen | variant
            keep_document: false
            params: {status: any}
            columns: {total_price: "decimal(18,2)"}
            table: shop_orders       # optional; default the stream's name
            # page_size and pagination may also be set per stream

Pagination styles:

    {style: link}                                  Link: <…>; rel="next" (Shopify REST)
    {style: cursor, next: next_cursor, param: cursor}   token in the body → ?cursor=
        keep_params: false sends the token alone (SP-API getReports' nextToken)
    {style: next_url, next: links.next}            full URL in the body (JSON:API, Klaviyo)
    {style: offset, offset_param: offset, limit_param: limit, has_more: hasMore}
        without has_more a short page ends the read, so page_size must not exceed the
        server's maximum
    {style: none}                                  one request

``rate_limit.signal: shopify`` paces by ``X-Shopify-Shop-Api-Call-Limit`` (leaking
``requests_per_second``, default 2); ``amazon`` follows ``x-amzn-RateLimit-Limit``. Every
task using the connection in one process shares its limiter.

``read`` yields one page per response (a ``JsonBody`` the loader reads from the bytes, or a
``JsonPage`` when paging reads the body) (never holding more than one page), located
``GET <masked URL>``. With a saved cursor (and no full refresh) the first request carries
``cursor_param = cursor - lookback`` (``rewind_cursor``). A missing or non-list records
path, a page that repeats the previous one, or a next request equal to the last is a
``TerminalTaskError``: paging that cannot end is a configuration problem, not bad luck.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from podium.connectors.http import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    HttpRetry,
    UnparsableBodyError,
)
from podium.connectors.pagination import (
    BodyCursorPaginator,
    Fetched,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    Paginator,
    read_path,
)
from podium.connectors.ratelimit import (
    AmazonRateLimit,
    RateLimiter,
    ShopifyCallLimit,
    TokenBucket,
    shared_limiter,
)
from podium.connectors.source import (
    JsonBody,
    JsonPage,
    Page,
    Stream,
    StreamState,
    misconfigured,
)
from podium.connectors.sources.rest_config import (
    PaginationConfig,
    RateLimitConfig,
    RestConfig,
    StreamConfig,
    parse_rest_settings,
)
from podium.errors import TerminalTaskError

__all__ = ["RestSource", "open_rest_source", "rest_limiter", "rest_problems", "rewind_cursor"]

_MISSING = object()


def rest_problems(settings: Any) -> list[str]:
    """Every problem in a ``rest`` connection's settings, each starting with its key path."""
    return parse_rest_settings(settings)[1]


def open_rest_source(
    name: str,
    settings: Mapping[str, Any],
    *,
    secrets: Iterable[str],
    logger: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    root: Path | None = None,
) -> RestSource:
    """A ``RestSource`` for connection ``name``; ``TerminalTaskError`` if misconfigured.

    ``root`` (the project folder, which every opener is given) is not used: a rest source
    reads nothing from disk."""
    secrets = tuple(secrets)
    config, problems = parse_rest_settings(settings)
    if config is not None and not config.streams and not problems:
        problems = ["streams: is required to read from it: name at least one stream with its path"]
    if config is None or problems:
        raise misconfigured(name, problems, secrets)
    client = HttpClient(
        config.base_url,
        headers=config.headers,
        secrets=secrets,
        timeout=config.timeout,
        retry=HttpRetry(attempts=config.retries + 1),
        limiter=rest_limiter(name, config.rate_limit, sleep),
        name=name,
        logger=logger,
        sleep=sleep,
    )
    return RestSource(name, config, client)


def rest_limiter(
    name: str, config: RateLimitConfig | None, sleep: Callable[[float], None]
) -> RateLimiter | None:
    """The connection's limiter, one per process: reads and syncs through it share it."""
    if config is None:
        return None
    rate, burst = config.requests_per_second, config.burst
    factory: Callable[[], RateLimiter]
    if config.signal == "shopify":
        factory = partial(ShopifyCallLimit, rate or 2.0, sleep=sleep)
    elif config.signal == "amazon":
        factory = partial(AmazonRateLimit, rate or 1.0, burst or 1.0, sleep=sleep)
    else:
        factory = partial(TokenBucket, rate or 1.0, burst or 1.0, sleep=sleep)
    return shared_limiter(f"rest:{name}:{config}", factory)


class RestSource:
    """Reads a ``rest`` connection's streams page by page; holds one HTTP client."""

    def __init__(self, name: str, config: RestConfig, client: HttpClient) -> None:
        self.name, self.config, self.client = name, config, client
        self._specs = {spec.stream.name: spec for spec in config.streams}

    def streams(self) -> Sequence[Stream]:
        return tuple(spec.stream for spec in self.config.streams)

    def read(
        self, stream: Stream, state: StreamState, *, full_refresh: bool = False
    ) -> Iterator[Page]:
        spec = self._spec(stream)
        paginator = _paginator(spec)
        first = HttpRequest("GET", spec.path, self._first_params(spec, stream, state, full_refresh))
        request: HttpRequest | None = paginator.first(first)
        path = spec.records.split(".") if spec.records else []
        # Unless paging reads the body, the loader gets the body as bytes and parses it only
        # if its records hold something new (``JsonBody``); a path with a list index is
        # always parsed here. Such a body is not checked here either: the loader's reading
        # of it checks it, and a body that turns out truncated or garbled is fetched again
        # when its records are asked for (``_records``).
        raw = not paginator.reads_body and not any(part.isdigit() for part in path)
        previous = b""  # the previous body: compared, not hashed (a hash reads every byte)
        while request is not None:
            response = self.client.send(request, parse_json=not raw)
            location = f"{request.method} {response.url}"
            parse = partial(self._records, stream, spec, request, response)
            page: JsonPage | JsonBody = (
                JsonBody(response.content, path, location, parse)
                if raw
                else JsonPage(parse(), location)
            )
            yield page
            count = page.record_count() if isinstance(page, JsonBody) else len(page.records)
            if count and response.content == previous:  # the load fails: nothing committed
                raise self._stuck(stream, response.url, "is the previous page again")
            previous = response.content
            body = response.json() if paginator.reads_body else None
            following = paginator.next(Fetched(request, response, body, count))
            if following == request:
                raise self._stuck(stream, response.url, "links to itself")
            request = following

    def _records(
        self, stream: Stream, spec: StreamConfig, request: HttpRequest, response: HttpResponse
    ) -> list[Any]:
        try:
            body = response.json()
        except UnparsableBodyError:  # a raw body, unchecked: fetched again, with retries
            body = self.client.send(request, parse_json=True).json()
        records = read_path(body, spec.records, _MISSING)
        if not isinstance(records, list):
            raise self._no_records(stream, response.url, spec, records is _MISSING)
        return records

    def _spec(self, stream: Stream) -> StreamConfig:
        spec = self._specs.get(stream.name)
        if spec is None:
            known = ", ".join(self._specs) or "none"
            raise TerminalTaskError(
                f"connection {self.name!r} has no stream {stream.name!r} (it has: {known})"
            )
        return spec

    def _stuck(self, stream: Stream, url: str, what: str) -> TerminalTaskError:
        return TerminalTaskError(
            f"connection {self.name!r}, stream {stream.name!r}: the page of {url} {what}, so "
            f"paging would never end; check streams.{stream.name}.pagination (does the API "
            "take the parameters it is sent?)"
        )

    def close(self) -> None:
        self.client.close()

    def _first_params(
        self, spec: StreamConfig, stream: Stream, state: StreamState, full_refresh: bool
    ) -> dict[str, str]:
        params = dict(spec.params)
        if spec.page_size and spec.pagination.style != "offset":
            params[self.config.page_size_param] = str(spec.page_size)
        if spec.cursor_param and state.cursor is not None and not full_refresh:
            params[spec.cursor_param] = rewind_cursor(state.cursor, stream.lookback)
        return params

    def _no_records(
        self, stream: Stream, url: str, spec: StreamConfig, missing: bool
    ) -> TerminalTaskError:
        where = f"records path {spec.records!r}" if spec.records else "the body"
        what = "is missing" if missing else "is not a list"
        return TerminalTaskError(
            f"connection {self.name!r}, stream {stream.name!r}: {where} {what} in the "
            f"response of GET {url}; check streams.{stream.name}.records"
        )


def _paginator(spec: StreamConfig) -> Paginator:
    p: PaginationConfig = spec.pagination
    if p.style == "link":
        return LinkHeaderPaginator(p.rel)
    if p.style == "cursor":
        return BodyCursorPaginator(p.next, p.param, keep_params=p.keep_params)
    if p.style == "next_url":
        return NextUrlPaginator(p.next)
    if p.style == "offset":
        return OffsetPaginator(p.offset_param, p.limit_param, spec.page_size or 100, p.has_more)
    return _SinglePage()


class _SinglePage:
    reads_body = False

    def first(self, request: HttpRequest) -> HttpRequest:
        return request

    def next(self, fetched: Fetched) -> HttpRequest | None:
        return None


_FRACTION = re.compile(r"[T ]\d{2}:\d{2}(:\d{2})?(?:\.(\d+))?")


def rewind_cursor(cursor: Any, lookback: float) -> str:
    """``cursor`` moved back by ``lookback``, as text for a query parameter.

    Numbers subtract; ISO-8601 timestamps subtract seconds and keep their style (``T`` or
    space, fraction digits, ``Z`` or an offset, date only); anything else is sent as is.
    """
    if isinstance(cursor, int | float) and not isinstance(cursor, bool):
        value = cursor - lookback
        return (
            str(int(value)) if float(value).is_integer() and isinstance(cursor, int) else str(value)
        )
    text = str(cursor)
    if not lookback:
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    moved = moment - timedelta(seconds=lookback)
    if len(text) == 10:
        return moved.date().isoformat()
    shape = _FRACTION.search(text)
    spec = "seconds"
    if shape and not shape.group(1):
        spec = "minutes"
    elif shape and shape.group(2):
        spec = "milliseconds" if len(shape.group(2)) == 3 else "microseconds"
    out = moved.isoformat(sep=text[10], timespec=spec)
    if text[-1] in "Zz" and out.endswith("+00:00"):
        return out[:-6] + "Z"
    if re.search(r"[+-]\d{4}$", text) and re.search(r"[+-]\d{2}:\d{2}$", out):
        return out[:-3] + out[-2:]
    return out
