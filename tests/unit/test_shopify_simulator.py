"""The Shopify simulator's bulk projection gives what graphql-core's execution gives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from graphql import execute

from podium.connectors.sources.shopify.streams import bulk_query, stream_specs
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.shopify.executor import Context, admin_schema, bulk_roots, prepared, project
from podium.sandbox.shopify.render import Snapshot

BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=6, customers=40, dtc_orders_per_day=12))
SNAPSHOT = Snapshot(BRAND, BRAND.config.start_at + timedelta(days=5))
LISTS = {
    "orders": SNAPSHOT.orders,
    "customers": SNAPSHOT.customers,
    "products": SNAPSHOT.products,
    "inventoryItems": SNAPSHOT.inventory_items,
}
STREAMS = [n for n in stream_specs(600) if n != "refunds"]  # Shopify refuses refunds in bulk


@pytest.mark.parametrize("name", STREAMS)
def test_the_bulk_projection_equals_graphql_execution(name: str) -> None:
    spec = stream_specs(600)[name]
    document, errors = prepared(bulk_query(spec, None))
    assert document is not None and not errors
    nodes = [e.node for e in LISTS[spec.root]]

    def root(field: str, args: dict[str, Any]) -> Any:
        return {"nodes": nodes, "_cursors": []}

    result = execute(admin_schema(), document, context_value=Context(root, bulk=True))
    assert not isinstance(result, type(None)) and not result.errors  # type: ignore[union-attr]
    executed = [e["node"] for e in result.data[spec.root]["edges"]]  # type: ignore[union-attr,index]
    assert (bulk_roots(document)[0].name.value, len(executed)) == (spec.root, len(nodes))
    assert project(admin_schema(), document, nodes) == executed
