"""How the brand's marketplace orders look through SP-API: orders, items, finance, reports.

Pure functions of the brand and a time; the simulator (``app.py``) pages and serves them,
``truth.py`` sums them. Money per line is decided once (``line_money``), so an order's
items, its shipment event and its report rows always agree:

    Principal            unit price × quantity (``ItemPrice``; Money ``Amount`` is a string)
    Promotion            −the line's discount
    Tax                  8% of (principal − discount), the order's tax split across lines
    ShippingCharge       the order's shipping, on its first line
    Commission           −15% of principal (the referral fee)
    FBAPerUnitFulfillmentFee   −3.22 per unit, AFN orders only

Pending orders show no prices at all (no ``OrderTotal``, no ``ItemPrice``), as on Amazon.
A shipment event is posted when the order ships; a refund event when a refund lands
(principal and shipping given back, the referral fee returned).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from podium.sandbox.brand import STATUSES, Brand, Channel, Line, Order, OrderView, Refund, money

MARKETPLACE_ID = "ATVPDKIKX0DER"
REFERRAL_RATE = Decimal("0.15")
FBA_FEE_PER_UNIT = Decimal("3.22")
TAX_RATE = Decimal("0.08")
SHIP_DELAY = STATUSES[Channel.MARKETPLACE][-1][0]  # shipped (and posted) a day after the order
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class LineMoney:
    principal: Decimal
    promotion: Decimal  # ≤ 0
    tax: Decimal
    shipping: Decimal
    commission: Decimal  # ≤ 0
    fba: Decimal  # ≤ 0


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def amount(value: Decimal, currency: str = "USD") -> dict[str, str]:
    """An Orders API ``Money``: the amount is a string."""
    return {"CurrencyCode": currency, "Amount": f"{value:.2f}"}


def currency_amount(value: Decimal, currency: str = "USD") -> dict[str, Any]:
    """A Finances API ``Currency``: the amount is a number."""
    return {"CurrencyCode": currency, "CurrencyAmount": float(value)}


def item_id(order: Order, line: Line) -> str:
    return f"{order.id:011d}{line.number:02d}"


def line_money(order: Order) -> list[LineMoney]:
    """Each line's money; taxes are split so they add up to the order's tax exactly."""
    out, tax_left = [], order.tax
    for n, line in enumerate(order.lines):
        last = n == len(order.lines) - 1
        tax = tax_left if last else money((line.gross - line.discount) * TAX_RATE)
        tax_left -= tax
        fba = -FBA_FEE_PER_UNIT * line.quantity if order.fulfillment_channel == "AFN" else ZERO
        out.append(
            LineMoney(
                principal=line.gross,
                promotion=-line.discount,
                tax=tax,
                shipping=order.shipping if n == 0 else ZERO,
                commission=-money(line.gross * REFERRAL_RATE),
                fba=fba,
            )
        )
    return out


# -- Orders API ------------------------------------------------------------------------------
def render_order(view: OrderView) -> dict[str, Any]:
    order = view.order
    record: dict[str, Any] = {
        "AmazonOrderId": order.number,
        "PurchaseDate": iso(order.created_at),
        "LastUpdateDate": iso(view.updated_at),
        "OrderStatus": view.status,
        "FulfillmentChannel": order.fulfillment_channel,
        "SalesChannel": "Amazon.com",
        "MarketplaceId": MARKETPLACE_ID,
        "NumberOfItemsShipped": order.units if view.status == "Shipped" else 0,
        "NumberOfItemsUnshipped": 0 if view.status == "Shipped" else order.units,
        "IsPrime": order.fulfillment_channel == "AFN",
    }
    if view.status != "Pending":
        record["OrderTotal"] = amount(order.total, order.currency)
    return record


def render_items(view: OrderView) -> list[dict[str, Any]]:
    order, priced = view.order, view.status != "Pending"
    items = []
    for line, m in zip(order.lines, line_money(order), strict=True):
        item: dict[str, Any] = {
            "OrderItemId": item_id(order, line),
            "SellerSKU": line.variant.sku,
            "ASIN": line.variant.asin,
            "Title": line.variant.sku,
            "QuantityOrdered": line.quantity,
            "QuantityShipped": line.quantity if view.status == "Shipped" else 0,
        }
        if priced:
            item["ItemPrice"] = amount(m.principal, order.currency)
            item["ItemTax"] = amount(m.tax, order.currency)
            item["PromotionDiscount"] = amount(-m.promotion, order.currency)
            item["ShippingPrice"] = amount(m.shipping, order.currency)
            if order.promo and line.discount:
                item["PromotionIds"] = [order.promo]
        items.append(item)
    return items


# -- Finances API ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FinanceEvent:
    posted: datetime
    kind: str  # "ShipmentEvent" | "RefundEvent"
    order: Order
    refund: Refund | None = None

    def sort_key(self) -> tuple[datetime, str, str]:
        return (self.posted, self.order.number, self.kind)


def finance_events(brand: Brand, after: datetime, before: datetime) -> list[FinanceEvent]:
    """Every event posted in ``[after, before]``, oldest first."""
    events = []
    for order in brand.orders(Channel.MARKETPLACE):
        shipped = order.created_at + SHIP_DELAY
        if after <= shipped <= before:
            events.append(FinanceEvent(shipped, "ShipmentEvent", order))
        for refund in order.refunds:
            if after <= refund.created_at <= before:
                events.append(FinanceEvent(refund.created_at, "RefundEvent", order, refund))
    return sorted(events, key=FinanceEvent.sort_key)


def render_event(event: FinanceEvent) -> dict[str, Any]:
    if event.refund is None:
        return _shipment_event(event)
    return _refund_event(event, event.refund)


def _shipment_event(event: FinanceEvent) -> dict[str, Any]:
    order, c = event.order, event.order.currency
    items = []
    for line, m in zip(order.lines, line_money(order), strict=True):
        charges = [("Principal", m.principal), ("Tax", m.tax), ("ShippingCharge", m.shipping)]
        fees = [("Commission", m.commission), ("FBAPerUnitFulfillmentFee", m.fba)]
        item: dict[str, Any] = {
            "SellerSKU": line.variant.sku,
            "OrderItemId": item_id(order, line),
            "QuantityShipped": line.quantity,
            "ItemChargeList": [
                {"ChargeType": t, "ChargeAmount": currency_amount(v, c)} for t, v in charges if v
            ],
            "ItemFeeList": [
                {"FeeType": t, "FeeAmount": currency_amount(v, c)} for t, v in fees if v
            ],
        }
        if m.promotion:
            item["PromotionList"] = [_promotion(order, m.promotion)]
        items.append(item)
    return {
        "AmazonOrderId": order.number,
        "MarketplaceName": "Amazon.com",
        "PostedDate": iso(event.posted),
        "ShipmentItemList": items,
    }


def _refund_event(event: FinanceEvent, refund: Refund) -> dict[str, Any]:
    order, c = event.order, event.order.currency
    lines = {line.number: line for line in order.lines}
    items = []
    for n, refund_line in enumerate(refund.lines):
        line = lines[refund_line.line_number]
        charges = [("Principal", -refund_line.amount)]
        if n == 0 and refund.shipping:
            charges.append(("ShippingCharge", -refund.shipping))
        fee = money(refund_line.amount * REFERRAL_RATE)
        items.append(
            {
                "SellerSKU": line.variant.sku,
                "OrderItemId": item_id(order, line),
                "QuantityShipped": refund_line.quantity,
                "ItemChargeAdjustmentList": [
                    {"ChargeType": t, "ChargeAmount": currency_amount(v, c)} for t, v in charges
                ],
                "ItemFeeAdjustmentList": [
                    {"FeeType": "Commission", "FeeAmount": currency_amount(fee, c)}
                ],
            }
        )
    return {
        "AmazonOrderId": order.number,
        "MarketplaceName": "Amazon.com",
        "PostedDate": iso(event.posted),
        "ShipmentItemAdjustmentList": items,
    }


def _promotion(order: Order, value: Decimal) -> dict[str, Any]:
    return {
        "PromotionType": "PromotionMetaDataDefinitionValue",
        "PromotionId": order.promo or "",
        "PromotionAmount": currency_amount(value, order.currency),
    }


# -- Reports: GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 -------------------------------------
# Amazon makes a settlement report for each settlement period (about every 14 days); it
# cannot be requested, only listed with getReports. Columns as Amazon's report type values
# list them; one summary row (settlement totals), then one row per amount: amount-type,
# amount-description and amount say what each money figure is.
SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
SETTLEMENT_COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "amount-type", "amount-description",
    "amount", "fulfillment-id", "posted-date", "posted-date-time", "order-item-code",
    "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
)  # fmt: skip
SETTLEMENT_DAYS = 14
DEPOSIT_DELAY = timedelta(days=3)


@dataclass(frozen=True)
class Settlement:
    number: int  # the k-th period of the brand
    start: datetime
    end: datetime  # exclusive; the report is made at this moment

    @property
    def settlement_id(self) -> str:
        return str(1_000_000 + self.number)


def settlements(
    brand: Brand, now: datetime, disbursed: Sequence[datetime] = ()
) -> list[Settlement]:
    """The brand's settlement periods that have closed by ``now``, oldest first: every
    ``SETTLEMENT_DAYS`` from the brand's start, and at each of the ``disbursed`` moments
    (Amazon: a disbursement "initiated in Seller Central … automatically schedules a report
    and restarts the disbursement cycle")."""
    out: list[Settlement] = []
    start, k = brand.config.start_at, 0
    while True:
        end = start + timedelta(days=SETTLEMENT_DAYS)
        end = min([end, *(d for d in disbursed if start < d < end)])
        if end > now:
            return out
        out.append(Settlement(k, start, end))
        start, k = end, k + 1


def settlement_time(moment: datetime) -> str:
    """How the V2 flat file writes a time (US marketplace): ``2026-10-01 21:05:00 UTC``."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def settlement_rows(brand: Brand, settlement: Settlement) -> list[list[str]]:
    """One row per amount of each finance event posted in the period (no summary row)."""
    rows = []
    for event in finance_events(brand, settlement.start, settlement.end):
        if event.posted >= settlement.end:
            continue
        order = event.order
        refund = event.refund
        for line, amounts in _settlement_amounts(event):
            for amount_type, description, value in amounts:
                rows.append(
                    [
                        settlement.settlement_id, "", "", "", "", "",
                        "Order" if refund is None else "Refund", order.number, "",
                        "" if refund is None else f"{order.id:011d}R{refund.id}",
                        f"{order.id:011d}S" if refund is None else "", "Amazon.com",
                        amount_type, description, f"{value:.2f}",
                        "AFN" if order.fulfillment_channel == "AFN" else "MFN",
                        f"{event.posted:%Y-%m-%d}", settlement_time(event.posted),
                        item_id(order, line), "", "", line.variant.sku,
                        str(line.quantity) if refund is None else "",
                        (order.promo or "") if amount_type == "Promotion" else "",
                    ]
                )  # fmt: skip
    return rows


def _settlement_amounts(
    event: FinanceEvent,
) -> Iterator[tuple[Line, list[tuple[str, str, Decimal]]]]:
    order = event.order
    if event.refund is None:
        for line, m in zip(order.lines, line_money(order), strict=True):
            figures = [
                ("ItemPrice", "Principal", m.principal), ("ItemPrice", "Tax", m.tax),
                ("ItemPrice", "Shipping", m.shipping), ("Promotion", "Principal", m.promotion),
                ("ItemFees", "Commission", m.commission),
                ("ItemFees", "FBAPerUnitFulfillmentFee", m.fba),
            ]  # fmt: skip
            yield line, [f for f in figures if f[2]]
        return
    lines = {line.number: line for line in order.lines}
    for n, rl in enumerate(event.refund.lines):
        shipping = -event.refund.shipping if n == 0 else ZERO
        figures = [
            ("ItemPrice", "Principal", -rl.amount), ("ItemPrice", "Shipping", shipping),
            ("ItemFees", "Commission", money(rl.amount * REFERRAL_RATE)),
        ]  # fmt: skip
        yield lines[rl.line_number], [f for f in figures if f[2]]


def settlement_document(settlement: Settlement, rows: list[list[str]]) -> bytes:
    """The tab-separated file: header, the summary row, then ``rows``."""
    total = sum((Decimal(r[14]) for r in rows), ZERO)
    summary = [
        settlement.settlement_id, settlement_time(settlement.start),
        settlement_time(settlement.end), settlement_time(settlement.end + DEPOSIT_DELAY),
        f"{total:.2f}", "USD", *[""] * (len(SETTLEMENT_COLUMNS) - 6),
    ]  # fmt: skip
    lines = ["\t".join(SETTLEMENT_COLUMNS), "\t".join(summary), *("\t".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


# What a sync that asks for everything up to getOrders' limit (two minutes before now,
# to the second) needs to see the brand exactly as of now: no change in this window.
QUIET_WINDOW = timedelta(minutes=2, seconds=1)


def quiet_after(brand: Brand, at: datetime, window: timedelta = timedelta(minutes=5)) -> datetime:
    """The first time from ``at`` with no marketplace order change in the ``window`` before
    it: a sync then sees exactly the brand as of that time (getOrders hides the last 2 min)."""
    moments = sorted(
        t
        for o in brand.orders(Channel.MARKETPLACE)
        for t in [*(when for when, _ in o.status_changes()), *(r.created_at for r in o.refunds)]
    )
    t = at
    for moment in moments:
        if moment <= t - window:
            continue
        if moment <= t:
            t = moment + window + timedelta(seconds=1)
    return t
