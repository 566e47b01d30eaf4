"""A Shopify Admin API simulator over the generated brand (GraphQL, bulk operations,
cost-based throttling, destroy events, signed webhooks).

    app.py       ShopifySimulator: the GraphQL endpoint, costs, faults
    executor.py  Shopify's Admin SDL (schema/), validated and executed with graphql-core
    cost.py      Shopify's calculated query cost, by its published rules
    rules.py     Shopify's error shape and its bulk query rules
    render.py    the brand's orders, customers, products, inventory and events as nodes
    bulk.py      bulk query jobs and their expiring JSONL files
    webhooks.py  signed webhook deliveries of what changed
    truth.py     shopify_truth: the expected figures per stream
"""

from __future__ import annotations

from typing import Any

from podium.sandbox.shopify.app import DEMO_SHOP, DEMO_TOKEN, ShopifySimulator
from podium.sandbox.shopify.truth import shopify_truth
from podium.sandbox.shopify.webhooks import Delivery, deliver_webhooks, is_valid, sign

DEMO_CREDENTIALS = {"access_token": DEMO_TOKEN}

__all__ = [
    "DEMO_CREDENTIALS",
    "DEMO_SHOP",
    "Delivery",
    "ShopifySimulator",
    "deliver_webhooks",
    "demo_connection",
    "is_valid",
    "shopify_truth",
    "sign",
]


def demo_connection(base_url: str) -> dict[str, Any]:
    """podium.yaml settings for a ``shopify`` connection to the simulator at ``base_url``."""
    return {
        "type": "shopify",
        "shop": DEMO_SHOP,
        "base_url": base_url,
        "access_token": DEMO_TOKEN,
        "api_version": "2025-10",
    }
