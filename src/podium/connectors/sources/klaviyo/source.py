"""KlaviyoSource: reads Klaviyo's JSON:API page by page, paced per endpoint.

Every request carries ``Authorization: Klaviyo-API-Key pk_…`` and ``revision``. Lists
follow ``links.next`` (``page[cursor]``) until it is null; a next link equal to the page
just read is a ``TerminalTaskError`` (paging that cannot end); the next page is asked
for while this one is made flat. Each endpoint has its own ``HttpClient`` whose limiter
(``pacing.WindowPacer``: Klaviyo's burst and steady windows) is shared, through
``shared_limiter``, by every task on the connection in this process; the client also
waits out ``Retry-After`` on a 429 and retries 5xx, resets and truncated bodies. A 401
(a revoked or wrong key) is terminal at once, naming the connection's credential; the
loader then commits nothing, so the cursor stays where it was.

Records are the resources made flat (``document.py``). Report rows are
``{groupings…, statistics…}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing
from functools import partial
from typing import Any

from podium.connectors.budgets import account_key, budgets_in, current_binding
from podium.connectors.http import HttpClient, HttpRequest, HttpRetry
from podium.connectors.prefetch import Prefetcher
from podium.connectors.ratelimit import shared_limiter
from podium.connectors.source import JsonPage, Page, Stream, StreamState
from podium.connectors.sources.klaviyo.config import JSON_API, KlaviyoConfig
from podium.connectors.sources.klaviyo.document import decode, flat_records, money, page_parts
from podium.connectors.sources.klaviyo.endpoints import ENDPOINTS, Endpoint, page_size
from podium.connectors.sources.klaviyo.pacing import window_pacer
from podium.connectors.sources.rest import rewind_cursor
from podium.errors import TerminalTaskError

REPORT_TIMEFRAME = {"key": "last_365_days"}  # Klaviyo allows at most one year
STATISTICS = (
    "recipients", "delivered", "opens", "opens_unique", "open_rate", "clicks",
    "clicks_unique", "click_rate", "conversions", "conversion_uniques",
    "conversion_value", "conversion_rate",
)  # fmt: skip
CONVERSION_METRIC = "Placed Order"
FETCH_AHEAD = 2  # decoded pages waiting to be made flat, besides the one being fetched


class KlaviyoSource:
    """One ``klaviyo`` connection; see the module docstring."""

    # Klaviyo counts each endpoint's requests apart: profiles, events and the small
    # streams are read at once, each under its own windows (the extract's threads)
    parallel_streams = 3

    def __init__(
        self,
        name: str,
        config: KlaviyoConfig,
        *,
        secrets: Sequence[str] = (),
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        windows: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.name, self.config = name, config
        self._secrets = (*secrets, config.api_key)
        self._logger, self._sleep, self._windows = logger, sleep, windows
        self._clients: dict[str, HttpClient] = {}
        self._making = threading.Lock()  # streams read on several threads make clients
        self._conversion_metric: str | None = None
        self._budgets = current_binding()  # clients are made later, maybe on other threads

    def streams(self) -> Sequence[Stream]:
        return tuple(ENDPOINTS[name].stream for name in self.config.streams)

    def read(
        self, stream: Stream, state: StreamState, *, full_refresh: bool = False
    ) -> Iterator[Page]:
        endpoint = ENDPOINTS.get(stream.name)
        if endpoint is None:
            raise TerminalTaskError(
                f"connection {self.name!r} has no stream {stream.name!r} "
                f"(it has: {', '.join(ENDPOINTS)})"
            )
        if endpoint.report is not None:
            yield self._report(endpoint)
            return
        since = None if full_refresh or state.cursor is None else state.cursor
        for params in self._passes(endpoint, stream, since):
            yield from self._pages(endpoint, params)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- lists -----------------------------------------------------------------------
    def _passes(self, endpoint: Endpoint, stream: Stream, since: Any) -> Iterator[dict[str, str]]:
        """The first request's parameters for each pass over the endpoint."""
        base: dict[str, str] = {}
        size = page_size(endpoint, self.config.revision)
        if size is not None:
            base["page[size]"] = str(size)
        conditions = []
        if endpoint.sort is not None:
            base["sort"] = endpoint.sort
            if since is not None:
                boundary = rewind_cursor(since, stream.lookback)
                conditions.append(f"{endpoint.cursor_op}({endpoint.sort},{boundary})")
        channels: Sequence[str | None] = endpoint.channels or (None,)
        archived: Sequence[bool | None] = (False, True) if endpoint.archivable else (None,)
        for channel in channels:
            for flag in archived:
                extra = [f"equals(messages.channel,'{channel}')"] if channel else []
                if flag is not None:
                    extra.append(f"equals(archived,{'true' if flag else 'false'})")
                params = dict(base)
                if conditions or extra:
                    params["filter"] = ",".join([*extra, *conditions])
                yield params

    def _pages(self, endpoint: Endpoint, params: Mapping[str, str]) -> Generator[JsonPage]:
        """The pages of one pass, fetched ahead (see ``_fetched``) and made flat here."""
        stream = endpoint.stream.name
        with Prefetcher(
            self._fetched(endpoint, params), _as_is, depth=FETCH_AHEAD,
            name=f"podium-fetch-{stream}",
        ) as ahead:  # fmt: skip
            for location, body, data in ahead:
                yield JsonPage(flat_records(body, data, stream), location)

    def _fetched(
        self, endpoint: Endpoint, params: Mapping[str, str]
    ) -> Iterator[tuple[str, Any, list[Any]]]:
        """(location, resources) of each page, in order. Run ahead in its own thread, it
        asks for the next page as soon as this one is decoded, so Klaviyo renders page
        N + 1 while page N is flattened and spooled (the cursor is in the body, so the
        pages themselves cannot be asked for out of order)."""
        client = self._client(endpoint)
        request: HttpRequest | None = HttpRequest("GET", endpoint.path, params)
        while request is not None:
            response = client.send(request, decode=decode)
            body = response.json()
            data, following = page_parts(body)
            if data is None:
                raise TerminalTaskError(
                    f"connection {self.name!r}: GET {response.url} answered without a "
                    "JSON:API data list; check base_url (is it Klaviyo's API?)"
                )
            yield f"GET {response.url}", body, data
            if not following:
                return
            if following == response.real_url:
                raise TerminalTaskError(
                    f"connection {self.name!r}: the next link of {response.url} is the same "
                    "page, so paging would never end"
                )
            request = HttpRequest("GET", str(following))

    # -- reports ---------------------------------------------------------------------
    def _report(self, endpoint: Endpoint) -> JsonPage:
        kind = str(endpoint.report)
        document = {
            "data": {
                "type": f"{kind}-values-report",
                "attributes": {
                    "statistics": list(STATISTICS),
                    "timeframe": REPORT_TIMEFRAME,
                    "conversion_metric_id": self._placed_order_metric(),
                },
            }
        }
        client = self._client(endpoint)
        response = client.send(
            HttpRequest("POST", endpoint.path, None, document),
            headers={"content-type": JSON_API},
            parse_json=True,
        )
        body = response.json()
        results = (((body or {}).get("data") or {}).get("attributes") or {}).get("results")
        if not isinstance(results, list):
            raise TerminalTaskError(
                f"connection {self.name!r}: POST {response.url} answered without "
                "data.attributes.results; check base_url and revision"
            )
        return JsonPage([_report_row(r) for r in results], f"POST {response.url}")

    def _placed_order_metric(self) -> str:
        """The id of the Placed Order metric: reports need it as the conversion metric."""
        if self._conversion_metric is None:
            with closing(self._pages(ENDPOINTS["metrics"], {})) as pages:  # stops the fetching
                for page in pages:
                    for record in page.records:
                        if record.get("name") == CONVERSION_METRIC:
                            self._conversion_metric = str(record["id"])
                            return self._conversion_metric
            raise TerminalTaskError(
                f"connection {self.name!r}: the Klaviyo account has no {CONVERSION_METRIC!r} "
                "metric, which values reports need as their conversion metric; connect the "
                "store's integration in Klaviyo or drop campaign_values/flow_values from streams"
            )
        return self._conversion_metric

    # -- clients ---------------------------------------------------------------------
    def _client(self, endpoint: Endpoint) -> HttpClient:
        key = endpoint.path
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._making:
            return self._clients.get(key) or self._new_client(endpoint)

    def _new_client(self, endpoint: Endpoint) -> HttpClient:
        key = endpoint.path
        limit = self.config.limits.get(endpoint.stream.name, endpoint.limit)
        account = account_key("klaviyo", secret=self.config.api_key)
        with budgets_in(self._budgets):
            limiter = shared_limiter(
                f"klaviyo:{self.name}:{endpoint.path}:{limit}:{self._windows}",
                partial(window_pacer, limit, self._windows, sleep=self._sleep),
                account=f"{account}:{endpoint.path}:{limit}:{self._windows}",
            )
        client = self._clients[key] = HttpClient(
            self.config.base_url,
            headers=self.config.headers(),
            secrets=self._secrets,
            timeout=self.config.timeout,
            retry=HttpRetry(attempts=self.config.retries + 1),
            limiter=limiter,
            name=self.name,
            logger=self._logger,
            sleep=self._sleep,
        )
        return client


def _report_row(result: Mapping[str, Any]) -> dict[str, Any]:
    row = {**(result.get("groupings") or {}), **(result.get("statistics") or {})}
    if "conversion_value" in row:
        row["conversion_value"] = money(row["conversion_value"])
    return row


def _as_is(page: tuple[str, Any, list[Any]]) -> tuple[str, Any, list[Any]]:
    return page
