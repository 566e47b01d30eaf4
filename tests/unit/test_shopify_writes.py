"""CustomerWrites (the Shopify simulator's write side) without a server: metafield value
checks per type, tags as one comma-separated string, atomic metafieldsSet."""

from __future__ import annotations

from datetime import timedelta

import pytest

from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.shopify.writes import TYPES, CustomerWrites

BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=2, customers=20, dtc_orders_per_day=2))
NOW = BRAND.config.start_at + timedelta(days=2)


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("single_line_text_field", "vip", "two\nlines"),
        ("number_integer", "-12", "1.5"),
        ("number_decimal", "1234.50", "1e3"),
        ("boolean", "true", "yes"),
        ("json", '{"churn": 0.12}', "{churn"),
        ("date", "2026-09-01", "01/09/2026"),
        ("date_time", "2026-09-01T10:00:00Z", "2026-09-01"),
        ("url", "https://example.com/x", "example.com"),
    ],
)
def test_values_are_checked_for_their_type(kind: str, good: str, bad: str) -> None:
    assert TYPES[kind](good) and not TYPES[kind](bad)


def test_tags_may_be_one_comma_separated_string() -> None:
    writes = CustomerWrites(BRAND)
    customer = next(c for c in BRAND.customers if c.created_at <= NOW)
    owner = f"gid://shopify/Customer/{customer.id}"
    assert writes.tags_add(owner, "a, b,c", NOW)["userErrors"] == []
    assert writes.truth()[owner]["tags"] == ["a", "b", "c"]
    assert writes.tags_add(owner, ["a", ""], NOW)["userErrors"][0]["field"] == ["tags"]


def test_a_customer_created_later_is_not_found() -> None:
    writes = CustomerWrites(BRAND)
    later = max(BRAND.customers, key=lambda c: c.created_at)
    before = later.created_at - timedelta(seconds=1)
    answer = writes.tags_add(f"gid://shopify/Customer/{later.id}", ["x"], before)
    assert answer["node"] is None and writes.truth() == {}
