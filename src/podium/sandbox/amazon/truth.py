"""``amazon_truth``: the exact figures a complete sync of the simulator shows at a time.

getOrders hides changes of the last two minutes (``*Before`` defaults to now − 2 min),
so orders count when their latest change is at least that old; their content is as of
``now``. Pending orders carry no prices. Finance events count up to now − 2 min (exclusive);
``fee_transactions`` holds the amount rows of every settlement report made (its period
closed) since ``start`` and still kept (90 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from podium.sandbox.amazon.app import MIN_AGE
from podium.sandbox.amazon.render import (
    ZERO,
    finance_events,
    render_event,
    settlement_rows,
    settlements,
)
from podium.sandbox.amazon.reports import RETENTION
from podium.sandbox.brand import Brand, Channel


def amazon_truth(
    brand: Brand,
    now: datetime,
    start: datetime | None = None,
    disbursed: Sequence[datetime] = (),
) -> dict[str, Any]:
    """Row counts and money sums per stream (``Decimal``, to the cent); see the docstring.
    ``disbursed``: the simulator's ``reports.disbursed`` (moments that closed a period)."""
    start = start or brand.config.start_at
    visible = [
        v
        for v in brand.orders_as_of(Channel.MARKETPLACE, now)
        if v.updated_at <= now - MIN_AGE and v.order.created_at >= start
    ]
    priced = [v for v in visible if v.status != "Pending"]
    return {
        "orders": len(visible),
        "pending_orders": len(visible) - len(priced),
        "order_total": sum((v.order.total for v in priced), ZERO),
        "order_items": sum(len(v.order.lines) for v in visible),
        "units": sum(v.order.units for v in visible),
        "item_price": sum((v.order.subtotal for v in priced), ZERO),
        **_finance(brand, start, now - MIN_AGE),
        **_report(brand, start, now, disbursed),
    }


def _finance(brand: Brand, start: datetime, end: datetime) -> dict[str, Any]:
    rows, sums = 0, {"Charge": ZERO, "Fee": ZERO, "Promotion": ZERO}
    principal = ZERO
    for event in finance_events(brand, start, end):
        if event.posted >= end:
            continue  # PostedBefore (now - 2 min by default) is exclusive
        body = render_event(event)
        for item in body.get("ShipmentItemList", body.get("ShipmentItemAdjustmentList", [])):
            for kind, lists in _LISTS.items():
                for entry in (e for name in lists for e in item.get(name, [])):
                    value = _money(entry)
                    rows += 1
                    sums[kind] += value
                    if entry.get("ChargeType") == "Principal":
                        principal += value
    return {
        "financial_events": rows,
        "finance_charges": sums["Charge"],
        "finance_fees": sums["Fee"],
        "finance_promotions": sums["Promotion"],
        "finance_principal": principal,
    }


_LISTS = {
    "Charge": ("ItemChargeList", "ItemChargeAdjustmentList"),
    "Fee": ("ItemFeeList", "ItemFeeAdjustmentList"),
    "Promotion": ("PromotionList", "PromotionAdjustmentList"),
}


def _money(entry: dict[str, Any]) -> Decimal:
    for key in ("ChargeAmount", "FeeAmount", "PromotionAmount"):
        if key in entry:
            return Decimal(str(entry[key]["CurrencyAmount"])).quantize(Decimal("0.01"))
    raise KeyError("no amount in a finance entry")


def _report(
    brand: Brand, start: datetime, now: datetime, disbursed: Sequence[datetime]
) -> dict[str, Any]:
    rows = [
        row
        for s in settlements(brand, now, disbursed)
        if s.end >= start and s.end >= now - RETENTION
        for row in settlement_rows(brand, s)
    ]

    def total(description: str | None = None) -> Decimal:
        return sum((Decimal(r[14]) for r in rows if description in (None, r[13])), ZERO)

    return {
        "fee_transactions": len(rows),
        "fee_transactions_total": total(),
        "fee_transactions_selling_fees": total("Commission"),
        "fee_transactions_fba_fees": total("FBAPerUnitFulfillmentFee"),
    }
