"""What the Shopify simulator shows as of a moment, counted straight from brand.py.

``shopify_truth(brand, now)`` gives the figures a full load of every stream must match:
row counts per stream and the money sums, to the cent, plus the ids deleted by ``now``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from podium.sandbox.brand import Brand, Channel
from podium.sandbox.shopify.render import LOCATIONS

ZERO = Decimal("0.00")


def shopify_truth(brand: Brand, now: datetime) -> dict[str, Any]:
    views = brand.orders_as_of(Channel.DTC, now)
    refunds = [r for v in views for r in v.refunds]
    products = [
        p
        for p in brand.products
        if p.created_at <= now and (p.deleted_at is None or p.deleted_at > now)
    ]
    variants = sum(len(p.variants) for p in products)
    return {
        "orders": len(views),
        "orders_total_price": sum((v.order.total for v in views), ZERO),
        "orders_subtotal_price": sum((v.order.subtotal - v.order.discounts for v in views), ZERO),
        "orders_gross": sum((v.order.subtotal for v in views), ZERO),
        "orders_discounts": sum((v.order.discounts for v in views), ZERO),
        "orders_refunded": sum((v.refunded for v in views), ZERO),
        "line_items": sum(len(v.order.lines) for v in views),
        "units": sum(v.order.units for v in views),
        "refunds": len(refunds),
        "refunds_amount": sum((r.amount for r in refunds), ZERO),
        "refund_line_items": sum(len(r.lines) for r in refunds),
        "transactions": len(views) + len(refunds),
        "transactions_sales": sum((v.order.total for v in views), ZERO),
        "customers": sum(1 for c in brand.customers if c.created_at <= now),
        "products": len(products),
        "variants": variants,
        "inventory_levels": variants * len(LOCATIONS),
        "deleted_orders": sorted(
            o.id for o in brand.deleted_as_of(Channel.DTC, now) if o.created_at <= now
        ),
        "deleted_products": sorted(
            p.id for p in brand.products if p.deleted_at is not None and p.deleted_at <= now
        ),
    }
