"""The Shopify simulator answers as Shopify's published spec says, over real sockets.

Cost by Shopify's rules (a query above 1,000 requested points is refused), answers that
hold exactly the selection set (paged and bulk), Shopify's error shape for unknown
fields, the 60-day window without ``read_all_orders``, and bulk queries Shopify refuses.
The connector then copes with each: nested connections drained page by page, a refused
bulk query read page by page, a missing scope named.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, parse

from podium import clock
from podium.connectors.http import HttpRetry
from podium.connectors.source import JsonPage, StreamState
from podium.connectors.sources.shopify import ShopifySource, open_shopify_source
from podium.connectors.sources.shopify import source as connector_source
from podium.connectors.sources.shopify.source import _rest_size
from podium.connectors.sources.shopify.streams import paged_query, rest_query, stream_specs
from podium.errors import TerminalTaskError
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.server import SandboxServer
from podium.sandbox.shopify import DEMO_CREDENTIALS, ShopifySimulator, demo_connection
from podium.sandbox.shopify import shopify_truth as truth_of
from podium.sandbox.shopify.rules import LIST_CONNECTION

BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=16, customers=300, dtc_orders_per_day=30))
AT = BRAND.config.start_at + timedelta(days=6, hours=5)
LONG = Brand(BrandConfig(start=EXAMPLE_START, days=80, customers=60, dtc_orders_per_day=2))
TOKEN = DEMO_CREDENTIALS["access_token"]
MONEY = "{ shopMoney { amount currencyCode } }"
OLD_ORDERS = (  # the connector's orders query before: 6,162 points by Shopify's rules
    "query Page($first: Int!) { orders(first: $first) { nodes { id subtotalPriceSet "
    f"{MONEY} totalDiscountsSet {MONEY} totalShippingPriceSet {MONEY} totalTaxSet {MONEY} "
    f"totalPriceSet {MONEY} totalRefundedSet {MONEY} customer {{ id }} lineItems(first: 25) "
    f"{{ nodes {{ id originalUnitPriceSet {MONEY} totalDiscountSet {MONEY} variant {{ id }} "
    f"product {{ id }} discountAllocations {{ allocatedAmountSet {MONEY} discountApplication "
    "{ ... on DiscountCodeApplication { code } } } } } shippingLines(first: 5) { nodes { id "
    f"originalPriceSet {MONEY} }} }} }} }} }}"
)


class Shop:
    def __init__(self, sim: ShopifySimulator, server: SandboxServer) -> None:
        self.sim, self.server = sim, server
        self.url = server.url_for("shopify")

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/admin/api/2025-10/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": TOKEN},
        )
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    def bulk_lines(self, inner: str) -> list[dict[str, Any]]:
        run = (
            "mutation Run($query: String!) { bulkOperationRunQuery(query: $query) { "
            "bulkOperation { id } userErrors { field message code } } }"
        )
        started = self.post(run, {"query": inner})["data"]["bulkOperationRunQuery"]
        assert started["userErrors"] == []
        poll = "{ currentBulkOperation { status url } }"
        while (job := self.post(poll)["data"]["currentBulkOperation"])["status"] != "COMPLETED":
            pass
        body = httpx.get(job["url"]).content
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]

    def source(self, **settings: Any) -> ShopifySource:
        config = demo_connection(self.url)
        config.update({"bulk_poll_interval": 0, **settings})
        del config["type"]
        return open_shopify_source(
            "shop",
            config,
            secrets=[TOKEN],
            sleep=lambda s: time.sleep(min(s, 0.05)),
            retry=HttpRetry(attempts=4, backoff=0.01, max_backoff=0.05),
            logger=logging.getLogger("test.shopify"),
        )


@pytest.fixture
def shop() -> Iterator[Shop]:
    sim = ShopifySimulator(BRAND, SimClock(AT), restore_rate=100_000.0, bulk_polls=1)
    with SandboxServer({"shopify": sim}) as server:
        yield Shop(sim, server)


@pytest.fixture
def long_shop() -> Iterator[Shop]:
    """A shop 80 days old whose app lacks read_all_orders."""
    end = LONG.config.start_at + timedelta(days=79, hours=5)
    scopes = ("read_orders", "read_products", "read_customers", "read_inventory")
    sim = ShopifySimulator(LONG, SimClock(end), restore_rate=100_000.0, scopes=scopes)
    with SandboxServer({"shopify": sim}) as server:
        yield Shop(sim, server)


def selected(selection_set: SelectionSetNode | None, data: Any) -> None:
    """``data`` holds exactly the fields ``selection_set`` asked for, all the way down."""
    if selection_set is None or data is None:
        return
    if isinstance(data, list):
        for item in data:
            selected(selection_set, item)
        return
    fields = _fields(selection_set, data)
    assert set(data) == set(fields), f"asked {sorted(fields)}, got {sorted(data)}"
    for key, node in fields.items():
        selected(node.selection_set, data[key])


def _fields(selection_set: SelectionSetNode, data: dict[str, Any]) -> dict[str, FieldNode]:
    found: dict[str, FieldNode] = {}
    for s in selection_set.selections:
        if isinstance(s, FieldNode):
            found[(s.alias or s.name).value] = s
        else:  # an inline fragment: its fields are there when the type matched
            inner = _fields(s.selection_set, data)  # type: ignore[attr-defined]
            if set(inner) & set(data):
                found.update(inner)
    return found


def _operation(query: str) -> SelectionSetNode:
    return next(
        d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)
    ).selection_set


# -- 1. cost ---------------------------------------------------------------------------------
def test_a_query_over_1000_points_is_refused_as_shopify_refuses_it(shop: Shop) -> None:
    body = shop.post(OLD_ORDERS, {"first": 20})
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 6162
    assert "data" not in body


def test_requested_and_actual_cost_follow_the_rules(shop: Shop) -> None:
    query = f"{{ orders(first: 3) {{ nodes {{ id totalPriceSet {MONEY} }} }} }}"
    cost = shop.post(query)["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 3 * (1 + 2)
    assert cost["actualQueryCost"] == 2 + 3 * (1 + 2)  # three orders came back
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}


# -- 2. answers hold exactly the selection set -------------------------------------------------
def test_an_answer_holds_only_what_was_asked(shop: Shop) -> None:
    body = shop.post("{ orders(first: 2) { nodes { id } } }")
    assert body["data"] == {
        "orders": {"nodes": [{"id": n["id"]} for n in body["data"]["orders"]["nodes"]]}
    }
    assert len(body["data"]["orders"]["nodes"]) == 2


def test_an_unknown_field_is_refused_in_shopifys_shape(shop: Shop) -> None:
    body = shop.post("{ orders(first: 1) { nodes { id bogus } } }")
    assert "data" not in body
    (error,) = body["errors"]
    assert error["message"] == "Field 'bogus' doesn't exist on type 'Order'"
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Order",
        "fieldName": "bogus",
    }
    assert error["locations"]


def test_every_connector_answer_holds_exactly_its_selection(shop: Shop) -> None:
    checked = 0
    for spec in stream_specs(600).values():
        query = paged_query(spec)
        body = shop.post(query, {"first": spec.page_size})
        assert "errors" not in body, body.get("errors")
        selected(_operation(query), body["data"])
        for nested in spec.nested:
            parent = body["data"][spec.root]["nodes"][0]
            parent = (parent.get(nested.inside) or [parent])[0] if nested.inside else parent
            if "id" not in parent:
                continue
            more = rest_query(nested)
            answer = shop.post(more, {"id": parent["id"], "first": _rest_size(nested)})
            assert "errors" not in answer, answer.get("errors")
            selected(_operation(more), answer["data"])
            checked += 1
        checked += 1
    events = shop.post(connector_source._EVENTS, {"first": 100, "query": "action:destroy"})
    selected(_operation(connector_source._EVENTS), events["data"])
    assert checked >= 11


def test_bulk_lines_hold_only_the_selected_connections(shop: Shop) -> None:
    lines = shop.bulk_lines("{ orders { edges { node { id name } } } }")
    assert lines and all(set(line) == {"id", "name"} for line in lines)
    assert len(lines) == truth_of(BRAND, AT)["orders"]  # no line items: none were asked for


# -- 3. scopes and bulk shapes --------------------------------------------------------------
def test_without_read_all_orders_only_60_days_of_orders_are_shown(long_shop: Shop) -> None:
    now = long_shop.sim.clock.now()
    body = long_shop.post("{ orders(first: 250) { nodes { createdAt } } }")
    created = [n["createdAt"] for n in body["data"]["orders"]["nodes"]]
    cut = (now - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert created and min(created) >= cut
    assert len(created) < truth_of(LONG, now)["orders"]  # older ones exist, unseen


def test_a_first_sync_without_read_all_orders_stops_and_names_the_scope(long_shop: Shop) -> None:
    source = long_shop.source(streams=["orders"])
    try:
        with pytest.raises(TerminalTaskError) as failure:
            list(source.read(source.streams()[0], StreamState()))
    finally:
        source.close()
    message = str(failure.value)
    assert "read_all_orders" in message and "order_history: last_60_days" in message
    assert TOKEN not in message


def test_order_history_last_60_days_reads_them_with_a_warning(
    long_shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    source = long_shop.source(streams=["orders"], order_history="last_60_days")
    try:
        with caplog.at_level(logging.WARNING, logger="test.shopify"):
            pages = list(source.read(source.streams()[0], StreamState()))
    finally:
        source.close()
    rows = [r for p in pages if isinstance(p, JsonPage) for r in p.records]
    assert rows and "read_all_orders" in caplog.text


def test_a_connection_inside_a_list_is_refused_in_bulk(shop: Shop) -> None:
    inner = "{ orders { edges { node { id refunds { id refundLineItems { edges { node { id } } } } } } } }"
    run = (
        "mutation Run($query: String!) { bulkOperationRunQuery(query: $query) { "
        "bulkOperation { id } userErrors { field message code } } }"
    )
    payload = shop.post(run, {"query": inner})["data"]["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    assert payload["userErrors"] == [
        {"field": ["query"], "message": LIST_CONNECTION, "code": "INVALID"}
    ]


def test_a_refused_bulk_query_is_read_page_by_page(shop: Shop) -> None:
    source = shop.source(streams=["refunds"])
    spec = source._specs["refunds"]
    as_before = {n.name: replace(n, inside=None) for n in spec.nested}  # bulk keeps it in

    def refused(bulk: bool, nested: Any) -> str:
        return spec.fields(bulk, as_before)

    source._specs["refunds"] = replace(spec, fields=refused)
    try:
        pages = list(source.read(source.streams()[0], StreamState()))
    finally:
        source.close()
    rows = [r for p in pages if isinstance(p, JsonPage) for r in p.records]
    expected = truth_of(BRAND, AT)
    assert shop.sim.bulk.current is None  # Shopify refused the bulk query: no job ran
    assert len(rows) == expected["refunds"]
    assert sum(len(r["refund_line_items"]) for r in rows) == expected["refund_line_items"]


def test_refunds_come_by_bulk_and_their_line_items_by_refund_id(shop: Shop) -> None:
    """Bulk refuses a refund's line items (a connection in a list): the bulk query leaves
    them out and the source asks for them by refund id, many refunds a query, spending
    points on refunded orders only; the rows are the paged read's, to the cent."""
    rows, spent = {}, {}
    for bulk in (True, False):
        source = shop.source(streams=["refunds"], bulk=bulk)
        before = shop.sim.spent
        try:
            pages = list(source.read(source.streams()[0], StreamState()))
        finally:
            source.close()
        spent[bulk] = shop.sim.spent - before
        rows[bulk] = sorted((r for p in pages for r in p.records), key=lambda r: r["id"])
    expected = truth_of(BRAND, AT)
    assert rows[True] == rows[False] and len(rows[True]) == expected["refunds"]
    assert sum(len(r["refund_line_items"]) for r in rows[True]) == expected["refund_line_items"]
    assert shop.sim.bulk.current is not None and shop.sim.bulk.current.status == "COMPLETED"
    assert spent[True] * 4 < spent[False], spent


@pytest.mark.parametrize("bulk", [False, True])  # bulk: refund line items by refund id
def test_nested_connections_are_drained_past_their_first_page(shop: Shop, bulk: bool) -> None:
    source = shop.source(streams=["orders", "refunds"], bulk=bulk)
    for name in ("orders", "refunds"):
        spec = source._specs[name]
        source._specs[name] = replace(spec, nested=tuple(replace(n, first=1) for n in spec.nested))
    try:
        rows = {
            stream.name: [
                r
                for p in source.read(stream, StreamState())
                if isinstance(p, JsonPage)
                for r in p.records
            ]
            for stream in source.streams()
        }
    finally:
        source.close()
    expected = truth_of(BRAND, AT)
    assert sum(len(r["line_items"]) for r in rows["orders"]) == expected["line_items"]
    assert (
        sum(len(r["refund_line_items"]) for r in rows["refunds"]) == expected["refund_line_items"]
    )
    assert any(len(r["line_items"]) > 1 for r in rows["orders"])  # some did need a second page
    assert any(len(r["refund_line_items"]) > 1 for r in rows["refunds"])


def test_a_cursor_older_than_60_days_is_checked_too(long_shop: Shop) -> None:
    old = (clock.now() - timedelta(days=70)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = long_shop.source(streams=["refunds"], incremental="paged")
    try:
        stream = source.streams()[0]
        with pytest.raises(TerminalTaskError, match="read_all_orders"):
            list(source.read(stream, StreamState(cursor=old)))
        before = long_shop.server.requests("shopify")
        list(source.read(stream, StreamState(cursor=recent)))  # within the window: no check
    finally:
        source.close()
    assert long_shop.server.requests("shopify") - before == 1  # the page only
