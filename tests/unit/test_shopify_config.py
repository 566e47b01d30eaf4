"""Settings of a ``shopify`` connection: defaults, and problems that name their key."""

from __future__ import annotations

from typing import Any

import pytest

from podium.connectors.registry import connection_problems
from podium.connectors.sources.shopify import open_shopify_source, shopify_problems
from podium.connectors.sources.shopify.config import parse_shopify_settings
from podium.errors import TerminalTaskError

TOKEN = "shpat_0123456789abcdef"


def test_defaults_from_the_shop_name() -> None:
    config, problems = parse_shopify_settings({"shop": "acme-goods", "access_token": TOKEN})
    assert problems == []
    assert config is not None
    assert config.base_url == "https://acme-goods.myshopify.com"
    assert config.graphql_path == "/admin/api/2025-10/graphql.json"
    assert config.lookback == 600 and config.bulk and config.streams[0] == "orders"
    assert config.incremental == "auto"


def test_a_full_domain_and_a_base_url_are_accepted() -> None:
    config, _ = parse_shopify_settings({"shop": "acme.myshopify.com", "access_token": TOKEN})
    assert config is not None and config.base_url == "https://acme.myshopify.com"
    config, _ = parse_shopify_settings(
        {"base_url": "http://127.0.0.1:9/shopify/", "access_token": TOKEN}
    )
    assert config is not None and config.base_url == "http://127.0.0.1:9/shopify"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"access_token": TOKEN}, "shop: is required"),
        ({"shop": "Acme Goods!", "access_token": TOKEN}, "shop: expected the shop's name"),
        ({"shop": "acme"}, "access_token: is required"),
        ({"shop": "acme", "access_token": 12}, "access_token: expected a non-empty string"),
        ({"shop": "acme", "access_token": TOKEN, "api_version": "2025-05"}, "api_version: "),
        ({"shop": "acme", "access_token": TOKEN, "lookback": "soon"}, "lookback: "),
        ({"shop": "acme", "access_token": TOKEN, "bulk": "yes"}, "bulk: expected true or false"),
        ({"shop": "acme", "access_token": TOKEN, "retries": -1}, "retries: expected an integer"),
        ({"shop": "acme", "access_token": TOKEN, "streams": ["order"]}, "streams: unknown"),
        ({"shop": "acme", "access_token": TOKEN, "pagesize": 5}, "pagesize: unknown key"),
        ({"base_url": "ftp://x", "access_token": TOKEN}, "base_url: expected an http"),
        ({"shop": "acme", "access_token": TOKEN, "incremental": "fast"}, "incremental: expected"),
        (
            {"shop": "acme", "access_token": TOKEN, "incremental": "bulk", "bulk": False},
            "incremental: bulk needs Bulk Operations",
        ),
    ],
)
def test_each_problem_starts_with_its_key(settings: dict[str, Any], expected: str) -> None:
    problems = shopify_problems(settings)
    assert any(p.startswith(expected) for p in problems), problems


def test_the_token_never_appears_in_a_problem() -> None:
    settings = {"shop": "acme", "access_token": TOKEN, "api_version": TOKEN}
    with pytest.raises(TerminalTaskError) as failure:
        open_shopify_source("shop", settings, secrets=[])
    assert TOKEN not in str(failure.value)
    assert "connection 'shop' is misconfigured: api_version" in str(failure.value)


def test_the_registry_knows_the_type() -> None:
    assert connection_problems({"type": "shopify", "shop": "acme", "access_token": TOKEN}) == []
    assert connection_problems({"type": "shopify", "shop": "acme"}) == [
        "access_token: is required (the Admin API access token, shpat_…; "
        'write "${SECRET_NAME}" to read it from the secrets)'
    ]


def test_streams_can_be_chosen() -> None:
    source = open_shopify_source(
        "pick", {"shop": "acme", "access_token": TOKEN, "streams": ["refunds", "orders"]}
    )
    assert [s.name for s in source.streams()] == ["refunds", "orders"]
    source.close()
