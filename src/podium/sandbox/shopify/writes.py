"""What reverse-ETL writes change on the simulated shop's customers.

The brand's customers are immutable; ``CustomerWrites`` holds what mutations changed on
top of them (tags, note, email, phone, metafields, the moment of the last change), and
render.py lays it over each customer node, so later reads see the changes.

Mutations, with the userErrors Shopify documents (reverse-etl-apis.md §2):

    tagsAdd(id, tags)          adds; a tag already there changes nothing; ``tags`` may be
                               one comma-separated string
    tagsRemove(id, tags)       removes; an absent tag changes nothing
    customerUpdate(input)      tags (replaces the set), note, email, phone, names,
                               metafields (as metafieldsSet); email/phone "has already
                               been taken" when another customer holds it; any other
                               input field is refused with a userError naming it
    metafieldsSet(metafields)  at most 25 per call, atomic (nothing saved on any error);
                               ownerId must be a customer that exists; namespace 3–255
                               chars, key 2–64; values checked for the common types

Only customers are owners and taggable here (an order or product id is answered as not
found); Shopify tags and sets metafields on more resources.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from podium.sandbox.brand import Brand, Customer
from podium.sandbox.shopify.render import Node, gid, iso

MAX_METAFIELDS = 25  # per metafieldsSet call
TYPES: dict[str, Callable[[str], bool]] = {
    "single_line_text_field": lambda v: "\n" not in v and len(v) <= 65_535,
    "multi_line_text_field": lambda v: len(v) <= 65_535,
    "number_integer": lambda v: re.fullmatch(r"[+-]?\d+", v) is not None,
    "number_decimal": lambda v: _decimal(v) and len(v) <= 65_535,
    "boolean": lambda v: v in ("true", "false"),
    "json": lambda v: _json(v) and len(v) <= 2_000_000,
    "date": lambda v: re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) is not None,
    "date_time": lambda v: re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.*", v) is not None,
    "url": lambda v: re.fullmatch(r"(https?|mailto|sms|tel)://?\S+", v) is not None,
}
UPDATABLE = frozenset(
    ("id", "email", "phone", "firstName", "lastName", "note", "tags", "metafields")
)
_CUSTOMER = re.compile(r"^gid://shopify/Customer/(\d+)$")


@dataclass
class Metafield:
    number: int
    namespace: str
    key: str
    type: str
    value: str
    created_at: str
    updated_at: str

    def node(self) -> Node:
        return {
            "id": gid("Metafield", self.number),
            "legacyResourceId": str(self.number),
            "namespace": self.namespace,
            "key": self.key,
            "type": self.type,
            "value": self.value,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass
class Changed:
    """What writes changed on one customer."""

    tags: list[str] = field(default_factory=list)
    note: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # email, phone, firstName, lastName
    metafields: dict[tuple[str, str], Metafield] = field(default_factory=dict)
    updated_at: str = ""


class CustomerWrites:
    """The changes; every method returns the mutation's payload (userErrors included)."""

    def __init__(self, brand: Brand) -> None:
        self.brand = brand
        self.changed: dict[int, Changed] = {}
        self._by_id = {c.id: c for c in brand.customers}
        self._lock = threading.Lock()
        self._numbers = 0

    # -- reads ---------------------------------------------------------------------------
    def overlay(self, node: Node) -> Node:
        """A rendered customer node with the changes on it."""
        number = int(node["id"].rsplit("/", 1)[-1])
        changed = self.changed.get(number)
        base: Node = {"tags": [], "note": None, "metafields": {"nodes": []}}
        if changed is None:
            return {**node, **base}
        metafields = [m.node() for m in changed.metafields.values()]
        updated = max(node["updatedAt"], changed.updated_at)
        return {
            **node,
            **changed.fields,
            "tags": sorted(changed.tags),
            "note": changed.note,
            "metafields": {"nodes": metafields},
            "updatedAt": updated,
        }

    def truth(self) -> dict[str, Any]:
        """Every changed customer's tags, note, email, phone and metafields by gid."""
        with self._lock:
            return {
                gid("Customer", number): {
                    "tags": sorted(c.tags),
                    "note": c.note,
                    **c.fields,
                    "metafields": {
                        f"{m.namespace}.{m.key}": {"type": m.type, "value": m.value}
                        for m in c.metafields.values()
                    },
                }
                for number, c in sorted(self.changed.items())
            }

    # -- mutations -----------------------------------------------------------------------
    def tags_add(self, owner: str, tags: Any, now: datetime) -> Node:
        return self._tags(owner, tags, now, add=True)

    def tags_remove(self, owner: str, tags: Any, now: datetime) -> Node:
        return self._tags(owner, tags, now, add=False)

    def _tags(self, owner: str, tags: Any, now: datetime, *, add: bool) -> Node:
        customer = self._customer(owner, now)
        if customer is None:
            return {"node": None, "userErrors": [_error(["id"], "Resource not found")]}
        wanted = _tag_list(tags)
        blank = [t for t in wanted if not t]
        if blank:
            return {"node": None, "userErrors": [_error(["tags"], "Tags can't be blank")]}
        with self._lock:
            changed = self.changed.setdefault(customer.id, Changed())
            if add:
                have = list(dict.fromkeys([*changed.tags, *wanted]))
            else:
                have = [t for t in changed.tags if t not in wanted]
            if have != changed.tags:
                changed.tags, changed.updated_at = have, iso(now)
        return {"node": self._node(customer), "userErrors": []}

    def customer_update(self, values: dict[str, Any], now: datetime) -> Node:
        customer = self._customer(str(values.get("id") or ""), now)
        if customer is None:
            return {"customer": None, "userErrors": [_error(["id"], "Customer does not exist")]}
        errors = []
        for name in ("email", "phone"):
            wanted = values.get(name)
            if wanted and self._holder(name, str(wanted), customer.id) is not None:
                errors.append(_error([name], f"{name.capitalize()} has already been taken"))
        email = values.get("email")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(email)):
            errors.append(_error(["email"], "Email is invalid"))
        unsupported = sorted(set(values) - UPDATABLE)
        errors += [_error([n], f"the simulator does not update {n}") for n in unsupported]
        if errors:
            return {"customer": None, "userErrors": errors}
        if values.get("metafields"):
            owner = {"ownerId": gid("Customer", customer.id)}
            given = [{**owner, **m} for m in values["metafields"]]
            saved = self.metafields_set(given, now)
            if saved["userErrors"]:
                return {"customer": None, "userErrors": saved["userErrors"]}
        with self._lock:
            changed = self.changed.setdefault(customer.id, Changed())
            for name in ("email", "phone", "firstName", "lastName"):
                if values.get(name) is not None:
                    changed.fields[name] = str(values[name])
            if "note" in values:
                changed.note = values["note"]
            if values.get("tags") is not None:
                changed.tags = list(dict.fromkeys(_tag_list(values["tags"])))
            changed.updated_at = iso(now)
        return {"customer": self._node(customer), "userErrors": []}

    def metafields_set(self, inputs: list[dict[str, Any]], now: datetime) -> Node:
        if len(inputs) > MAX_METAFIELDS:
            message = f"Exceeded the maximum metafields input limit of {MAX_METAFIELDS}."
            error = {
                **_error(["metafields"], message),
                "code": "LESS_THAN_OR_EQUAL_TO",
                "elementIndex": None,
            }
            return {"metafields": None, "userErrors": [error]}
        errors: list[Node] = []
        owners: list[Customer] = []
        for index, given in enumerate(inputs):
            owner, problems = self._metafield_problems(given, now)
            errors += [
                {
                    "field": ["metafields", str(index), f],
                    "message": m,
                    "code": c,
                    "elementIndex": index,
                }
                for f, m, c in problems
            ]
            if owner is not None:
                owners.append(owner)
        if errors:  # atomic: nothing is saved
            return {"metafields": [], "userErrors": errors}
        saved = []
        with self._lock:
            for owner, given in zip(owners, inputs, strict=True):
                changed = self.changed.setdefault(owner.id, Changed())
                key = (str(given["namespace"]), str(given["key"]))
                found = changed.metafields.get(key)
                if found is None:
                    self._numbers += 1
                    found = Metafield(
                        27_000_000 + self._numbers, *key, given["type"], "", iso(now), iso(now)
                    )
                    changed.metafields[key] = found
                found.type, found.value, found.updated_at = given["type"], given["value"], iso(now)
                changed.updated_at = iso(now)
                saved.append({**found.node(), "owner": self._node(owner)})
        return {"metafields": saved, "userErrors": []}

    def _metafield_problems(
        self, given: dict[str, Any], now: datetime
    ) -> tuple[Customer | None, list[tuple[str, str, str]]]:
        problems: list[tuple[str, str, str]] = []
        owner = self._customer(str(given.get("ownerId") or ""), now)
        if owner is None:
            problems.append(("ownerId", "Owner does not exist.", "INVALID_VALUE"))
        namespace, key = str(given.get("namespace") or ""), str(given.get("key") or "")
        for name, text, low, high in (("namespace", namespace, 3, 255), ("key", key, 2, 64)):
            if len(text) < low:
                problems.append(
                    (
                        name,
                        f"{name.capitalize()} is too short (minimum is {low} characters)",
                        "TOO_SHORT",
                    )
                )
            elif len(text) > high:
                problems.append(
                    (
                        name,
                        f"{name.capitalize()} is too long (maximum is {high} characters)",
                        "TOO_LONG",
                    )
                )
        kind, value = str(given.get("type") or ""), str(given.get("value") or "")
        check = TYPES.get(kind)
        if check is None:
            message = f"Type {kind!r} is not supported here; use one of {', '.join(TYPES)}."
            problems.append(("type", message, "INVALID_TYPE"))
        elif not value:
            problems.append(("value", "Value can't be blank.", "BLANK"))
        elif not check(value):
            problems.append(("value", f"Value is invalid for type {kind}.", "INVALID_VALUE"))
        return owner, problems

    # -- helpers -------------------------------------------------------------------------
    def _customer(self, owner: str, now: datetime) -> Customer | None:
        match = _CUSTOMER.match(owner)
        found = self._by_id.get(int(match.group(1))) if match else None
        return found if found is not None and found.created_at <= now else None

    def _holder(self, name: str, value: str, other_than: int) -> int | None:
        """The customer other than ``other_than`` whose ``name`` (email/phone) is ``value``."""
        with self._lock:
            for number, customer in self._by_id.items():
                if number == other_than:
                    continue
                changed = self.changed.get(number)
                held = changed.fields.get(name) if changed else None
                if (held or getattr(customer, name)).lower() == value.lower():
                    return number
        return None

    def _node(self, customer: Customer) -> Node:
        """The customer as a mutation's payload gives it: the written fields, not the
        order-derived ones (numberOfOrders …), which a payload rarely selects."""
        node = {
            "id": gid("Customer", customer.id),
            "legacyResourceId": str(customer.id),
            "email": customer.email,
            "phone": customer.phone,
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "createdAt": iso(customer.created_at),
            "updatedAt": iso(customer.created_at),
        }
        return self.overlay(node)


def _error(path: list[str], message: str) -> Node:
    return {"field": path, "message": message}


def _tag_list(tags: Any) -> list[str]:
    """``tags`` as a list: an array, or one comma-separated string (tagsAdd accepts both)."""
    items = tags if isinstance(tags, list) else [tags]
    return [part.strip() for item in items for part in str(item).split(",")]


def _decimal(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return re.fullmatch(r"[+-]?\d+(\.\d+)?", value) is not None


def _json(value: str) -> bool:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True
