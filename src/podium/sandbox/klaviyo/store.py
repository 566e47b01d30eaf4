"""What reverse-ETL writes have changed in the account: profiles and list members.

The account starts as the brand renders it (model.py): one profile per customer who
exists by then, the Newsletter list holding the customers who accept marketing, VIP
empty. A write copies a brand profile into ``records`` (or makes a new one); from then on
that record is the profile. List membership is the brand's plus what was added, minus
what was removed.

Identity, as Klaviyo's (docs/design-and-limitations.md, reverse-etl-apis.md §1.3): the
identifiers are ``email``, ``phone_number`` and ``external_id``. ``create`` refuses any
identifier already taken (409 ``duplicate_profile`` naming the holder in
``meta.duplicate_profile_id``); ``upsert`` (profile-import, bulk import) updates the one
profile its identifiers match and creates one when none match; identifiers matching two
different profiles are a 409 too. ``update`` by id may change identifiers, unless the new
value belongs to another profile.

Attributes: a ``None`` clears a field and a missing one is left alone; ``properties``
are merged key by key; ``meta.patch_properties`` appends to, unappends from and unsets
custom properties.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from podium.sandbox.brand import Customer
from podium.sandbox.klaviyo.errors import ApiError
from podium.sandbox.klaviyo.model import KlaviyoModel, hashed_id, iso, profile_id

IDENTIFIERS = ("email", "phone_number", "external_id")


@dataclass
class Record:
    """A profile as writes left it."""

    id: str
    attributes: dict[str, Any]
    created: datetime
    updated: datetime

    def render(self) -> dict[str, Any]:
        return {**self.attributes, "created": iso(self.created), "updated": iso(self.updated)}


@dataclass
class Outcome:
    """What one upsert did: the profile, and whether it was created."""

    record: Record
    created: bool


@dataclass
class _Lists:
    added: dict[str, set[str]] = field(default_factory=dict)
    removed: dict[str, set[str]] = field(default_factory=dict)


class AccountState:
    """The written state over ``model``'s account; every method takes the simulator's
    ``now``. Thread-safe: the sandbox serves requests from several threads."""

    def __init__(self, model: KlaviyoModel) -> None:
        self.model = model
        self.records: dict[str, Record] = {}
        self._held: dict[tuple[str, Any], str] = {}  # (identifier, value) → a record's id
        self._lists = _Lists()
        self._lock = threading.RLock()
        self._serial = itertools.count(1)
        self.version = 0  # moves on with every write: listings cache by it

    def written(self) -> dict[str, Record]:
        """The profiles writes have touched or created, by id (a copy)."""
        with self._lock:
            return dict(self.records)

    # -- reading ---------------------------------------------------------------------
    def profile(self, pid: str, now: datetime) -> Record | None:
        """The profile ``pid`` as of ``now``, or None when it does not exist."""
        with self._lock:
            if pid in self.records:
                return self.records[pid]
            customer = self._customers_by_pid.get(pid)
            if customer is None or customer.created_at > now:
                return None
            return _brand_record(self.model, customer, now)

    def profiles(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Every profile's attributes as of ``now`` (``created``/``updated`` included)."""
        with self._lock:
            found = {
                profile_id(c.id): _brand_record(self.model, c, now).render()
                for c in self.model.customers_as_of(now)
            }
            found.update({pid: r.render() for pid, r in self.records.items()})
            return found

    def list_ids(self) -> set[str]:
        return {lid for lid, _ in self.model.lists}

    def members(self, list_id: str, now: datetime) -> list[str]:
        """The profile ids on list ``list_id`` as of ``now``, sorted."""
        with self._lock:
            base = set()
            if list_id == self.model.lists[0][0]:  # Newsletter
                base = {profile_id(c.id) for c in self.model.audience(now)}
            added = self._lists.added.get(list_id, set())
            removed = self._lists.removed.get(list_id, set())
            return sorted((base | added) - removed)

    def holder(self, name: str, value: Any, now: datetime) -> str | None:
        """The id of the profile whose identifier ``name`` is ``value``, if any."""
        if value is None:
            return None
        with self._lock:
            held = self._held.get((name, value))
            if held is not None:
                return held
            customer = self._customers_by_identifier.get((name, value))
            if customer is None or customer.created_at > now:
                return None
            pid = profile_id(customer.id)
            return None if pid in self.records else pid  # a write may have changed it

    # -- writing ---------------------------------------------------------------------
    def create(self, attributes: Mapping[str, Any], now: datetime) -> Record:
        with self._lock:
            for name in IDENTIFIERS:
                taken = self.holder(name, attributes.get(name), now)
                if taken is not None:
                    raise duplicate(taken)
            pid = "01" + hashed_id("written-profile", next(self._serial), 24, _ULID)
            record = Record(pid, {}, now, now)
            self.records[pid] = record
            self._write(record, attributes, {}, clear=True)
            return record

    def update(
        self, pid: str, attributes: Mapping[str, Any], meta: Mapping[str, Any], now: datetime
    ) -> Record:
        with self._lock:
            record = self._writable(pid, now)
            if record is None:
                raise ApiError(404, "not_found", "Not found.",
                               f"A profile with id {pid} does not exist.",
                               {"pointer": "/data/id"})  # fmt: skip
            for name in IDENTIFIERS:
                taken = self.holder(name, attributes.get(name), now)
                if taken is not None and taken != pid:
                    raise duplicate(taken)
            self._write(record, attributes, meta, clear=True)
            record.updated = now
            return record

    def upsert(
        self,
        attributes: Mapping[str, Any],
        meta: Mapping[str, Any],
        now: datetime,
        *,
        pid: str | None = None,
        clear: bool = True,
    ) -> Outcome:
        """profile-import's create-or-update (``clear=False``: bulk import, where a
        ``None`` leaves the field alone)."""
        with self._lock:
            holders = [self.holder(name, attributes.get(name), now) for name in IDENTIFIERS]
            ordered = list(dict.fromkeys(h for h in holders if h is not None))
            matched = set(ordered)
            if pid is not None:
                if self.profile(pid, now) is None or matched - {pid}:
                    # Klaviyo answers an id whose identifiers belong elsewhere with a 404.
                    raise ApiError(404, "not_found", "Not found.",
                                   f"A profile with id {pid} and these identifiers does not "
                                   "exist.", {"pointer": "/data/id"})  # fmt: skip
                matched = {pid}
            if len(matched) > 1:  # named: the holder of the email, else of the phone
                raise duplicate(ordered[0])
            if not matched:
                fresh = {k: v for k, v in attributes.items() if clear or v is not None}
                return Outcome(self.create(fresh, now), True)
            record = self._writable(matched.pop(), now)
            assert record is not None
            self._write(record, attributes, meta, clear=clear)
            record.updated = now
            return Outcome(record, False)

    def add_members(self, list_id: str, pids: Iterable[str]) -> None:
        with self._lock:
            for pid in pids:
                self._lists.added.setdefault(list_id, set()).add(pid)
                self._lists.removed.get(list_id, set()).discard(pid)

    def remove_members(self, list_id: str, pids: Iterable[str]) -> None:
        with self._lock:
            for pid in pids:
                self._lists.removed.setdefault(list_id, set()).add(pid)
                self._lists.added.get(list_id, set()).discard(pid)

    # -- helpers ---------------------------------------------------------------------
    def _writable(self, pid: str, now: datetime) -> Record | None:
        """The record of ``pid``, a brand profile copied into ``records`` (and indexed)
        the first time it is written."""
        record = self.profile(pid, now)
        if record is not None and pid not in self.records:
            self.records[pid] = record
            self._held.update({(n, record.attributes[n]): pid for n in IDENTIFIERS
                               if record.attributes.get(n) is not None})  # fmt: skip
        return record

    def _write(
        self, record: Record, attributes: Mapping[str, Any], meta: Mapping[str, Any], *,
        clear: bool,
    ) -> None:  # fmt: skip
        self.version += 1
        before = {n: record.attributes.get(n) for n in IDENTIFIERS}
        _apply(record, attributes, meta, clear=clear)
        for name, old in before.items():
            new = record.attributes.get(name)
            if old != new and self._held.get((name, old)) == record.id:
                del self._held[(name, old)]
            if new is not None:
                self._held[(name, new)] = record.id

    @cached_property
    def _customers_by_pid(self) -> dict[str, Customer]:
        return {profile_id(c.id): c for c in self.model.brand.customers}

    @cached_property
    def _customers_by_identifier(self) -> dict[tuple[str, Any], Customer]:
        found: dict[tuple[str, Any], Customer] = {}
        for c in self.model.brand.customers:
            for key in (("email", c.email), ("phone_number", c.phone), ("external_id", str(c.id))):
                found.setdefault(key, c)
        return found


_ULID = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def duplicate(holder: str) -> ApiError:
    return ApiError(409, "duplicate_profile", "Conflict.",
                    "A profile already exists with one of these identifiers.",
                    {"pointer": "/data/attributes"},
                    meta={"duplicate_profile_id": holder})  # fmt: skip


def _brand_record(model: KlaviyoModel, c: Customer, now: datetime) -> Record:
    attributes = {
        "email": c.email,
        "phone_number": c.phone,
        "external_id": str(c.id),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "location": {"city": c.city, "region": c.region, "country": "United States"},
        "properties": {},
    }
    return Record(profile_id(c.id), attributes, c.created_at, model.profile_updated(c, now))


def _apply(
    record: Record, attributes: Mapping[str, Any], meta: Mapping[str, Any], *, clear: bool
) -> None:
    target = record.attributes
    for name, value in attributes.items():
        if value is None and not clear:
            continue
        if name == "properties" and value is not None:
            target["properties"] = {**(target.get("properties") or {}), **value}
        elif name == "location" and value is not None:
            target["location"] = {**(target.get("location") or {}), **value}
        elif value is None:
            target.pop(name, None)
        else:
            target[name] = value
    patch = meta.get("patch_properties") or {}
    properties = dict(target.get("properties") or {})
    for key, value in (patch.get("append") or {}).items():
        old = properties.get(key)
        items = old if isinstance(old, list) else ([] if old is None else [old])
        properties[key] = [*items, *(value if isinstance(value, list) else [value])]
    for key, value in (patch.get("unappend") or {}).items():
        gone = value if isinstance(value, list) else [value]
        if isinstance(properties.get(key), list):
            properties[key] = [v for v in properties[key] if v not in gone]
    unset = patch.get("unset") or []
    for key in [unset] if isinstance(unset, str) else unset:
        properties.pop(key, None)
    if patch or "properties" in target:
        target["properties"] = properties
