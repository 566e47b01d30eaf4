"""What a Klaviyo account holds, rendered deterministically from the brand.

Everything is generated once for the brand's whole life, each item with the time it
appears; ``KlaviyoModel`` then shows it *as of* a time:

    metrics     Placed Order, Ordered Product, Started Checkout, Active on Site (Shopify),
                Received / Opened / Clicked Email (Klaviyo); they exist long before the brand
    profiles    one per brand customer who exists by then (same email and phone,
                ``external_id`` = the Shopify customer id); ``updated`` is bumped by every
                order they place
    events      per DTC order *created* by then, deleted ones included (Klaviyo events are
                immutable: deleting the Shopify order does not remove its Placed Order):
                Active on Site 5 minutes before, Placed Order (``$value`` = order total,
                ``OrderId`` = order number, ``$event_id`` = order id), one Ordered Product
                per line; Started Checkout for abandoned carts; Received / Opened / Clicked
                Email for every campaign and flow send (opens and clicks drawn from a seeded
                RNG)
    campaigns   one email campaign every 7 days to the Newsletter list (customers who
                accept marketing); created 2 days before it is sent; every 4th is archived
                21 days after sending (listing it then needs ``equals(archived,true)``)
    flows       Welcome Series (1 h after sign-up), Abandoned Cart (4 h after a started
                checkout), and an archived Browse Abandonment that never sends
    lists       Newsletter, VIP

Event ids, profile ids and metric ids look like Klaviyo's and are derived by hashing, so
the same brand always renders the same account.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from podium.sandbox.brand import Brand, Channel, Customer, Order

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as in ULIDs
_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CAMPAIGN_EVERY = timedelta(days=7)
ATTRIBUTION_WINDOW = timedelta(days=5)
OPEN_RATE, CLICK_RATE = 0.42, 0.28  # click: a share of opens
CHECKOUT_SHARE = 0.3  # abandoned checkouts per day, as a share of DTC orders per day

SHOPIFY, KLAVIYO = "Shopify", "Klaviyo"
METRICS = (
    ("Placed Order", SHOPIFY),
    ("Ordered Product", SHOPIFY),
    ("Started Checkout", SHOPIFY),
    ("Active on Site", KLAVIYO),
    ("Received Email", KLAVIYO),
    ("Opened Email", KLAVIYO),
    ("Clicked Email", KLAVIYO),
)
EMAIL_METRICS = ("Received Email", "Opened Email", "Clicked Email")
LIST_TRIGGER = "Added to List"


def hashed_id(kind: str, key: object, length: int, alphabet: str = _BASE62) -> str:
    """A stable id that looks like Klaviyo's, derived from ``kind`` and ``key``."""
    digest = int.from_bytes(hashlib.blake2b(f"{kind}:{key}".encode(), digest_size=16).digest())
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def profile_id(customer_id: int) -> str:
    return "01" + hashed_id("profile", customer_id, 24, _ALPHABET)


def metric_id(name: str) -> str:
    return hashed_id("metric", name, 6)


def iso(moment: datetime) -> str:
    """Klaviyo's timestamp shape: ``2025-05-01T10:00:00+00:00``."""
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Event:
    id: str
    metric: str
    at: datetime
    profile: str
    properties: dict[str, Any]
    message: str | None = None  # the email message it belongs to (email metrics)

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.at, self.id)


@dataclass(frozen=True)
class Message:
    """One email message: a campaign's (one each) or a flow's."""

    id: str
    name: str
    subject: str
    campaign: str | None = None
    flow: str | None = None


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    message: Message
    created: datetime
    send_time: datetime
    archived_at: datetime | None = None


@dataclass(frozen=True)
class Flow:
    id: str
    name: str
    trigger: str  # "Added to List", or the name of the metric whose events trigger it
    created: datetime
    messages: tuple[Message, ...] = ()
    archived: bool = False

    @property
    def trigger_type(self) -> str:
        """Klaviyo's ``trigger_type``: ``Added to List``, or ``Metric`` for a metric's events."""
        return self.trigger if self.trigger == LIST_TRIGGER else "Metric"


@dataclass
class _Sends:
    """Email sends gathered while generating: (message, customer, time)."""

    items: list[tuple[Message, Customer, datetime]] = field(default_factory=list)


class KlaviyoModel:
    """The Klaviyo account of one brand; see the module docstring. Thread-safe to read."""

    def __init__(self, brand: Brand) -> None:
        self.brand = brand
        self.epoch = brand.config.start_at - timedelta(days=400)
        self.customers = {c.id: c for c in brand.customers}

    # -- static things -------------------------------------------------------------------
    @cached_property
    def metric_ids(self) -> dict[str, str]:
        return {name: metric_id(name) for name, _ in METRICS}

    @cached_property
    def flows(self) -> tuple[Flow, ...]:
        def flow(name: str, trigger: str, subjects: tuple[str, ...], archived: bool) -> Flow:
            fid = hashed_id("flow", name, 6)
            messages = tuple(
                Message(hashed_id("flow-message", f"{name}:{s}", 6), s, s, flow=fid)
                for s in subjects
            )
            return Flow(fid, name, trigger, self.epoch, messages, archived)

        return (
            flow("Welcome Series", LIST_TRIGGER, ("Welcome to the brand",), False),
            flow("Abandoned Cart", "Started Checkout", ("You left something behind",), False),
            flow("Browse Abandonment", "Viewed Product", ("Still looking?",), True),
        )

    @cached_property
    def campaigns(self) -> tuple[Campaign, ...]:
        cfg = self.brand.config
        result, send, n = [], cfg.start_at + timedelta(days=2, hours=15), 1
        while send < cfg.end_at:
            cid = hashed_id("campaign", n, 26, _ALPHABET)
            name = f"Weekly newsletter #{n}"
            message = Message(hashed_id("campaign-message", n, 26, _ALPHABET), name, name, cid)
            archived = send + timedelta(days=21) if n % 4 == 0 else None
            result.append(Campaign(cid, name, message, send - timedelta(days=2), send, archived))
            send, n = send + CAMPAIGN_EVERY, n + 1
        return tuple(result)

    @cached_property
    def lists(self) -> tuple[tuple[str, str], ...]:
        return tuple((hashed_id("list", name, 6), name) for name in ("Newsletter", "VIP"))

    # -- events --------------------------------------------------------------------------
    @cached_property
    def events(self) -> tuple[Event, ...]:
        """Every event the account will ever have, sorted by (datetime, id)."""
        events = list(self._order_events())
        sends = _Sends()
        events.extend(self._checkouts(sends))
        self._campaign_sends(sends)
        self._welcome_sends(sends)
        events.extend(self._email_events(sends))
        events.sort(key=lambda e: e.key)
        return tuple(events)

    @cached_property
    def event_keys(self) -> list[tuple[datetime, str]]:
        return [e.key for e in self.events]

    def events_as_of(self, now: datetime) -> tuple[Event, ...]:
        return self.events[: self.count_until(now)]

    def count_until(self, now: datetime) -> int:
        """How many events have ``datetime <= now``."""
        return bisect.bisect_right(self.event_keys, (now, "\U0010ffff"))

    def index_from(self, at: datetime) -> int:
        """The index of the first event with ``datetime >= at``."""
        return bisect.bisect_left(self.event_keys, (at, ""))

    def _order_events(self) -> Iterator[Event]:
        for order in self.brand.orders(Channel.DTC):
            if order.customer_id is None:
                continue
            profile = profile_id(order.customer_id)
            at = order.created_at
            yield Event(
                hashed_id("event", f"site:{order.id}", 11),
                "Active on Site",
                at - timedelta(minutes=5),
                profile,
                {"page": "/checkout"},
            )
            yield Event(
                hashed_id("event", f"order:{order.id}", 11),
                "Placed Order",
                at,
                profile,
                _placed_order_properties(order),
            )
            for line in order.lines:
                yield Event(
                    hashed_id("event", f"line:{order.id}:{line.number}", 11),
                    "Ordered Product",
                    at,
                    profile,
                    {
                        "$event_id": f"{order.id}:{line.number}",
                        "$value": float(line.gross - line.discount),
                        "OrderId": order.number,
                        "SKU": line.variant.sku,
                        "ProductName": line.variant.sku.rsplit("-", 1)[0],
                        "Quantity": line.quantity,
                    },
                )

    def _checkouts(self, sends: _Sends) -> Iterator[Event]:
        cfg, cart = self.brand.config, self.flows[1].messages[0]
        for day in range(cfg.days):
            rng = random.Random(f"{cfg.seed}:klaviyo:checkout:{day}")
            start = cfg.start_at + timedelta(days=day)
            known = self.customers_as_of(start)
            for i in range(int(cfg.dtc_orders_per_day * CHECKOUT_SHARE * rng.uniform(0.8, 1.2))):
                if not known:
                    break
                customer = rng.choice(known)
                at = start + timedelta(seconds=rng.randrange(86_400))
                yield Event(
                    hashed_id("event", f"checkout:{day}:{i}", 11),
                    "Started Checkout",
                    at,
                    profile_id(customer.id),
                    {"$event_id": f"checkout-{day}-{i}", "$value": rng.choice((25.0, 68.0))},
                )
                if customer.accepts_marketing:
                    sends.items.append((cart, customer, at + timedelta(hours=4)))

    def _campaign_sends(self, sends: _Sends) -> None:
        for campaign in self.campaigns:
            for i, customer in enumerate(self.audience(campaign.send_time)):
                sends.items.append((campaign.message, customer, campaign.send_time + _spread(i)))

    def _welcome_sends(self, sends: _Sends) -> None:
        welcome = self.flows[0].messages[0]
        for customer in self.brand.customers:
            if customer.accepts_marketing:
                sends.items.append((welcome, customer, customer.created_at + timedelta(hours=1)))

    def audience(self, at: datetime) -> list[Customer]:
        """The Newsletter list at ``at``: customers who exist and accept marketing."""
        return [c for c in self.customers_as_of(at) if c.accepts_marketing]

    def _email_events(self, sends: _Sends) -> Iterator[Event]:
        seed = self.brand.config.seed
        for message, customer, at in sends.items:
            key = f"{message.id}:{customer.id}:{int(at.timestamp())}"  # a cart may recur
            rng = random.Random(f"{seed}:klaviyo:email:{key}")
            props = _email_properties(message)
            profile = profile_id(customer.id)
            yield Event(hashed_id("event", f"recv:{key}", 11), "Received Email", at, profile,
                        props, message.id)  # fmt: skip
            if rng.random() >= OPEN_RATE:
                continue
            opened = at + timedelta(minutes=rng.uniform(5, 48 * 60))
            yield Event(hashed_id("event", f"open:{key}", 11), "Opened Email", opened, profile,
                        props, message.id)  # fmt: skip
            if rng.random() < CLICK_RATE:
                clicked = opened + timedelta(minutes=rng.uniform(0.5, 30))
                yield Event(hashed_id("event", f"click:{key}", 11), "Clicked Email", clicked,
                            profile, {**props, "URL": "https://shop.example/"}, message.id)  # fmt: skip

    # -- profiles ------------------------------------------------------------------------
    @cached_property
    def _order_times(self) -> dict[int, list[datetime]]:
        times: dict[int, list[datetime]] = {}
        for order in self.brand.orders(Channel.DTC):
            if order.customer_id is not None:
                times.setdefault(order.customer_id, []).append(order.created_at)
        return times

    def profile_updated(self, customer: Customer, now: datetime) -> datetime:
        """Its creation, or its latest order placed by ``now`` (deleted orders too)."""
        times = self._order_times.get(customer.id, [])
        before = bisect.bisect_right(times, now)
        return max(customer.created_at, times[before - 1]) if before else customer.created_at

    @cached_property
    def _created(self) -> list[datetime]:
        return [c.created_at for c in self.brand.customers]  # generated in creation order

    def customers_as_of(self, now: datetime) -> tuple[Customer, ...]:
        return self.brand.customers[: bisect.bisect_right(self._created, now)]

    @cached_property
    def messages(self) -> dict[str, Message]:
        found = {c.message.id: c.message for c in self.campaigns}
        found.update({m.id: m for f in self.flows for m in f.messages})
        return found


def _spread(i: int) -> timedelta:
    """Sends of one campaign leave over ten minutes."""
    return timedelta(seconds=i % 600)


def _placed_order_properties(order: Order) -> dict[str, Any]:
    return {
        "$event_id": str(order.id),
        "$value": float(order.total),
        "OrderId": order.number,
        "ItemCount": order.units,
        "DiscountCodes": order.promo or "",
        "Currency": order.currency,
    }


def _email_properties(message: Message) -> dict[str, Any]:
    props: dict[str, Any] = {"$message": message.id, "Subject": message.subject}
    if message.campaign:
        props["Campaign Name"] = message.name
    if message.flow:
        props["$flow"] = message.flow
    return props


def value_of(event: Event) -> Decimal:
    """An event's ``$value`` as the exact two-place decimal it was made from."""
    return Decimal(repr(event.properties.get("$value", 0.0))).quantize(Decimal("0.01"))
