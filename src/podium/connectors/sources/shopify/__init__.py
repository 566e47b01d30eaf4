"""The ``shopify`` source: Shopify Admin GraphQL and Bulk Operations.

config.py    settings and their problems
graphql.py   cost-paced GraphQL queries and paging; THROTTLED handling
bulk.py      bulk jobs: start, poll, download, rebuild nodes from JSONL
streams.py   what each stream asks for and the rows it makes
source.py    ShopifySource: which way each read goes (bulk, paged, deletions)
"""

from __future__ import annotations

from podium.connectors.sources.shopify.source import (
    ShopifySource,
    open_shopify_source,
    shopify_problems,
)

__all__ = ["ShopifySource", "open_shopify_source", "shopify_problems"]
