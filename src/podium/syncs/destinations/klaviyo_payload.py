"""A sync's change as a Klaviyo ``profile`` resource, and how a rejection maps back to it.

Dotted fields nest (``properties.lifetime_value`` → ``{"properties": {"lifetime_value"}}``,
``location.city`` likewise). Top-level attributes are strings in Klaviyo's schema, so
numbers and dates are sent as text; custom properties keep JSON numbers and booleans
(a Decimal becomes an int or a float, a date its ISO text).

A NULL means "not set" in the model. Custom properties: a NULL is sent as
``meta.patch_properties.unset`` (works in bulk import and profile-import alike). Other
attributes: bulk import cannot clear a field (a ``null`` there is ignored), profile-import
can; so an *update* carrying a NULL attribute must go through profile-import
(``Profile.clears``), while an *add* simply leaves it out (it never overwrites what the
profile already had in Klaviyo with nothing).

``identity`` is what a record is found by later: ``external_id`` first (Klaviyo's own
advice is to key on your id, as merges can change Klaviyo's), then email, then phone, as
``field:value``. It is kept as the record's ``remote_id`` and resolved to a profile id only
when a removal needs one (see ``klaviyo``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from podium.syncs.destination import nest
from podium.syncs.plan import Change
from podium.syncs.state import Op

IDENTIFIERS = ("external_id", "email", "phone_number")  # in the order identity prefers
NESTED = ("properties", "location")


@dataclass(frozen=True)
class Profile:
    """One change as a profile resource: its attributes and meta, whether it must clear
    an attribute (so needs profile-import), and its identity (``field:value``)."""

    change: Change
    attributes: dict[str, Any]
    meta: dict[str, Any]
    clears: bool
    identity: str

    def resource(self, *, nulls: bool) -> dict[str, Any]:
        """The JSON:API resource; ``nulls`` keeps the NULL attributes (profile-import)."""
        attributes = self.attributes if nulls else _without_nulls(self.attributes)
        body: dict[str, Any] = {"type": "profile", "attributes": attributes}
        if self.meta:
            body["meta"] = self.meta
        return body


def profile_of(change: Change) -> Profile | str:
    """The change as a ``Profile``, or why it cannot be sent (no identifier)."""
    nested = nest(change.values)
    attributes: dict[str, Any] = {}
    unset: list[str] = []
    clears = False
    for name, value in nested.items():
        if name == "properties" and isinstance(value, dict):
            attributes[name] = {k: _json(v) for k, v in value.items() if v is not None}
            unset.extend(sorted(k for k, v in value.items() if v is None))
        elif name == "location" and isinstance(value, dict):
            attributes[name] = {k: _text(v) for k, v in value.items() if v is not None}
        elif value is None:
            attributes[name] = None
            clears = True
        else:
            attributes[name] = _text(value)
    identity = next(
        (f"{n}:{attributes[n]}" for n in IDENTIFIERS if attributes.get(n) is not None), None
    )
    if identity is None:
        return (
            "no email, phone_number or external_id value: Klaviyo needs one to find or"
            " create the profile; fill one in the model"
        )
    meta = {"patch_properties": {"unset": unset}} if unset else {}
    if change.op is not Op.UPDATE and clears:
        attributes = _without_nulls(attributes)
        clears = False
    return Profile(change, attributes, meta, clears, identity)


def identifiers_of(attributes: Mapping[str, Any]) -> list[str]:
    """The ``field:value`` identities a payload's attributes carry."""
    return [f"{n}:{attributes[n]}" for n in IDENTIFIERS if attributes.get(n) is not None]


def split_identity(identity: str) -> tuple[str, str]:
    field, _, value = identity.partition(":")
    return field, value


def _without_nulls(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize() if value == value.to_integral() else value, "f")
    return str(value)


def _json(value: Any) -> Any:
    """A warehouse value as a JSON value a custom property takes."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return str(value)
