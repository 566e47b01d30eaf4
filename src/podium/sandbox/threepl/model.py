"""OrderBook: the orders a 3PL account holds, and the rules for adding, finding and cancelling
them. Pure: no I/O, no clock (each call is given ``now``); the app (``app.py``) locks it.

A create is checked field by field (``validate``: every problem, each under its dotted field
name, as ShipBob's 400 map does), then decided by ``reference_id`` and the duplicate policy:

    reject   a held reference id answers the order already holding it, nothing is added
             (ShipBob: ``reference_id`` "must be unique within your ShipBob account")
    upsert   a held reference id replaces that order's fields while it is still ``created``
             (ShipMonk's upsert on its order key)
    accept   every create adds an order, so a retried create makes a duplicate (ShipHero's
             behaviour is unconfirmed; this is the worst case a sync must survive)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class Duplicates(StrEnum):
    REJECT = "reject"
    UPSERT = "upsert"
    ACCEPT = "accept"


class Status(StrEnum):
    """An order's life at the 3PL: ``created → processing → shipped → delivered``, or held."""

    CREATED = "created"
    PROCESSING = "processing"  # picked or packed
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ON_HOLD = "on_hold"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"


CANCELLABLE = frozenset({Status.CREATED, Status.ON_HOLD, Status.EXCEPTION})
MAX_LIMIT = 250  # ShipBob's Get Orders ``Limit`` is 1–250
DEFAULT_LIMIT = 50
FIRST_ORDER_ID = 100_001
ORDER_TYPES = ("DTC", "B2B")

Problems = dict[str, list[str]]


@dataclass(frozen=True)
class Order:
    id: int
    shipment_id: int
    channel_id: str
    fields: Mapping[str, Any]  # the create body as sent (validated)
    created_at: datetime
    status: Status = Status.CREATED

    @property
    def reference_id(self) -> str:
        return str(self.fields["reference_id"])

    def to_json(self) -> dict[str, Any]:
        f = self.fields
        return {
            "id": self.id,
            "reference_id": self.reference_id,
            "order_number": f.get("order_number"),
            "type": f.get("type", "DTC"),
            "status": self.status.value,
            "created_date": self.created_at.isoformat(),
            "channel": {"id": self.channel_id},
            "shipping_method": f["shipping_method"],
            "recipient": f["recipient"],
            "products": f["products"],
            "tags": f.get("tags", []),
            "shipments": [{"id": self.shipment_id, "status": self.status.value}],
        }


@dataclass(frozen=True)
class Created:
    """What a create did: ``order`` is the one added, replaced or already held."""

    order: Order
    added: bool  # a new order was added
    duplicate: bool  # the reference id was already held


@dataclass(frozen=True)
class Page:
    orders: list[Order]
    page: int
    limit: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))


@dataclass
class OrderBook:
    duplicates: Duplicates = Duplicates.REJECT
    orders: dict[int, Order] = field(default_factory=dict)
    create_requests: int = 0  # creates answered past auth, limit and validation (duplicates too)

    def create(self, body: Mapping[str, Any], channel_id: str, now: datetime) -> Created:
        """Adds (or finds) the order ``body`` describes; ``body`` must pass ``validate``."""
        self.create_requests += 1
        held = self.by_reference([str(body["reference_id"])])
        if held and self.duplicates is Duplicates.REJECT:
            return Created(held[0], added=False, duplicate=True)
        if held and self.duplicates is Duplicates.UPSERT:
            if held[0].status is not Status.CREATED:
                return Created(held[0], added=False, duplicate=True)
            updated = replace(held[0], fields=dict(body), channel_id=channel_id)
            self.orders[updated.id] = updated
            return Created(updated, added=False, duplicate=True)
        number = len(self.orders)
        order = Order(FIRST_ORDER_ID + number, 900_001 + number, channel_id, dict(body), now)
        self.orders[order.id] = order
        return Created(order, added=True, duplicate=bool(held))

    def by_reference(self, reference_ids: Sequence[str]) -> list[Order]:
        wanted = set(reference_ids)
        return [o for o in self.orders.values() if o.reference_id in wanted]

    def find(self, reference_ids: Sequence[str] | None, page: int, limit: int) -> Page:
        """Orders by id, optionally only those with one of ``reference_ids``, one page."""
        found = list(self.orders.values())
        if reference_ids is not None:
            found = self.by_reference(reference_ids)
        start = (page - 1) * limit
        return Page(found[start : start + limit], page, limit, len(found))

    def move(self, order_id: int, status: Status) -> Order:
        """The 3PL's own progress (picking, shipping …), for tests; KeyError if unknown."""
        order = replace(self.orders[order_id], status=status)
        self.orders[order_id] = order
        return order

    def cancel(self, order_id: int) -> tuple[Order, bool]:
        """Cancels the order if nothing is picked, packed or shipped; says whether it did."""
        order = self.orders[order_id]
        if order.status not in CANCELLABLE:
            return order, order.status is Status.CANCELLED
        return self.move(order_id, Status.CANCELLED), True

    def truth(self) -> dict[str, Any]:
        """What the 3PL holds: creates asked for vs orders held, and reference ids held twice."""
        counts: dict[str, int] = {}
        for order in self.orders.values():
            counts[order.reference_id] = counts.get(order.reference_id, 0) + 1
        return {
            "duplicates_policy": self.duplicates.value,
            "create_requests": self.create_requests,
            "orders": len(self.orders),
            "distinct_reference_ids": len(counts),
            "duplicated_reference_ids": sorted(r for r, n in counts.items() if n > 1),
            "by_status": _by_status(self.orders.values()),
            "reference_ids": sorted(counts),
        }


def _by_status(orders: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in orders:
        counts[order.status.value] = counts.get(order.status.value, 0) + 1
    return counts


# -- validation ---------------------------------------------------------------------------


def validate(body: Any) -> Problems:
    """Every problem with a create body, keyed by dotted field name (``products[0].quantity``)."""
    if not isinstance(body, Mapping):
        return {"body": ["The request body must be a JSON object."]}
    problems: Problems = {}
    _text(body, "reference_id", problems, required=True)
    _text(body, "shipping_method", problems, required=True)
    _text(body, "order_number", problems, required=False)
    if "type" in body and body["type"] not in ORDER_TYPES:
        _add(problems, "type", f"The type field must be one of {', '.join(ORDER_TYPES)}.")
    _recipient(body.get("recipient"), problems)
    _products(body.get("products"), problems)
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, Mapping) and "name" in t for t in tags):
        _add(problems, "tags", 'The tags field must be a list of {"name", "value"} objects.')
    return problems


def _recipient(recipient: Any, problems: Problems) -> None:
    if not isinstance(recipient, Mapping):
        _add(problems, "recipient", "The recipient field is required.")
        return
    _text(recipient, "name", problems, required=True, prefix="recipient.")
    address = recipient.get("address")
    if not isinstance(address, Mapping):
        _add(problems, "recipient.address", "The address field is required.")
        return
    for name in ("address1", "city", "country"):
        _text(address, name, problems, required=True, prefix="recipient.address.")
    country = address.get("country")
    if isinstance(country, str) and country and not (len(country) == 2 and country.isalpha()):
        _add(problems, "recipient.address.country", "Use an ISO 3166-1 alpha-2 code, e.g. US.")


def _products(products: Any, problems: Problems) -> None:
    if not isinstance(products, list) or not products:
        _add(problems, "products", "The products field is required (at least one product).")
        return
    for n, product in enumerate(products):
        at = f"products[{n}]"
        if not isinstance(product, Mapping):
            _add(problems, at, "Each product must be an object.")
            continue
        if not product.get("reference_id") and not product.get("id"):
            _add(problems, f"{at}.reference_id", "Give the product's reference_id (SKU) or id.")
        quantity = product.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            _add(problems, f"{at}.quantity", "The quantity must be a whole number above 0.")


def _text(
    body: Mapping[str, Any], name: str, problems: Problems, *, required: bool, prefix: str = ""
) -> None:
    value = body.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        _add(problems, prefix + name, f"The {name} field is required (a non-empty string).")


def _add(problems: Problems, name: str, message: str) -> None:
    problems.setdefault(name, []).append(message)
