"""The exact figures the NetSuite simulator shows as of a moment, for tests to compare."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from podium.sandbox.brand import Brand, Channel
from podium.sandbox.netsuite.records import LOCATIONS, item_id, starting_stock


def netsuite_truth(brand: Brand, now: datetime) -> dict[str, Any]:
    """Row counts and money sums per stream as of ``now`` (money as ``Decimal``).

    ``sales_orders``/``invoices``/``credit_memos``: count and total; ``transactions``:
    rows; ``lines``: rows and units/amount per transaction type (positive, as sold or
    credited); ``customers``, ``items`` (``inactive``), ``inventory`` rows and on-hand sum.
    """
    views = brand.orders_as_of(Channel.WHOLESALE, now)
    billed = [v for v in views if v.status == "billed"]
    refunds = [r for v in views for r in v.refunds]
    zero = Decimal("0.00")
    shipped: dict[str, int] = {}
    for view in billed:
        for line in view.order.lines:
            shipped[line.variant.sku] = shipped.get(line.variant.sku, 0) + line.quantity
    on_hand = sum(
        starting_stock(item_id(brand, v.sku), loc) - (shipped.get(v.sku, 0) if loc == 1 else 0)
        for v in brand.variants
        for loc in LOCATIONS
    )
    return {
        "sales_orders": {"count": len(views), "total": sum((v.order.total for v in views), zero)},
        "invoices": {"count": len(billed), "total": sum((v.order.total for v in billed), zero)},
        "credit_memos": {"count": len(refunds), "total": sum((r.amount for r in refunds), zero)},
        "transactions": len(views) + len(billed) + len(refunds),
        "lines": {
            "rows": sum(len(v.order.lines) for v in views)
            + sum(len(v.order.lines) for v in billed)
            + sum(len(r.lines) for r in refunds),
            "SalesOrd": sum((v.order.subtotal - v.order.discounts for v in views), zero),
            "CustInvc": sum((v.order.subtotal - v.order.discounts for v in billed), zero),
            "CustCred": sum((line.amount for r in refunds for line in r.lines), zero),
            "SalesOrd_units": sum(v.order.units for v in views),
        },
        "customers": sum(1 for a in brand.wholesale_accounts if a.created_at <= now),
        "items": {
            "rows": len(brand.variants),
            "inactive": sum(
                len(p.variants) for p in brand.products if p.deleted_at and p.deleted_at <= now
            ),
        },
        "inventory": {"rows": len(brand.variants) * len(LOCATIONS), "on_hand": on_hand},
    }
