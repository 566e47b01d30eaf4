"""The Shopify destination's pure parts: customer ids, metafield values as the strings
Shopify stores, and the aliased and bulk documents (valid against Shopify's schema)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from graphql import parse, validate

from podium.sandbox.shopify.executor import admin_schema
from podium.syncs.destinations.shopify_client import (
    SIGNATURES,
    Call,
    aliased_document,
    customer_gid,
    single_document,
)
from podium.syncs.destinations.shopify_writers import metafield_value


@pytest.mark.parametrize(
    ("given", "wanted"),
    [
        (544365967, "gid://shopify/Customer/544365967"),
        ("544365967", "gid://shopify/Customer/544365967"),
        (" gid://shopify/Customer/7 ", "gid://shopify/Customer/7"),
        ("gid://shopify/Order/7", None),
        ("abc", None),
        (None, None),
    ],
)
def test_customer_ids_are_numbers_or_customer_gids(given: object, wanted: str | None) -> None:
    assert customer_gid(given) == wanted


@pytest.mark.parametrize(
    ("value", "kind", "wanted"),
    [
        (Decimal("1234.50"), "number_decimal", "1234.50"),
        (Decimal("1E+2"), "number_decimal", "100"),
        (3, "number_integer", "3"),
        (True, "boolean", "true"),
        ({"churn": Decimal("0.12"), "n": Decimal("2")}, "json", '{"churn":0.12,"n":2}'),
        ('{"already":"json"}', "json", '{"already":"json"}'),
        ([1, "a"], "json", '[1,"a"]'),
        (date(2026, 12, 7), "date", "2026-12-07"),
        (datetime(2026, 12, 7, 6, tzinfo=UTC), "date_time", "2026-12-07T06:00:00+00:00"),
        ("vip", "single_line_text_field", "vip"),
    ],
)
def test_metafield_values_are_strings_as_shopify_stores_them(
    value: object, kind: str, wanted: str
) -> None:
    assert metafield_value(value, kind) == wanted


def test_aliased_and_bulk_documents_are_valid_against_shopifys_schema() -> None:
    calls = [
        Call("tagsAdd", {"id": "gid://shopify/Customer/1", "tags": ["a"]}, ("k1",)),
        Call("tagsRemove", {"id": "gid://shopify/Customer/2", "tags": ["a"]}, ("k2",)),
        Call("metafieldsSet", {"metafields": []}, ("k3", "k4")),
    ]
    query, variables = aliased_document(calls)
    assert query.count("c0: tagsAdd") == 1 and "c2: metafieldsSet" in query
    assert variables["c1_id"] == "gid://shopify/Customer/2" and variables["c2_metafields"] == []
    assert validate(admin_schema(), parse(query)) == []
    for mutation in SIGNATURES:
        assert validate(admin_schema(), parse(single_document(mutation))) == []
