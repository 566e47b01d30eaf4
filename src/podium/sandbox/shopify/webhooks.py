"""Webhook deliveries signed as Shopify signs them.

``deliver_webhooks(sim, url, secret, topics)`` POSTs one webhook per change the brand
made since the simulator's previous delivery (or its creation), oldest first:

    orders/create    an order placed in the window (REST-shaped order payload)
    orders/updated   an order placed earlier whose ``updated_at`` moved into the window
    refunds/create   a refund created in the window
    orders/delete    an order deleted in the window (payload ``{"id": …}``)

Each carries ``X-Shopify-Hmac-SHA256`` = base64(HMAC-SHA256(client secret, raw body)),
``X-Shopify-Topic``, ``-Shop-Domain``, ``-API-Version``, ``-Webhook-Id``, ``-Event-Id``
and ``-Triggered-At``, as Shopify's delivery structure documents. Triggered-At is the
moment of sending on podium's clock (``triggered_at`` sets it), not the simulated time of
the change: a receiver compares it with its own clock to refuse stale deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from podium import clock
from podium.sandbox.brand import Brand, Channel, Order, OrderView, Refund
from podium.sandbox.shopify.render import gid, iso

if TYPE_CHECKING:
    from podium.sandbox.shopify.app import ShopifySimulator

TOPICS = ("orders/create", "orders/updated", "refunds/create", "orders/delete")
API_VERSION = "2025-10"


@dataclass(frozen=True)
class Delivery:
    topic: str
    webhook_id: str
    status: int


def sign(secret: str, body: bytes) -> str:
    """Shopify's ``X-Shopify-Hmac-SHA256`` of a raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_delivery(
    secret: str, payload: Any, topic: str = "orders/create", webhook_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """One delivery as Shopify signs it: the raw body and the headers a receiver verifies
    (what tests and benchmarks post to ``podium up``). A new webhook id unless given."""
    body = orjson.dumps(payload)
    return body, {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-SHA256": sign(secret, body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
    }


def is_valid(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (compared in constant time)."""
    return hmac.compare_digest(sign(secret, body), header)


def deliver_webhooks(
    sim: ShopifySimulator,
    url: str,
    secret: str,
    topics: Sequence[str] = TOPICS,
    triggered_at: datetime | None = None,
) -> list[Delivery]:
    since, now = sim.webhooks_since, sim.clock.now()
    sent = triggered_at or clock.now()
    events = sorted(_events(sim, since, now), key=lambda e: e[0])
    deliveries = []
    with httpx.Client(timeout=httpx.Timeout(5.0, connect=1.0)) as client:
        for _at, topic, payload in events:
            if topic in topics:
                deliveries.append(_post(client, url, secret, sim.shop, topic, sent, payload))
    sim.webhooks_since = now
    return deliveries


def _events(
    sim: ShopifySimulator, since: datetime, now: datetime
) -> list[tuple[datetime, str, dict[str, Any]]]:
    found: list[tuple[datetime, str, dict[str, Any]]] = []
    for view in sim.brand.orders_as_of(Channel.DTC, now):
        order = view.order
        if since < order.created_at <= now:
            found.append((order.created_at, "orders/create", order_payload(view, sim.brand)))
        elif since < view.updated_at <= now:
            found.append((view.updated_at, "orders/updated", order_payload(view, sim.brand)))
        for refund in view.refunds:
            if since < refund.created_at <= now:
                found.append((refund.created_at, "refunds/create", refund_payload(order, refund)))
    for order in sim.brand.deleted_as_of(Channel.DTC, now):
        if order.deleted_at is not None and since < order.deleted_at <= now:
            found.append((order.deleted_at, "orders/delete", {"id": order.id}))
    return found


def _post(
    client: httpx.Client,
    url: str,
    secret: str,
    shop: str,
    topic: str,
    at: datetime,
    payload: dict[str, Any],
) -> Delivery:
    body = orjson.dumps(payload)
    webhook_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-SHA256": sign(secret, body),
        "X-Shopify-Shop-Domain": f"{shop}.myshopify.com",
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{topic}:{payload['id']}")),
        "X-Shopify-Triggered-At": iso(at),
    }
    try:
        status = client.post(url, content=body, headers=headers).status_code
    except httpx.HTTPError:
        status = 0
    return Delivery(topic, webhook_id, status)


def order_payload(view: OrderView, brand: Brand | None = None) -> dict[str, Any]:
    """The REST-shaped order of a webhook. With the ``brand``, also what a fulfilment
    needs, as Shopify sends it: ``shipping_address``, ``shipping_lines`` and each line's
    ``title`` (the product's), ``variant_title`` and ``name``."""
    o = view.order
    payload: dict[str, Any] = {
        "id": o.id,
        "admin_graphql_api_id": gid("Order", o.id),
        "name": o.number,
        "created_at": iso(o.created_at),
        "updated_at": iso(view.updated_at),
        "currency": o.currency,
        "subtotal_price": str(o.subtotal - o.discounts),
        "total_discounts": str(o.discounts),
        "total_tax": str(o.tax),
        "total_price": str(o.total),
        "customer": {"id": o.customer_id} if o.customer_id else None,
        "line_items": [
            {
                "id": o.id * 100 + line.number,
                "sku": line.variant.sku,
                "quantity": line.quantity,
                "price": str(line.unit_price),
                "total_discount": str(line.discount),
            }
            for line in o.lines
        ],
        "refunds": [refund_payload(o, r) for r in view.refunds],
    }
    if brand is not None:
        _add_fulfilment(payload, o, brand)
    return payload


def _add_fulfilment(payload: dict[str, Any], order: Order, brand: Brand) -> None:
    products = {p.id: p for p in brand.products}
    for item, line in zip(payload["line_items"], order.lines, strict=True):
        product = products.get(line.variant.product_id)
        title = product.title if product else line.variant.sku
        item.update(
            title=title, variant_title=line.variant.title, name=f"{title} - {line.variant.title}"
        )
    payload["shipping_lines"] = [
        {"title": "Standard", "code": "STANDARD", "price": str(order.shipping)}
    ]
    customer = next((c for c in brand.customers if c.id == order.customer_id), None)
    if customer is not None:
        payload["shipping_address"] = {
            "name": f"{customer.first_name} {customer.last_name}",
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "address1": f"{100 + customer.id % 900} Main St",
            "city": customer.city,
            "province_code": customer.region,
            "country_code": "US",
            "zip": f"{10000 + customer.id % 89999:05d}",
        }


def refund_payload(order: Order, refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "order_id": order.id,
        "created_at": iso(refund.created_at),
        "note": refund.reason,
        "refund_line_items": [
            {
                "id": refund.id * 100 + rl.line_number,
                "line_item_id": order.id * 100 + rl.line_number,
                "quantity": rl.quantity,
                "subtotal": str(rl.amount),
            }
            for rl in refund.lines
        ],
    }
