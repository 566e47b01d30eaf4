"""The two Shopify writers: customer tags and customer metafields, records → calls →
outcomes (the calls go out through ``shopify_client.Mutations``).

``TagsWriter``: a record is a customer that must carry the sync's ``tags``: ``tagsAdd``
for adds and updates, ``tagsRemove`` for removals (mirror), never ``customerUpdate(tags:)``
(it replaces the whole set, other apps' tags included). The customer's GID is the
record's ``remote_id``. A record whose customer moved to another id (its ``id`` field
changed) loses the tags on the old customer too. Removing tags from a customer Shopify no
longer has lands: the tags are gone with it. Map each customer once (the key, or the id
field, unique per customer): two rows naming one customer share its tags, and a mirror
removal of one would take them off the other too.

``MetafieldsWriter``: a record's fields become metafields of the customer in the sync's
namespace, ``metafieldsSet``, packed up to 25 metafields per call, whole records only.
The call is atomic: one bad metafield rejects all of it. Shopify's userErrors name the
bad element (``elementIndex``), so its record is rejected with the message and the
others are sent again in the next round; errors that name no element send each record of
that call alone, which then decides for itself. A NULL value is not sent (Shopify has no
blank metafield; podium does not delete metafields).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from podium.syncs.destinations.shopify_client import Call, Mutations, UserErrors, customer_gid
from podium.syncs.plan import Change
from podium.syncs.state import Op, Outcome

MAX_METAFIELDS = 25  # per metafieldsSet call
DEFAULT_TYPE = "single_line_text_field"
BATCH_SIZE = 5_000  # records per send: a batch above the bulk threshold goes in bulk


def record_gid(change: Change) -> str | None:
    """The customer a record is about: its ``id`` field, else its key."""
    given = change.values.get("id")
    return customer_gid(given if given is not None else change.key)


def _bad_id(change: Change) -> Outcome:
    shown = change.values.get("id", change.key)
    reason = (
        f"customer id {shown!r} is neither a number nor gid://shopify/Customer/N;"
        " fix the key (or the id field) in the source"
    )
    return Outcome(change.key, change.op, change.hash, False, reason)


def _message(errors: UserErrors) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(f) for f in e.get("field") or [])
        parts.append(f"{where}: {e.get('message')}" if where else str(e.get("message")))
    return "Shopify: " + "; ".join(parts)


class TagsWriter:
    """``customer_tags`` (module docstring)."""

    def __init__(self, mutations: Mutations, tags: Sequence[str]) -> None:
        self.mutations, self.tags = mutations, list(tags)
        self.batch_size = BATCH_SIZE

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        outcomes: dict[str, Outcome] = {}
        calls: list[Call] = []
        for change in changes:
            gid = change.remote_id if change.op is Op.REMOVE else record_gid(change)
            gid = gid or customer_gid(change.key)
            if gid is None:
                outcomes[change.key] = _bad_id(change)
                continue
            verb = "tagsRemove" if change.op is Op.REMOVE else "tagsAdd"
            calls.append(Call(verb, {"id": gid, "tags": self.tags}, (change.key,)))
            moved = change.op is not Op.REMOVE and change.remote_id not in (None, gid)
            if moved:
                old = {"id": change.remote_id, "tags": self.tags}
                calls.append(Call("tagsRemove", old, (change.key,)))
        failed: dict[str, UserErrors] = {}
        for call, errors in zip(calls, self.mutations.run(calls), strict=True):
            if errors and not (call.mutation == "tagsRemove" and _not_found(errors)):
                failed.setdefault(call.keys[0], errors)
        for change in changes:
            if change.key in outcomes:
                continue
            gid = (change.remote_id if change.op is Op.REMOVE else None) or record_gid(change)
            refused = failed.get(change.key)
            outcomes[change.key] = Outcome(
                change.key,
                change.op,
                change.hash,
                landed=not refused,
                reason=_message(refused) if refused else None,
                remote_id=gid,
            )
        return [outcomes[c.key] for c in changes]

    def close(self) -> None:
        return None


def _not_found(errors: UserErrors) -> bool:
    """The customer is gone (Shopify names the ``id`` argument): its tags went with it."""
    return all(list(e.get("field") or []) == ["id"] for e in errors)


@dataclass
class _Record:
    change: Change
    gid: str
    metafields: list[dict[str, str]]


class MetafieldsWriter:
    """``customer_metafields`` (module docstring)."""

    def __init__(self, mutations: Mutations, namespace: str, types: Mapping[str, str]) -> None:
        self.mutations, self.namespace, self.types = mutations, namespace, dict(types)
        self.batch_size = BATCH_SIZE

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        outcomes: dict[str, Outcome] = {}
        pending: list[_Record] = []
        for change in changes:
            gid = record_gid(change)
            if gid is None:
                outcomes[change.key] = _bad_id(change)
                continue
            metafields = self._metafields(change, gid)
            if not metafields:  # every value NULL: nothing to set
                outcomes[change.key] = Outcome(change.key, change.op, change.hash, True, None, gid)
                continue
            pending.append(_Record(change, gid, metafields))
        alone: set[str] = set()
        while pending:
            calls = self._pack(pending, alone)
            again: list[_Record] = []
            for call, errors in zip(calls, self.mutations.run(calls), strict=True):
                again += self._judge(call, errors, pending, outcomes, alone)
            pending = again
        return [outcomes[c.key] for c in changes]

    def close(self) -> None:
        return None

    def _metafields(self, change: Change, gid: str) -> list[dict[str, str]]:
        return [
            {
                "ownerId": gid,
                "namespace": self.namespace,
                "key": name,
                "type": self.types.get(name, DEFAULT_TYPE),
                "value": metafield_value(value, self.types.get(name, DEFAULT_TYPE)),
            }
            for name, value in change.values.items()
            if name != "id" and value is not None
        ]

    def _pack(self, records: Sequence[_Record], alone: set[str]) -> list[Call]:
        """Whole records into calls of at most 25 metafields; one record per call in
        bulk (a line per record) and for the records sent ``alone``."""
        one_each = self.mutations.is_bulk(len(records))
        calls: list[Call] = []
        group: list[_Record] = []
        for record in records:
            single = one_each or record.change.key in alone
            size = sum(len(r.metafields) for r in group)
            if group and (single or size + len(record.metafields) > MAX_METAFIELDS):
                calls.append(_call(group))
                group = []
            group.append(record)
            if single:
                calls.append(_call(group))
                group = []
        if group:
            calls.append(_call(group))
        return calls

    def _judge(
        self,
        call: Call,
        errors: UserErrors,
        records: Sequence[_Record],
        outcomes: dict[str, Outcome],
        alone: set[str],
    ) -> list[_Record]:
        """Outcomes for the records ``call`` decided; the records to send again."""
        mine = [r for r in records if r.change.key in call.keys]
        blamed = _blame(mine, errors) if errors else {}
        if blamed is None and len(mine) == 1:
            blamed = {mine[0].change.key: errors}
        if blamed is None:  # errors that name no element: each record on its own
            alone.update(call.keys)
            return mine
        again = []
        for record in mine:
            change, bad = record.change, blamed.get(record.change.key)
            if errors and not bad:
                again.append(record)  # innocent: the atomic call took it down with it
                continue
            outcomes[change.key] = Outcome(
                change.key,
                change.op,
                change.hash,
                landed=not bad,
                reason=_metafield_message(bad, record) if bad else None,
                remote_id=record.gid,
            )
        return again


def _call(group: Sequence[_Record]) -> Call:
    metafields = [m for r in group for m in r.metafields]
    return Call("metafieldsSet", {"metafields": metafields}, tuple(r.change.key for r in group))


def _blame(records: Sequence[_Record], errors: UserErrors) -> dict[str, UserErrors] | None:
    """The errors by the record whose metafield each names (``elementIndex``), or None
    when one of them names none."""
    owners = [(r, local) for r in records for local in range(len(r.metafields))]
    blamed: dict[str, UserErrors] = {}
    for error in errors:
        index = error.get("elementIndex")
        if not isinstance(index, int) or not 0 <= index < len(owners):
            return None
        record, local = owners[index]
        blamed.setdefault(record.change.key, []).append({**error, "local": local})
    return blamed


def _metafield_message(errors: UserErrors, record: _Record) -> str:
    parts = []
    for e in errors:
        local = e.get("local")
        if isinstance(local, int) and local < len(record.metafields):
            name = f"{record.metafields[local]['namespace']}.{record.metafields[local]['key']}"
            parts.append(f"metafield {name} ({(e.get('field') or ['?'])[-1]}): {e.get('message')}")
        else:
            parts.append(str(e.get("message")))
    return "Shopify: " + "; ".join(parts)


def metafield_value(value: Any, kind: str) -> str:
    """A warehouse value as the string Shopify stores: ``json`` by ``json.dumps`` (text
    from a JSON column as it is), decimals and numbers as written, booleans
    ``true``/``false``, dates and times ISO 8601."""
    if kind == "json":
        if isinstance(value, str):
            return value
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
