"""The brand as the Shopify Admin GraphQL API shows it at one moment.

``Snapshot(brand, now)`` renders every resource once per simulated moment and keeps them
sorted for paging: orders (line items with discount allocations, shipping lines, refunds
with refund line items, transactions), customers, products with variants, inventory items
with their levels, and destroy events. Node shapes follow GraphQL (camelCase, ``gid://``
ids, money as ``{shopMoney: {amount, currencyCode}}`` with decimal strings, UTC times
to the second). Connections are ``{"nodes": [...]}``.

Ids are derived from the brand's: an order's line item ``n`` is ``order.id * 100 + n``,
its sale transaction ``order.id * 10 + 1``, a refund's transaction ``refund.id * 10 + 2``.
Inventory: two locations; the warehouse starts at ``START_STOCK`` per variant and loses
every unit of every live DTC order placed by ``now``; the store holds a fixed count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from podium.sandbox.brand import Brand, Channel, Line, Order, OrderView, Product, Refund

START_STOCK = 100_000
STORE_STOCK = 40
LOCATIONS = ((81_000_001, "Warehouse"), (81_000_002, "Flagship store"))
Node = dict[str, Any]


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str) -> int:
    """The numeric id at the end of a gid (``gid://shopify/Order/12?x=1`` → 12)."""
    return int(value.rsplit("/", 1)[-1].split("?", 1)[0])


def iso(moment: datetime) -> str:
    """UTC to the second, as Shopify writes times (``2026-09-01T10:00:00Z``);
    ``isoformat`` and a slice, half the time of ``strftime`` (a bulk export of orders
    writes 8 times an order)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def money_set(amount: Decimal) -> Node:
    return {"shopMoney": {"amount": str(amount), "currencyCode": "USD"}}


@dataclass(frozen=True)
class Entry:
    """One node with what it is sorted and filtered by."""

    updated_at: str
    created_at: str
    number: int
    node: Node


class Snapshot:
    """Every resource as of ``now``; see the module docstring."""

    def __init__(
        self, brand: Brand, now: datetime, overlay: Callable[[Node], Node] | None = None
    ) -> None:
        self.brand, self.now, self.overlay = brand, now, overlay

    def forget_customers(self) -> None:
        """Render customers again on next use (a write changed one)."""
        for name in ("customers", "by_id"):
            self.__dict__.pop(name, None)

    @cached_property
    def views(self) -> list[OrderView]:
        return self.brand.orders_as_of(Channel.DTC, self.now)

    @cached_property
    def orders(self) -> list[Entry]:
        entries = []
        for view in self.views:
            node = order_node(view)
            entries.append(Entry(node["updatedAt"], node["createdAt"], view.order.id, node))
        return _sorted(entries)

    def find(self, node_id: str, oldest_order: str | None = None) -> Node | None:
        """The node with gid ``node_id`` (``QueryRoot.node``); an order created before
        ``oldest_order`` (and its refunds) is not found, as without read_all_orders."""
        found = self.by_id.get(node_id)
        if found is None or (oldest_order is not None and found[0] < oldest_order):
            return None
        return found[1]

    @cached_property
    def by_id(self) -> dict[str, tuple[str, Node]]:
        """Every node ``find`` serves, with the creation time of the order it is in."""
        found: dict[str, tuple[str, Node]] = {}
        for entry in self.orders:
            found[entry.node["id"]] = (entry.created_at, entry.node)
            for refund in entry.node["refunds"]:
                found[refund["id"]] = (entry.created_at, refund)
        for entries in (self.customers, self.products, self.inventory_items):
            found.update((e.node["id"], ("", e.node)) for e in entries)
        return found

    @cached_property
    def customers(self) -> list[Entry]:
        placed: dict[int, list[datetime]] = defaultdict(list)
        for view in self.views:
            if view.order.customer_id is not None:
                placed[view.order.customer_id].append(view.order.created_at)
        entries = []
        for c in self.brand.customers:
            if c.created_at > self.now:
                continue
            orders = placed.get(c.id, [])
            updated = max([c.created_at, *orders])
            node: Node = {
                "id": gid("Customer", c.id),
                "legacyResourceId": str(c.id),
                "email": c.email,
                "phone": c.phone,
                "firstName": c.first_name,
                "lastName": c.last_name,
                "createdAt": iso(c.created_at),
                "updatedAt": iso(updated),
                "numberOfOrders": str(len(orders)),
                "emailMarketingConsent": {
                    "marketingState": "SUBSCRIBED" if c.accepts_marketing else "NOT_SUBSCRIBED"
                },
                "defaultAddress": {"city": c.city, "provinceCode": c.region, "countryCode": "US"},
            }
            if self.overlay is not None:
                node = self.overlay(node)
            entries.append(Entry(str(node["updatedAt"]), iso(c.created_at), c.id, node))
        return _sorted(entries)

    @cached_property
    def products(self) -> list[Entry]:
        return _sorted(
            Entry(iso(p.created_at), iso(p.created_at), p.id, product_node(p))
            for p in self.live_products
        )

    @cached_property
    def live_products(self) -> list[Product]:
        return [
            p
            for p in self.brand.products
            if p.created_at <= self.now and (p.deleted_at is None or p.deleted_at > self.now)
        ]

    @cached_property
    def inventory_items(self) -> list[Entry]:
        sold: dict[int, int] = defaultdict(int)
        last: dict[int, datetime] = {}
        for view in self.views:
            for line in view.order.lines:
                sold[line.variant.id] += line.quantity
                at = view.order.created_at
                last[line.variant.id] = max(last.get(line.variant.id, at), at)
        entries = []
        for product in self.live_products:
            for i, v in enumerate(product.variants):
                updated = iso(last.get(v.id, product.created_at))
                stock = (START_STOCK + i * 37 - sold[v.id], STORE_STOCK + i)
                levels = [
                    {
                        "id": f"{gid('InventoryLevel', location)}?inventory_item_id={v.inventory_item_id}",
                        "location": {"id": gid("Location", location), "name": name},
                        "quantities": [{"name": "available", "quantity": count}],
                        "updatedAt": updated
                        if location == LOCATIONS[0][0]
                        else iso(product.created_at),
                    }
                    for (location, name), count in zip(LOCATIONS, stock, strict=True)
                ]
                node = {
                    "id": gid("InventoryItem", v.inventory_item_id),
                    "legacyResourceId": str(v.inventory_item_id),
                    "sku": v.sku,
                    "variant": {"id": gid("ProductVariant", v.id)},
                    "updatedAt": updated,
                    "inventoryLevels": {"nodes": levels},
                }
                entries.append(Entry(updated, iso(product.created_at), v.inventory_item_id, node))
        return _sorted(entries)

    @cached_property
    def events(self) -> list[Entry]:
        found = []
        for order in self.brand.deleted_as_of(Channel.DTC, self.now):
            if order.created_at <= self.now and order.deleted_at is not None:
                found.append(("ORDER", "Order", order.id, order.deleted_at, order.number))
        for p in self.brand.products:
            if p.deleted_at is not None and p.deleted_at <= self.now:
                found.append(("PRODUCT", "Product", p.id, p.deleted_at, p.title))
        entries = []
        for kind, name, number, at, label in found:
            event_id = 5_500_000_000 + number % 100_000_000
            node = {
                "__typename": "BasicEvent",
                "id": gid("BasicEvent", event_id),
                "action": "destroy",
                "subjectType": kind,
                "subjectId": gid(name, number),
                "createdAt": iso(at),
                "message": f"{name} {label} was deleted.",
            }
            entries.append(Entry(iso(at), iso(at), event_id, node))
        return _sorted(entries, by_created=True)


def _sorted(entries: Iterable[Entry], *, by_created: bool = False) -> list[Entry]:
    if by_created:
        return sorted(entries, key=lambda e: (e.created_at, e.number))
    return sorted(entries, key=lambda e: (e.updated_at, e.number))


def order_node(view: OrderView) -> Node:
    o = view.order
    refunded = view.refunded
    status = "PAID" if not refunded else "REFUNDED" if refunded >= o.total else "PARTIALLY_REFUNDED"
    created = iso(o.created_at)
    return {
        "id": gid("Order", o.id),
        "legacyResourceId": str(o.id),
        "name": o.number,
        "createdAt": created,
        "processedAt": created,
        "updatedAt": iso(view.updated_at),
        "cancelledAt": None,
        "currencyCode": o.currency,
        "displayFinancialStatus": status,
        "displayFulfillmentStatus": view.status.upper(),
        "customer": {"id": gid("Customer", o.customer_id)} if o.customer_id else None,
        "discountCodes": [o.promo] if o.promo else [],
        "subtotalPriceSet": money_set(o.subtotal - o.discounts),
        "totalDiscountsSet": money_set(o.discounts),
        "totalShippingPriceSet": money_set(o.shipping),
        "totalTaxSet": money_set(o.tax),
        "totalPriceSet": money_set(o.total),
        "totalRefundedSet": money_set(refunded),
        "lineItems": {"nodes": [line_node(o, line) for line in o.lines]},
        "shippingLines": {"nodes": _shipping(o)},
        "refunds": [refund_node(o, r) for r in view.refunds],
        "transactions": transactions(o, view.refunds),
    }


def product_node(p: Product) -> Node:
    return {
        "id": gid("Product", p.id),
        "legacyResourceId": str(p.id),
        "title": p.title,
        "handle": p.handle,
        "productType": p.product_type,
        "status": "ACTIVE",
        "createdAt": iso(p.created_at),
        "updatedAt": iso(p.created_at),
        "variants": {
            "nodes": [
                {
                    "id": gid("ProductVariant", v.id),
                    "legacyResourceId": str(v.id),
                    "sku": v.sku,
                    "title": v.title,
                    "price": str(v.price),
                    "barcode": v.barcode,
                    "inventoryItem": {"id": gid("InventoryItem", v.inventory_item_id)},
                }
                for v in p.variants
            ]
        },
    }


def line_node(order: Order, line: Line) -> Node:
    allocations = (
        [
            {
                "allocatedAmountSet": money_set(line.discount),
                "discountApplication": {
                    "__typename": "DiscountCodeApplication",
                    "code": order.promo,
                },
            }
        ]
        if line.discount
        else []
    )
    return {
        "id": gid("LineItem", order.id * 100 + line.number),
        "sku": line.variant.sku,
        "title": line.variant.title,
        "quantity": line.quantity,
        "originalUnitPriceSet": money_set(line.unit_price),
        "totalDiscountSet": money_set(line.discount),
        "variant": {"id": gid("ProductVariant", line.variant.id)},
        "product": {"id": gid("Product", line.variant.product_id)},
        "discountAllocations": allocations,
    }


def _shipping(order: Order) -> list[Node]:
    return [
        {
            "id": gid("ShippingLine", order.id * 10 + 1),
            "title": "Standard" if order.shipping else "Free shipping",
            "code": "STANDARD",
            "originalPriceSet": money_set(order.shipping),
        }
    ]


def refund_node(order: Order, refund: Refund) -> Node:
    return {
        "id": gid("Refund", refund.id),
        "legacyResourceId": str(refund.id),
        "createdAt": iso(refund.created_at),
        "note": refund.reason,
        "totalRefundedSet": money_set(refund.amount),
        "refundLineItems": {
            "nodes": [
                {
                    "id": gid("RefundLineItem", refund.id * 100 + rl.line_number),
                    "quantity": rl.quantity,
                    "subtotalSet": money_set(rl.amount),
                    "lineItem": {"id": gid("LineItem", order.id * 100 + rl.line_number)},
                }
                for rl in refund.lines
            ]
        },
    }


def transactions(order: Order, refunds: Iterable[Refund]) -> list[Node]:
    sale = _transaction(order.id * 10 + 1, "SALE", order.total, order.created_at)
    return [sale] + [
        _transaction(r.id * 10 + 2, "REFUND", r.amount, r.created_at, parent=order.id * 10 + 1)
        for r in refunds
    ]


def _transaction(
    number: int, kind: str, amount: Decimal, at: datetime, parent: int | None = None
) -> Node:
    when = iso(at)
    return {
        "id": gid("OrderTransaction", number),
        "kind": kind,
        "status": "SUCCESS",
        "gateway": "shopify_payments",
        "amountSet": money_set(amount),
        "createdAt": when,
        "processedAt": when,
        "parentTransaction": {"id": gid("OrderTransaction", parent)} if parent else None,
    }
