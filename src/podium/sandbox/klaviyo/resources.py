"""Klaviyo's JSON:API resources as the simulator renders them, and how each is listed.

Each ``Listing`` says how ``GET /api/<name>/`` behaves: its default and largest page (the
``page[size]`` default and maximum of revision 2026-07-15's OpenAPI; whether a revision
takes ``page[size]`` at all is ``revisions.py``'s to say), the field it sorts on, the
filter operators each field accepts (others are a 400, as in Klaviyo),
and ``rows(now, archived)``: the resources existing at ``now``, with their sort keys, in
sorted order. Resources are rendered lazily (``render``) so a page of events costs a page.

Profiles are the brand's as written over (``store.AccountState``): a written profile shows
as it was last written, a created one joins the list. ``any``/``equals`` on a profile's
``id``, ``email``, ``phone_number`` or ``external_id`` (and a list's ``name`` or ``id``)
take strings; ``find`` narrows a listing to the rows such a condition names without
rendering every row (profiles look identifiers up in the store's index).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from podium.sandbox.klaviyo.model import (
    KLAVIYO,
    METRICS,
    Campaign,
    Event,
    Flow,
    KlaviyoModel,
    hashed_id,
    iso,
    profile_id,
)
from podium.sandbox.klaviyo.store import IDENTIFIERS, AccountState, Record

Key = tuple[Any, str]  # (sort value, id)
TIME_OPS = frozenset({"greater-than", "greater-or-equal", "less-than", "less-or-equal"})
VALUE_OPS = frozenset({"any", "equals"})


@dataclass(frozen=True)
class Rows:
    keys: Sequence[Key]
    items: Sequence[Any]
    render: Callable[[Any], dict[str, Any]]
    end: int = -1  # rows past it do not exist yet (-1: all do)
    index: dict[str, int] | None = None  # id → position, where a listing keeps one
    #: position → the rendered row as JSON, where a listing keeps its rows rendered
    encoded: Callable[[int], bytes] | None = None

    @property
    def count(self) -> int:
        return len(self.keys) if self.end < 0 else self.end


@dataclass(frozen=True)
class Listing:
    name: str
    sort: str | None  # the one sort field accepted (ascending); None: no sort parameter
    filters: dict[str, frozenset[str]]  # field -> accepted operators
    page_default: int
    page_max: int
    rows: Callable[[datetime, bool], Rows]
    archivable: bool = False
    requires_channel: bool = False
    values: frozenset[str] = frozenset()  # fields whose filters take strings, not times
    #: (field, values, now) → the ids those values name, for a listing that can look them up
    find: Callable[[str, Sequence[str], datetime], set[str]] | None = None


def listings(r: Renderer) -> dict[str, Listing]:
    """Every listed resource of the account, rendered by ``r``."""
    return {
        "profiles": Listing(
            "profiles",
            "updated",
            {
                "updated": frozenset({"greater-than", "less-than"}),
                **dict.fromkeys(("id", *IDENTIFIERS), VALUE_OPS),
            },
            20,
            100,
            r.profiles,
            values=frozenset(("id", *IDENTIFIERS)),
            find=r.find_profiles,
        ),  # fmt: skip
        "events": Listing("events", "datetime", {"datetime": TIME_OPS}, 200, 1000, r.events),
        "metrics": Listing("metrics", None, {}, 200, 200, r.metrics),
        "lists": Listing(
            "lists",
            None,
            dict.fromkeys(("name", "id"), VALUE_OPS),
            10,
            10,
            r.lists,
            values=frozenset(("name", "id")),
        ),  # fmt: skip
        "campaigns": Listing(
            "campaigns",
            "updated_at",
            {"updated_at": TIME_OPS},
            100,
            100,
            r.campaigns,
            archivable=True,
            requires_channel=True,
        ),  # fmt: skip
        "flows": Listing(
            "flows", "updated", {"updated": TIME_OPS | {"equals"}}, 50, 50, r.flows, archivable=True
        ),  # fmt: skip
    }


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes
_BASE_MARK = "\x00podium-base\x00"


def _split(rendered: bytes) -> tuple[bytes, bytes]:
    head, _, tail = rendered.partition(b"\\u0000podium-base\\u0000")
    return head, tail


def uuid5_url(name: str) -> str:
    """``str(uuid.uuid5(uuid.NAMESPACE_URL, name))`` without making a ``UUID`` on the way
    (4.6 against 1.5 µs, a third of what rendering an event cost)."""
    digest = bytearray(hashlib.sha1(_URL_NAMESPACE + name.encode()).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Renderer:
    """Renders resources as of a time; ``base`` gives the URL prefix for their links."""

    def __init__(self, model: KlaviyoModel, base: Callable[[], str], state: AccountState) -> None:
        self.model, self.base, self.state = model, base, state
        self._profiles: tuple[tuple[datetime, int], Rows] | None = None
        self._events_json: list[tuple[bytes, bytes]] | None = None
        self._rendering = threading.Lock()

    def _link(self, kind: str, rid: str) -> dict[str, str]:
        return {"self": f"{self.base()}/api/{kind}/{rid}/"}

    # -- profiles --------------------------------------------------------------------
    def profiles(self, now: datetime, archived: bool) -> Rows:
        """The brand's profiles as of ``now``, each as written if it was, and the
        profiles writes created, by (updated, id)."""
        stamp = (now, self.state.version)
        cached = self._profiles
        if cached is not None and cached[0] == stamp:
            return cached[1]
        written = self.state.written()
        items: list[tuple[tuple[datetime, str], Any]] = [
            ((self.model.profile_updated(c, now), profile_id(c.id)), c)
            for c in self.model.customers_as_of(now)
            if profile_id(c.id) not in written
        ]
        items.extend(((r.updated, r.id), r) for r in written.values())
        items.sort(key=lambda pair: pair[0])
        index = {key[1]: n for n, (key, _) in enumerate(items)}
        rows = Rows([k for k, _ in items], [(k[0], c) for k, c in items], self._profile,
                    index=index)  # fmt: skip
        self._profiles = (stamp, rows)
        return rows

    def find_profiles(self, field: str, values: Sequence[str], now: datetime) -> set[str]:
        """The ids of the profiles whose ``field`` is one of ``values``."""
        if field == "id":
            return set(values)
        found = (self.state.holder(field, value, now) for value in values)
        return {pid for pid in found if pid is not None}

    def _profile(self, item: Any) -> dict[str, Any]:
        updated, c = item
        if isinstance(c, Record):
            return {"type": "profile", "id": c.id, "attributes": c.render(),
                    "links": self._link("profiles", c.id)}  # fmt: skip
        pid = profile_id(c.id)
        location = {"city": c.city, "region": c.region, "country": "United States"}
        attributes = {
            "email": c.email,
            "phone_number": c.phone,
            "external_id": str(c.id),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "location": location,
            "created": iso(c.created_at),
            "updated": iso(updated),
        }
        return {"type": "profile", "id": pid, "attributes": attributes,
                "links": self._link("profiles", pid)}  # fmt: skip

    # -- events ----------------------------------------------------------------------
    def events(self, now: datetime, archived: bool) -> Rows:
        count = self.model.count_until(now)
        keys = self.model.event_keys
        return Rows(keys, self.model.events, self.event, count, encoded=self._encoded_event)

    def render_events(self) -> list[tuple[bytes, bytes]]:
        """Every event as JSON, once (events never change), split where its link's base
        URL goes: the first events page renders them all, or ``render_ahead`` before."""
        with self._rendering:
            if self._events_json is None:
                self._events_json = [
                    _split(orjson.dumps(self.event(event, _BASE_MARK)))
                    for event in self.model.events
                ]
            return self._events_json

    def _encoded_event(self, position: int) -> bytes:
        head, tail = (self._events_json or self.render_events())[position]
        return head + self.base().encode() + tail

    def event(self, event: Event, base: str | None = None) -> dict[str, Any]:
        metric = self.model.metric_ids[event.metric]
        return {
            "type": "event",
            "id": event.id,
            "attributes": {
                "timestamp": int(event.at.timestamp()),
                "event_properties": event.properties,
                "datetime": iso(event.at),
                "uuid": uuid5_url(event.id),
            },
            "relationships": {
                "profile": {"data": {"type": "profile", "id": event.profile}},
                "metric": {"data": {"type": "metric", "id": metric}},
            },
            "links": {"self": f"{self.base() if base is None else base}/api/events/{event.id}/"},
        }

    # -- small resources -------------------------------------------------------------
    def metrics(self, now: datetime, archived: bool) -> Rows:
        created = iso(self.model.epoch)
        items = []
        for name, integration in METRICS:
            mid = self.model.metric_ids[name]
            items.append(
                {
                    "type": "metric",
                    "id": mid,
                    "attributes": {
                        "name": name,
                        "created": created,
                        "updated": created,
                        "integration": {
                            "object": "integration",
                            "id": hashed_id("integration", integration, 6),
                            "name": integration,
                            "category": "Email" if integration == KLAVIYO else "eCommerce",
                        },
                    },
                    "links": self._link("metrics", mid),
                }
            )
        return _static(items)

    def lists(self, now: datetime, archived: bool) -> Rows:
        created = iso(self.model.epoch)
        items = [
            {"type": "list", "id": lid, "attributes": {"name": name, "created": created,
             "updated": created, "opt_in_process": "single_opt_in"},
             "links": self._link("lists", lid)}
            for lid, name in self.model.lists
        ]  # fmt: skip
        return _static(items)

    def campaigns(self, now: datetime, archived: bool) -> Rows:
        found = []
        for c in self.model.campaigns:
            if c.created > now or _is_archived(c, now) != archived:
                continue
            found.append(((_campaign_updated(c, now), c.id), c))
        found.sort(key=lambda pair: pair[0])
        return Rows([k for k, _ in found], [(now, c) for _, c in found], self._campaign)

    def _campaign(self, item: tuple[datetime, Campaign]) -> dict[str, Any]:
        now, c = item
        sent = c.send_time <= now
        newsletter = self.model.lists[0][0]
        attributes = {
            "name": c.name,
            "status": "Sent" if sent else "Scheduled",
            "archived": _is_archived(c, now),
            "audiences": {"included": [newsletter], "excluded": []},
            "send_options": {"use_smart_sending": True},
            "send_strategy": {"method": "static", "datetime": iso(c.send_time)},
            "created_at": iso(c.created),
            "scheduled_at": iso(c.created),
            "updated_at": iso(_campaign_updated(c, now)),
            "send_time": iso(c.send_time) if sent else None,
        }
        messages = [{"type": "campaign-message", "id": c.message.id}]
        return {"type": "campaign", "id": c.id, "attributes": attributes,
                "relationships": {"campaign-messages": {"data": messages}},
                "links": self._link("campaigns", c.id)}  # fmt: skip

    def flows(self, now: datetime, archived: bool) -> Rows:
        found = [((f.created, f.id), f) for f in self.model.flows if f.archived == archived]
        found.sort(key=lambda pair: pair[0])
        return Rows([k for k, _ in found], [f for _, f in found], self._flow)

    def _flow(self, f: Flow) -> dict[str, Any]:
        attributes = {
            "name": f.name,
            "status": "draft" if f.archived else "live",
            "archived": f.archived,
            "created": iso(f.created),
            "updated": iso(f.created),
            "trigger_type": f.trigger_type,
        }
        actions = [{"type": "flow-action", "id": m.id} for m in f.messages]
        return {"type": "flow", "id": f.id, "attributes": attributes,
                "relationships": {"flow-actions": {"data": actions}},
                "links": self._link("flows", f.id)}  # fmt: skip


def _is_archived(c: Campaign, now: datetime) -> bool:
    return c.archived_at is not None and c.archived_at <= now


def _campaign_updated(c: Campaign, now: datetime) -> datetime:
    if c.archived_at is not None and c.archived_at <= now:
        return c.archived_at
    return c.send_time if c.send_time <= now else c.created


def _static(items: list[dict[str, Any]]) -> Rows:
    items.sort(key=lambda item: item["id"])
    return Rows([("", item["id"]) for item in items], items, lambda item: item)
