"""The ``shopify`` source: the Shopify Admin API's orders, refunds, transactions,
customers, products and inventory, read through GraphQL (settings: config.py).

How a stream is read:

    no saved cursor, or a full refresh   a Bulk Operation (bulk.py) over the whole
                                         connection
    a saved cursor                       what changed since C = cursor − lookback
                                         (inclusive, ``query: "updated_at:>='C'"``): by
                                         a Bulk Operation with that search, or paged
                                         GraphQL (sortKey UPDATED_AT, first/after); then
                                         the destroy events since C (orders, products) as
                                         deletions
    inventory_levels                     whole on every read (Shopify has no updated_at
                                         filter for levels): the first by bulk, later
                                         ones bulk or paged as below

A stream's first read goes through bulk. A later one follows ``incremental``: ``bulk``,
``paged``, or ``auto`` (the default): bulk once paging the stream's previous read would
cost ``AUTO_BULK_POINTS`` or more (its root nodes, ``state.extra["last_read"]``, times
``PAGED_POINTS``; a first sync's count counts, an unknown one means bulk), so a large
shop's day costs almost no query points (Shopify does not charge bulk queries to the
bucket) and a small shop keeps paging's lower latency (a bulk job takes a few polls,
one job per shop at a time). ``bulk: false`` pages everything. A bulk job that FAILs,
or a bulk query Shopify refuses, is read page by page instead.

A connection inside a list (a refund's ``refundLineItems``, inside ``Order.refunds``) is
refused in a bulk query: the bulk query leaves it out and the source reads its first
page for the parents in the file, many parents a query (aliased ``node(id:)``), so only
refunded orders cost points.

Every paged query costs at most 1,000 points by Shopify's published rules (cost.py): the
nested connections (line items, variants, levels …) come a page at a time, the first
inline and the rest through ``node(id:)`` on their parent, only where there are more.

Orders older than 60 days are visible only with the ``read_all_orders`` access scope.
Before a first or full sync of orders, refunds or transactions, or an incremental one
whose cursor is older than 60 days (by podium's clock), the source asks for the app's
scopes (``currentAppInstallation.accessScopes``); without that scope it stops with
an error naming it, unless ``order_history: last_60_days`` says the last 60 days will do
(then it warns).

A bulk job still running after ``bulk_timeout`` is saved in ``state.extra["bulk"]``
(the run loads nothing and succeeds); the next run polls that job instead of starting
another. Deletions come from GraphQL ``events`` (``action:destroy``), read on every
incremental sync: each becomes ``JsonPage.deleted`` so the merged row gets ``_deleted``.
(REST's ``/events.json?filter=Order&verb=destroy`` carries the same events; GraphQL keeps
the whole source on one endpoint and one cost budget.)
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from podium import clock
from podium.connectors.budgets import account_key
from podium.connectors.http import HttpClient, HttpRetry
from podium.connectors.ratelimit import shared_limiter
from podium.connectors.source import JsonPage, Page, Stream, StreamState, misconfigured
from podium.connectors.sources.rest import rewind_cursor
from podium.connectors.sources.shopify.bulk import (
    BulkFailed,
    BulkPending,
    BulkRunner,
    BulkUrlExpired,
)
from podium.connectors.sources.shopify.config import (
    AUTO_BULK_POINTS,
    ShopifyConfig,
    parse_shopify_settings,
)
from podium.connectors.sources.shopify.cost import MAX_COST, requested_cost
from podium.connectors.sources.shopify.graphql import GraphqlCostLimit, ShopifyGraphql
from podium.connectors.sources.shopify.jsonl import assemble, bulk_rows
from podium.connectors.sources.shopify.streams import (
    Nested,
    Node,
    StreamSpec,
    bulk_query,
    by_id_query,
    number,
    paged_query,
    rest_query,
    stream_specs,
)
from podium.errors import TerminalTaskError

_EVENTS = (
    "query Events($first: Int!, $after: String, $query: String) { events(first: $first, "
    "after: $after, query: $query, sortKey: CREATED_AT) { nodes { id ... on BasicEvent { "
    "action subjectType subjectId createdAt } } pageInfo { hasNextPage endCursor } } }"
)
_SCOPES = "query Scopes { currentAppInstallation { accessScopes { handle } } }"
ALL_ORDERS = "read_all_orders"
ORDER_WINDOW = timedelta(days=60)  # what Shopify shows without read_all_orders
LAST_READ = "last_read"  # state.extra: root nodes the stream's last read went through
#: the query-cost points one root node typically costs paged, nested first pages and
#: follow-ups included (measured on the simulator's brand, actualQueryCost ÷ nodes of
#: a whole paged read): ``incremental: auto``'s estimate of what paging would cost
PAGED_POINTS = {
    "orders": 40,
    "refunds": 3,
    "transactions": 4,
    "customers": 3,
    "products": 8,
    "inventory_levels": 10,
}
_MOST_ALIASES = 50  # parents per by-id query, however cheap each is


def shopify_problems(settings: Any) -> list[str]:
    """Every problem in a ``shopify`` connection's settings, each starting with its key."""
    return parse_shopify_settings(settings)[1]


def open_shopify_source(
    name: str,
    settings: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
    logger: logging.Logger | None = None,
    root: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry: HttpRetry | None = None,
) -> ShopifySource:
    """A ``ShopifySource`` for connection ``name``; ``TerminalTaskError`` if misconfigured."""
    config, problems = parse_shopify_settings(settings)
    secrets = (*secrets, *([config.access_token] if config and config.access_token else []))
    if config is None or problems:
        raise misconfigured(name, problems, secrets)
    account = account_key("shopify", _host(config.base_url), secret=config.access_token)
    limiter = shared_limiter(
        f"shopify:{name}", lambda: GraphqlCostLimit(sleep=sleep), account=f"{account}:graphql"
    )
    client = HttpClient(
        config.base_url,
        headers={"X-Shopify-Access-Token": config.access_token},
        secrets=secrets,
        timeout=config.timeout,
        retry=retry or HttpRetry(attempts=config.retries + 1),
        limiter=limiter,
        name=name,
        logger=logger,
        sleep=sleep,
    )
    assert isinstance(limiter, GraphqlCostLimit)  # noqa: S101 - the factory above makes it
    graphql = ShopifyGraphql(client, limiter, config.graphql_path, name=name, sleep=sleep)
    bulk = BulkRunner(
        graphql,
        poll_interval=config.bulk_poll_interval,
        timeout=config.bulk_timeout,
        sleep=sleep,
        logger=logger,
    )
    return ShopifySource(name, config, graphql, bulk, logger)


def _host(url: str) -> str:
    """The shop's host (``brand.myshopify.com``), what its API budget belongs to."""
    return urlsplit(url).netloc or url


def _beyond_window(since: str) -> bool:
    """Whether reading from ``since`` reaches orders older than Shopify's 60-day window
    (by podium's clock; the shop's own may be a little ahead)."""
    moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return moment < clock.now() - ORDER_WINDOW


def _rest_size(nested: Nested) -> int:
    """The largest page of ``nested``'s rest query that costs at most ``MAX_COST``."""
    per_node = requested_cost(rest_query(nested), {"first": 1}) - 3  # node 1, connection 2
    return max(1, min(250, (MAX_COST - 3) // per_node))


@cache
def _by_id_size(nested: Nested) -> int:
    """How many parents one ``by_id_query`` of ``nested`` can ask for under ``MAX_COST``."""
    return max(1, min(_MOST_ALIASES, MAX_COST // requested_cost(by_id_query(nested, 1))))


def _search(since: str | None) -> str | None:
    """The search that keeps what changed from ``since`` on (inclusive)."""
    return f"updated_at:>='{since}'" if since else None


def utc_text(moment: str) -> str:
    """An ISO time as UTC text with ``Z`` (a cursor read back from a ``timestamp`` column
    has no zone: it is UTC)."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ShopifySource:
    """Reads a ``shopify`` connection's streams (module docstring); one HTTP client."""

    def __init__(
        self,
        name: str,
        config: ShopifyConfig,
        graphql: ShopifyGraphql,
        bulk: BulkRunner,
        logger: logging.Logger | None = None,
    ) -> None:
        self.name, self.config, self.graphql, self.bulk = name, config, graphql, bulk
        self._logger = logger
        self._all_orders: bool | None = None  # read_all_orders granted, once asked
        specs = stream_specs(config.lookback)
        self._specs = {n: specs[n] for n in config.streams}

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
        since = None
        if spec.incremental and state.cursor is not None and not full_refresh:
            since = utc_text(rewind_cursor(state.cursor, stream.lookback))
        if spec.root == "orders" and (since is None or _beyond_window(since)):
            self._check_order_history(stream.name)
        read: int | None = None
        if self._by_bulk(spec, state, since):
            try:
                read = yield from self._read_bulk(spec, state, since)
            except BulkPending as pending:
                self._warn(f"stream {stream.name!r}: bulk operation {pending} still running")
                return
            except BulkFailed as failed:
                state.extra.pop("bulk", None)
                self._warn(f"stream {stream.name!r}: {failed}; reading page by page instead")
        else:
            state.extra.pop("bulk", None)  # a job saved before the mode changed
        if read is None:
            read = yield from self._read_pages(spec, since)
        state.extra[LAST_READ] = read
        if since is not None and spec.deletions:
            yield from self._read_deletions(spec, since)

    def _by_bulk(self, spec: StreamSpec, state: StreamState, since: str | None) -> bool:
        """Whether this read goes through a Bulk Operation (module docstring)."""
        if not self.config.bulk:
            return False
        read = state.extra.get(LAST_READ)
        first = since is None if spec.incremental else read is None  # or a full sync
        if first:
            return True
        if self.config.incremental != "auto":
            return self.config.incremental == "bulk"
        return read is None or int(read) * PAGED_POINTS[spec.stream.name] >= AUTO_BULK_POINTS

    def close(self) -> None:
        self.graphql.client.close()

    # -- paged ----------------------------------------------------------------------------
    def _read_pages(self, spec: StreamSpec, since: str | None) -> Generator[JsonPage, None, int]:
        """The stream page by page; the number of root nodes read."""
        variables = {"first": spec.page_size, "query": _search(since)}
        read = 0
        for nodes, where in self.graphql.pages(spec.root, paged_query(spec), variables):
            for nested in spec.nested:
                self._drain(nested, nodes)
            read += len(nodes)
            yield JsonPage([row for node in nodes for row in spec.rows(node)], where)
        return read

    def _drain(self, nested: Nested, nodes: list[Node]) -> None:
        """Each parent's ``nested`` connection made whole: the pages after the inline one."""
        parents = (
            [p for node in nodes for p in node.get(nested.inside) or []] if nested.inside else nodes
        )
        size = _rest_size(nested)
        for parent in parents:
            connection = parent.get(nested.name) or {}
            info = connection.get("pageInfo") or {}
            while info.get("hasNextPage"):
                after = info.get("endCursor")
                variables = {"id": parent["id"], "first": size, "after": after}
                data = self.graphql.execute(rest_query(nested), variables)
                more = (data.get("node") or {}).get(nested.name) or {}
                connection.setdefault("nodes", []).extend(more.get("nodes") or [])
                info = more.get("pageInfo") or {}
                if info.get("hasNextPage") and info.get("endCursor") in (None, after):
                    raise TerminalTaskError(
                        f"connection {self.name!r}: {nested.name} of {parent['id']} after "
                        f"{after!r} links to itself, so paging would never end"
                    )

    def _check_order_history(self, stream: str) -> None:
        """Stops (or warns) before a first/full sync that would silently miss orders
        older than 60 days for want of ``read_all_orders`` (module docstring)."""
        if self._all_orders is None:
            data = self.graphql.execute(_SCOPES)
            granted = (data.get("currentAppInstallation") or {}).get("accessScopes") or []
            self._all_orders = ALL_ORDERS in {s.get("handle") for s in granted}
        if self._all_orders:
            return
        if self.config.order_history == "last_60_days":
            self._warn(
                f"stream {stream!r}: the app lacks the {ALL_ORDERS} access scope, so only "
                "orders from the last 60 days are read (order_history: last_60_days)"
            )
            return
        raise TerminalTaskError(
            f"connection {self.name!r}, stream {stream!r}: the Shopify app lacks the "
            f"{ALL_ORDERS} access scope, so Shopify returns only orders from the last 60 "
            f"days and this sync (first, full, or from a cursor older than 60 days) would "
            f"silently miss older ones. Grant "
            f"{ALL_ORDERS} to the app (custom app: add the scope and reinstall; public app: "
            "request it in the Partner Dashboard), or set order_history: last_60_days on "
            "the connection to load the last 60 days only"
        )

    def _read_deletions(self, spec: StreamSpec, since: str) -> Iterator[Page]:
        search = f"action:destroy AND subject_type:{spec.deletions} AND created_at:>='{since}'"
        variables = {"first": 100, "query": search}
        for nodes, where in self.graphql.pages("events", _EVENTS, variables):
            deleted = [{"id": number(n.get("subjectId"))} for n in nodes if n.get("subjectId")]
            if deleted:
                yield JsonPage([], f"{where} (destroy events)", deleted=deleted)

    # -- bulk -----------------------------------------------------------------------------
    def _read_bulk(
        self, spec: StreamSpec, state: StreamState, since: str | None
    ) -> Generator[Page, None, int]:
        """The stream (changed since ``since``, if given) through one Bulk Operation,
        resumed if one for the same query is saved; the number of root nodes read."""
        query = bulk_query(spec, _search(since))
        digest = hashlib.sha256(query.encode()).hexdigest()[:16]
        saved = state.extra.get("bulk") or {}
        for restart in (False, True):
            job_id = saved.get("id") if saved.get("query") == digest and not restart else None
            job_id = job_id or self.bulk.start(query)
            state.extra["bulk"] = {"id": job_id, "query": digest}
            job = self.bulk.wait(job_id)
            with tempfile.TemporaryDirectory(prefix="podium-shopify-") as work:
                path = Path(work) / "result.jsonl"
                try:
                    self.bulk.download(job, path)
                except BulkUrlExpired:
                    if restart:
                        raise TerminalTaskError(
                            f"connection {self.name!r}, stream {spec.stream.name!r}: the "
                            f"result URL of bulk operation {job_id} expired twice; check the "
                            "clock of this machine and the network path to Shopify's storage"
                        ) from None
                    self._warn(f"the result URL of bulk operation {job_id} expired; rerunning")
                    continue
                location, read = f"bulk operation {job_id}", 0
                if any(nested.inside for nested in spec.nested):
                    # whole nodes first: the nested connection left out of the bulk query
                    # (streams.connection) is asked for by its parents' ids
                    for nodes in assemble(path, Path(work)):
                        for nested in spec.nested:
                            if nested.inside:
                                self._read_by_id(nested, nodes)
                                self._drain(nested, nodes)
                        read += len(nodes)
                        yield JsonPage([r for node in nodes for r in spec.rows(node)], location)
                else:
                    rows = _Counted(spec.rows)
                    for batch in bulk_rows(path, Path(work), rows):
                        yield JsonPage(batch, location)
                    read = rows.nodes
            state.extra.pop("bulk", None)
            return read
        raise AssertionError("unreachable: the second pass returns or raises")

    def _read_by_id(self, nested: Nested, nodes: list[Node]) -> None:
        """The first page of ``nested`` for every parent of it in ``nodes`` (a refund's
        line items), as many parents a query as ``MAX_COST`` allows."""
        parents = [p for node in nodes for p in node.get(nested.inside or "") or []]
        size = _by_id_size(nested)
        for start in range(0, len(parents), size):
            part = parents[start : start + size]
            ids = {f"i{n}": parent["id"] for n, parent in enumerate(part)}
            data = self.graphql.execute(by_id_query(nested, len(part)), ids)
            for n, parent in enumerate(part):
                parent[nested.name] = (data.get(f"p{n}") or {}).get(nested.name) or {}

    def _warn(self, message: str) -> None:
        if self._logger is not None:
            self._logger.warning(f"connection {self.name!r}: {message}")


class _Counted:
    """A stream's ``rows`` that counts the nodes it was given (what ``auto`` decides on)."""

    def __init__(self, rows: Callable[[Node], list[dict[str, Any]]]) -> None:
        self._rows, self.nodes = rows, 0

    def __call__(self, node: Node) -> list[dict[str, Any]]:
        self.nodes += 1
        return self._rows(node)
