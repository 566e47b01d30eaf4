"""Every GraphQL document the shopify connector can send, held to Shopify's own material.

Each is validated against Shopify's Admin SDL (``admin-2022-07.graphql`` plus the cited
``extensions.graphql``), built here straight from the files (not the simulator's wired
schema), and costed by Shopify's published rules: at most 1,000 requested points. The
connector's own estimate (from the document alone) must equal the schema-aware cost.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, build_ast_schema, concat_ast, parse, validate

from podium.connectors.sources.shopify import bulk as connector_bulk
from podium.connectors.sources.shopify import source as connector_source
from podium.connectors.sources.shopify.cost import requested_cost as connector_cost
from podium.connectors.sources.shopify.source import _by_id_size, _rest_size
from podium.connectors.sources.shopify.streams import (
    bulk_query,
    by_id_query,
    paged_query,
    rest_query,
    stream_specs,
)
from podium.sandbox.shopify.cost import requested_cost
from podium.sandbox.shopify.rules import bulk_problems

SCHEMA = Path(__file__).parents[2] / "src/podium/sandbox/shopify/schema"
MONEY = "{ shopMoney { amount currencyCode } }"


@cache
def sdl() -> GraphQLSchema:
    files = [SCHEMA / "admin-2022-07.graphql", SCHEMA / "extensions.graphql"]
    documents = [parse(f.read_text(), no_location=True) for f in files]
    return build_ast_schema(concat_ast(documents), assume_valid=True, assume_valid_sdl=True)


def documents() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, document, variables) for everything the connector can send."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for name, spec in stream_specs(600).items():
        found.append((f"{name} paged", paged_query(spec), {"first": spec.page_size}))
        found.append((f"{name} bulk", bulk_query(spec, None), {}))
        search = "updated_at:>='2026-12-01T00:00:00Z'"
        found.append((f"{name} bulk since", bulk_query(spec, search), {}))
        for nested in spec.nested:
            found.append((f"{name} {nested.name} rest", rest_query(nested), _rest(nested)))
            if nested.inside:  # left out of the bulk query, read by its parents' ids
                most = _by_id_size(nested)
                ids = {f"i{n}": f"gid://shopify/{nested.parent_type}/{n}" for n in range(most)}
                found.append((f"{name} {nested.name} by id", by_id_query(nested, most), ids))
    found.append(("events", connector_source._EVENTS, {"first": 100}))
    found.append(("scopes", connector_source._SCOPES, {}))
    found.append(("bulk run", connector_bulk._RUN, {"query": "{ x }"}))
    found.append(("bulk poll", connector_bulk._POLL, {}))
    return found


def _rest(nested: Any) -> dict[str, Any]:
    return {"id": "gid://shopify/Order/1", "first": _rest_size(nested)}


DOCUMENTS = documents()


@pytest.mark.parametrize(
    ("label", "document", "variables"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS]
)
def test_every_document_is_valid_against_shopifys_schema(
    label: str, document: str, variables: dict[str, Any]
) -> None:
    errors = validate(sdl(), parse(document))
    assert not errors, [e.message for e in errors]


SENT = [d for d in DOCUMENTS if " bulk" not in d[0]]  # a bulk query is not costed


@pytest.mark.parametrize(("label", "document", "variables"), SENT, ids=[d[0] for d in SENT])
def test_every_document_costs_at_most_1000_by_shopifys_rules(
    label: str, document: str, variables: dict[str, Any]
) -> None:
    cost = requested_cost(sdl(), parse(document), variables)
    assert cost <= 1000, f"{label} asks for {cost} points; Shopify refuses above 1000"
    assert connector_cost(document, variables) == cost  # the connector's estimate agrees


def test_the_published_rules_give_the_issues_figures() -> None:
    """The queries as they were (orders first 20, lineItems 25, shippingLines 5 …): by
    the rules, an object 1 (a money set is two), a connection 2 + first × its node."""
    line = (
        f"id sku title quantity originalUnitPriceSet {MONEY} totalDiscountSet {MONEY} "
        f"variant {{ id }} product {{ id }} discountAllocations {{ allocatedAmountSet {MONEY} "
        "discountApplication { ... on DiscountCodeApplication { code } } }"
    )
    orders = (
        "query($first: Int!) { orders(first: $first) { nodes { id customer { id } "
        + " ".join(f"{m} {MONEY}" for m in ("a1", "a2", "a3", "a4", "a5", "a6"))
        + f" lineItems(first: 25) {{ nodes {{ {line} }} }} "
        f"shippingLines(first: 5) {{ nodes {{ id originalPriceSet {MONEY} }} }} }} }} }}"
    )
    for i, field in enumerate(
        (
            "subtotalPriceSet",
            "totalDiscountsSet",
            "totalShippingPriceSet",
            "totalTaxSet",
            "totalPriceSet",
            "totalRefundedSet",
        ),
        start=1,
    ):
        orders = orders.replace(f"a{i} ", f"{field} ")
    # line 1+2+2+1+1+(1+2+1) = 11; order 1+1+6×2+(2+25×11)+(2+5×3) = 308; 2+20×308
    assert requested_cost(sdl(), parse(orders), {"first": 20}) == 6162
    assert connector_cost(orders, {"first": 20}) == 6162
    products = (
        "{ products(first: 15) { nodes { id variants(first: 50) { nodes { id "
        "inventoryItem { id } } } } } }"
    )
    assert requested_cost(sdl(), parse(products), {}) == 1547  # 2 + 15 × (1 + 2 + 50 × 2)


def test_every_bulk_query_follows_shopifys_bulk_rules() -> None:
    """refunds → refundLineItems is a connection inside a list, which Shopify refuses in
    bulk: the refunds bulk query leaves it out (the source reads it by refund id)."""
    for name, spec in stream_specs(600).items():
        for search in (None, "updated_at:>='2026-12-01T00:00:00Z'"):
            assert bulk_problems(sdl(), parse(bulk_query(spec, search))) == [], name
    refunds = bulk_query(stream_specs(600)["refunds"], None)
    assert "refunds(first: 10)" in refunds and "refundLineItems" not in refunds


def test_a_by_id_query_asks_for_as_many_parents_as_1000_points_allow() -> None:
    nested = next(n for n in stream_specs(600)["refunds"].nested if n.inside)
    most = _by_id_size(nested)
    ids = {f"i{n}": f"gid://shopify/Refund/{n}" for n in range(most + 1)}
    assert 10 <= most <= 50
    assert most == 50 or requested_cost(sdl(), parse(by_id_query(nested, most + 1)), ids) > 1000


def test_a_mutation_costs_ten() -> None:
    document = connector_bulk._RUN
    assert requested_cost(sdl(), parse(document), {"query": "{ x }"}) == 10
    assert connector_cost(document, {}) == 10
