"""The shopify source's streams: what each asks GraphQL for and the rows it makes.

    orders            one row per order; child tables orders__line_items (with
                      __discount_allocations) and orders__shipping_lines
    refunds           one row per refund, with refunds__refund_line_items
    transactions      one row per order transaction (a sale, a refund …)
    customers, products (with products__variants)
    inventory_levels  item × location, replaced whole on every load (a snapshot: levels of
                      a deleted product disappear)

Refunds and transactions ride the order cursor: they are read from orders updated since
the saved cursor, because a refund (and its transaction) bumps its order's
``updated_at``; each row carries ``order_updated_at``, the stream's cursor. Money stays
the decimal text Shopify sends (typed ``decimal(18,2)``), times are UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podium.connectors.source import Stream, WriteMode

Node = dict[str, Any]
Record = dict[str, Any]
MONEY = "{ shopMoney { amount currencyCode } }"
TIMES = {"created_at": "timestamp", "updated_at": "timestamp"}


@dataclass(frozen=True)
class Nested:
    """A connection inside a node (``Order.lineItems``): its first page comes inline
    (``first``), the rest through ``node(id:)`` on its parent (``parent_type``), as real
    integrators drain nested connections. ``inside`` names the list it sits in, if any
    (a refund's ``refundLineItems`` are inside ``Order.refunds``)."""

    name: str
    parent_type: str
    first: int
    fields: str
    inside: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    """How one stream is read: the root connection, its node fields (paged or bulk
    spelling, given its nested connections), the page size that keeps a query's cost
    under 1000 by Shopify's rules (cost.py), the rows a node gives, and the subject type
    whose destroy events mark rows deleted."""

    stream: Stream
    root: str
    fields: Callable[[bool, Mapping[str, Nested]], str]
    page_size: int
    rows: Callable[[Node], list[Record]]
    incremental: bool = True
    deletions: str | None = None
    nested: tuple[Nested, ...] = ()

    def node_fields(self, bulk: bool) -> str:
        return self.fields(bulk, {n.name: n for n in self.nested})


def connection(nested: Nested, bulk: bool) -> str:
    """A nested connection: ``nodes`` with ``first`` and ``pageInfo`` when paging,
    ``edges`` in bulk (where Shopify returns every node). In bulk, one inside a list
    (``inside``) is left out: Shopify refuses "a connection field within a list field",
    so the source reads it afterwards by its parents' ids (``by_id_query``)."""
    if bulk and nested.inside:
        return ""
    if bulk:
        return f"{nested.name} {{ edges {{ node {{ {nested.fields} }} }} }}"
    return (
        f"{nested.name}(first: {nested.first}) {{ nodes {{ {nested.fields} }} "
        "pageInfo { hasNextPage endCursor } }"
    )


def paged_query(spec: StreamSpec) -> str:
    sort = ", sortKey: UPDATED_AT" if spec.incremental else ""
    return (
        f"query Page($first: Int!, $after: String, $query: String, $reverse: Boolean) {{ "
        f"{spec.root}(first: $first, after: $after, query: $query, reverse: $reverse{sort}) "
        f"{{ nodes {{ {spec.node_fields(False)} }} "
        "pageInfo { hasNextPage endCursor } } }"
    )


def rest_query(nested: Nested) -> str:
    """The rest of one parent's nested connection, after the page it came with."""
    return (
        "query Rest($id: ID!, $first: Int!, $after: String) { node(id: $id) { "
        f"... on {nested.parent_type} {{ {nested.name}(first: $first, after: $after) {{ "
        f"nodes {{ {nested.fields} }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}"
    )


def by_id_query(nested: Nested, count: int) -> str:
    """The first page of ``nested`` for ``count`` parents at once, each an aliased
    ``node(id:)`` (``p0`` … with ``$i0`` …): what bulk leaves out (``connection``)."""
    ids = ", ".join(f"$i{n}: ID!" for n in range(count))
    page, parent = connection(nested, False), nested.parent_type
    parts = " ".join(
        f"p{n}: node(id: $i{n}) {{ ... on {parent} {{ {page} }} }}" for n in range(count)
    )
    return f"query ById({ids}) {{ {parts} }}"


def bulk_query(spec: StreamSpec, search: str | None) -> str:
    args = f'(query: "{search}")' if search else ""
    return f"{{ {spec.root}{args} {{ edges {{ node {{ {spec.node_fields(True)} }} }} }} }}"


def number(gid: Any) -> int | None:
    """The numeric id of a gid (``gid://shopify/Order/12`` → 12)."""
    if not isinstance(gid, str):
        return None
    tail = gid[gid.rfind("/") + 1 :]  # slicing, not splitting: a row has several
    query = tail.find("?")
    return int(tail if query < 0 else tail[:query])


def amount(value: Any) -> str | None:
    return value["shopMoney"]["amount"] if isinstance(value, dict) else None


def nodes(node: Node, name: str) -> list[Node]:
    value = node.get(name)
    return list(value.get("nodes") or []) if isinstance(value, dict) else []


def ref(value: Any) -> int | None:
    return number(value.get("id")) if isinstance(value, dict) else None


# -- orders --------------------------------------------------------------------------------
LINE_ITEMS = Nested(
    "lineItems",
    "Order",
    10,
    f"id sku title quantity originalUnitPriceSet {MONEY} totalDiscountSet {MONEY} "
    f"variant {{ id }} product {{ id }} discountAllocations {{ allocatedAmountSet {MONEY} "
    "discountApplication { ... on DiscountCodeApplication { code } } }",
)
SHIPPING_LINES = Nested("shippingLines", "Order", 3, f"id title code originalPriceSet {MONEY}")


def _order_fields(bulk: bool, nested: Mapping[str, Nested]) -> str:
    return (
        "id name createdAt processedAt updatedAt cancelledAt currencyCode "
        "displayFinancialStatus displayFulfillmentStatus customer { id } discountCodes "
        f"subtotalPriceSet {MONEY} totalDiscountsSet {MONEY} totalShippingPriceSet {MONEY} "
        f"totalTaxSet {MONEY} totalPriceSet {MONEY} totalRefundedSet {MONEY} "
        f"{connection(nested['lineItems'], bulk)} {connection(nested['shippingLines'], bulk)}"
    )


def order_rows(node: Node) -> list[Record]:
    return [
        {
            "id": number(node["id"]),
            "name": node.get("name"),
            "created_at": node.get("createdAt"),
            "processed_at": node.get("processedAt"),
            "updated_at": node.get("updatedAt"),
            "cancelled_at": node.get("cancelledAt"),
            "currency": node.get("currencyCode"),
            "financial_status": node.get("displayFinancialStatus"),
            "fulfillment_status": node.get("displayFulfillmentStatus"),
            "customer_id": ref(node.get("customer")),
            "discount_codes": ",".join(node.get("discountCodes") or []) or None,
            "subtotal_price": amount(node.get("subtotalPriceSet")),
            "total_discounts": amount(node.get("totalDiscountsSet")),
            "total_shipping_price": amount(node.get("totalShippingPriceSet")),
            "total_tax": amount(node.get("totalTaxSet")),
            "total_price": amount(node.get("totalPriceSet")),
            "total_refunded": amount(node.get("totalRefundedSet")),
            "line_items": [_line(line) for line in nodes(node, "lineItems")],
            "shipping_lines": [
                {
                    "id": number(s["id"]),
                    "title": s.get("title"),
                    "code": s.get("code"),
                    "price": amount(s.get("originalPriceSet")),
                }
                for s in nodes(node, "shippingLines")
            ],
        }
    ]


def _line(line: Node) -> Record:
    """A line item row. ``discount_allocations`` is left out when empty (most lines have
    none), so the row says "no allocations" by its absence, as the other optional fields do."""
    row = {
        "id": number(line["id"]),
        "sku": line.get("sku"),
        "title": line.get("title"),
        "quantity": line.get("quantity"),
        "price": amount(line.get("originalUnitPriceSet")),
        "total_discount": amount(line.get("totalDiscountSet")),
        "variant_id": ref(line.get("variant")),
        "product_id": ref(line.get("product")),
        "discount_allocations": [
            {
                "amount": amount(a.get("allocatedAmountSet")),
                "discount_code": (a.get("discountApplication") or {}).get("code"),
            }
            for a in line.get("discountAllocations") or []
        ],
    }
    if not row["discount_allocations"]:
        del row["discount_allocations"]
    return row


# -- refunds and transactions (ride the order cursor) ----------------------------------------
REFUND_LINE_ITEMS = Nested(
    "refundLineItems",
    "Refund",
    10,
    f"id quantity subtotalSet {MONEY} lineItem {{ id }}",
    inside="refunds",
)


def _refund_fields(bulk: bool, nested: Mapping[str, Nested]) -> str:
    """``refundLineItems`` is a connection inside the ``refunds`` list: Shopify refuses
    it in a bulk query, so the bulk query leaves it out and the source reads each
    refund's line items by the refund's id (``by_id_query``)."""
    return (
        "id updatedAt refunds(first: 10) { id createdAt note "
        f"totalRefundedSet {MONEY} {connection(nested['refundLineItems'], bulk)} }}"
    )


def refund_rows(node: Node) -> list[Record]:
    order_id, updated = number(node["id"]), node.get("updatedAt")
    return [
        {
            "id": number(r["id"]),
            "order_id": order_id,
            "order_updated_at": updated,
            "created_at": r.get("createdAt"),
            "note": r.get("note"),
            "total_refunded": amount(r.get("totalRefundedSet")),
            "refund_line_items": [
                {
                    "id": number(item["id"]),
                    "line_item_id": ref(item.get("lineItem")),
                    "quantity": item.get("quantity"),
                    "subtotal": amount(item.get("subtotalSet")),
                }
                for item in nodes(r, "refundLineItems")
            ],
        }
        for r in node.get("refunds") or []
    ]


def _transaction_fields(bulk: bool, nested: Mapping[str, Nested]) -> str:
    return (
        "id updatedAt transactions(first: 10) { id kind status gateway "
        f"amountSet {MONEY} createdAt processedAt parentTransaction {{ id }} }}"
    )


def transaction_rows(node: Node) -> list[Record]:
    order_id, updated = number(node["id"]), node.get("updatedAt")
    return [
        {
            "id": number(t["id"]),
            "order_id": order_id,
            "order_updated_at": updated,
            "kind": t.get("kind"),
            "status": t.get("status"),
            "gateway": t.get("gateway"),
            "amount": amount(t.get("amountSet")),
            "currency": (t.get("amountSet") or {}).get("shopMoney", {}).get("currencyCode"),
            "created_at": t.get("createdAt"),
            "processed_at": t.get("processedAt"),
            "parent_id": ref(t.get("parentTransaction")),
        }
        for t in node.get("transactions") or []
    ]


# -- customers, products, inventory -------------------------------------------------------
def _customer_fields(bulk: bool, nested: Mapping[str, Nested]) -> str:
    return (
        "id email phone firstName lastName createdAt updatedAt numberOfOrders "
        "emailMarketingConsent { marketingState } defaultAddress { city provinceCode countryCode }"
    )


def customer_rows(node: Node) -> list[Record]:
    address = node.get("defaultAddress") or {}
    return [
        {
            "id": number(node["id"]),
            "email": node.get("email"),
            "phone": node.get("phone"),
            "first_name": node.get("firstName"),
            "last_name": node.get("lastName"),
            "created_at": node.get("createdAt"),
            "updated_at": node.get("updatedAt"),
            "number_of_orders": int(node.get("numberOfOrders") or 0),
            "marketing_state": (node.get("emailMarketingConsent") or {}).get("marketingState"),
            "city": address.get("city"),
            "province_code": address.get("provinceCode"),
            "country_code": address.get("countryCode"),
        }
    ]


VARIANTS = Nested("variants", "Product", 20, "id sku title price barcode inventoryItem { id }")


def _product_fields(bulk: bool, nested: Mapping[str, Nested]) -> str:
    return (
        "id title handle productType status createdAt updatedAt "
        f"{connection(nested['variants'], bulk)}"
    )


def product_rows(node: Node) -> list[Record]:
    return [
        {
            "id": number(node["id"]),
            "title": node.get("title"),
            "handle": node.get("handle"),
            "product_type": node.get("productType"),
            "status": node.get("status"),
            "created_at": node.get("createdAt"),
            "updated_at": node.get("updatedAt"),
            "variants": [
                {
                    "id": number(v["id"]),
                    "sku": v.get("sku"),
                    "title": v.get("title"),
                    "price": v.get("price"),
                    "barcode": v.get("barcode"),
                    "inventory_item_id": ref(v.get("inventoryItem")),
                }
                for v in nodes(node, "variants")
            ],
        }
    ]


INVENTORY_LEVELS = Nested(
    "inventoryLevels",
    "InventoryItem",
    10,
    'id location { id name } quantities(names: ["available"]) { name quantity } updatedAt',
)


def _inventory_fields(bulk: bool, nested: Mapping[str, Nested]) -> str:
    return f"id sku variant {{ id }} {connection(nested['inventoryLevels'], bulk)}"


def inventory_rows(node: Node) -> list[Record]:
    rows = []
    for level in nodes(node, "inventoryLevels"):
        available = next(
            (q["quantity"] for q in level.get("quantities") or [] if q.get("name") == "available"),
            None,
        )
        rows.append(
            {
                "inventory_item_id": number(node["id"]),
                "location_id": ref(level.get("location")),
                "location_name": (level.get("location") or {}).get("name"),
                "sku": node.get("sku"),
                "variant_id": ref(node.get("variant")),
                "available": available,
                "updated_at": level.get("updatedAt"),
            }
        )
    return rows


def _money(*names: str) -> dict[str, str]:
    return {name: "decimal(18,2)" for name in names}


def stream_specs(lookback: float) -> dict[str, StreamSpec]:
    """Every stream the source offers, keyed by name."""
    order_times = {**TIMES, "processed_at": "timestamp", "cancelled_at": "timestamp"}
    ride = {"order_updated_at": "timestamp", "created_at": "timestamp"}
    specs = [
        StreamSpec(
            Stream("orders", ("id",), "updated_at", WriteMode.MERGE, lookback=lookback,
                   columns={**order_times, **_money(
                       "subtotal_price", "total_discounts", "total_shipping_price",
                       "total_tax", "total_price", "total_refunded", "line_items.price",
                       "line_items.total_discount", "line_items.discount_allocations.amount",
                       "shipping_lines.price")}),
            "orders", _order_fields, 7, order_rows, deletions="ORDER",
            nested=(LINE_ITEMS, SHIPPING_LINES)),
        StreamSpec(
            Stream("refunds", ("id",), "order_updated_at", WriteMode.MERGE, lookback=lookback,
                   columns={**ride, **_money("total_refunded", "refund_line_items.subtotal")}),
            "orders", _refund_fields, 20, refund_rows, nested=(REFUND_LINE_ITEMS,)),
        StreamSpec(
            Stream("transactions", ("id",), "order_updated_at", WriteMode.MERGE,
                   lookback=lookback,
                   columns={**ride, "processed_at": "timestamp", **_money("amount")}),
            "orders", _transaction_fields, 50, transaction_rows),
        StreamSpec(
            Stream("customers", ("id",), "updated_at", WriteMode.MERGE, lookback=lookback,
                   columns=TIMES),
            "customers", _customer_fields, 100, customer_rows),
        StreamSpec(
            Stream("products", ("id",), "updated_at", WriteMode.MERGE, lookback=lookback,
                   columns={**TIMES, **_money("variants.price")}),
            "products", _product_fields, 20, product_rows, deletions="PRODUCT",
            nested=(VARIANTS,)),
        StreamSpec(
            Stream("inventory_levels", ("inventory_item_id", "location_id"), None,
                   WriteMode.REPLACE, columns={"updated_at": "timestamp", "available": "bigint"}),
            "inventoryItems", _inventory_fields, 25, inventory_rows, incremental=False,
            nested=(INVENTORY_LEVELS,)),
    ]  # fmt: skip
    return {spec.stream.name: spec for spec in specs}
