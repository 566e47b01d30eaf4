"""The generated brand every simulator serves: one catalogue, customers and orders.

``Brand(BrandConfig())`` builds, deterministically from ``seed``, a small consumer brand:

    products / variants   SKUs shared by every channel (Shopify variant, Amazon SellerSKU and
                          ASIN, NetSuite item), retail prices in USD
    customers             DTC shoppers (Shopify customers, Klaviyo profiles: same emails)
    wholesale accounts    retailers buying in bulk (NetSuite customers)
    orders                per channel and day, with weekly seasonality and promotions:
                          ``dtc`` (Shopify), ``marketplace`` (Amazon, AFN or MFN),
                          ``wholesale`` (NetSuite sales orders, invoiced days later)
    status changes        each order moves through its channel's statuses over days
    refunds               partial or full, landing 2–14 days after the order
    deletions             a few DTC test orders are deleted hours after they were placed

Everything has a time; a simulator shows the brand *as of* its ``SimClock``'s now, so
moving the clock makes new orders appear, statuses change and refunds land. ``truth``
gives the exact expected figures per day and channel as of a time, to the cent.

A ``BrandConfig`` without ``start`` is anchored to podium's clock (``podium.clock``): its
history ends ``lead`` (two weeks, at most a quarter of its days) after today, so the sandbox
serves a live brand on any date, and ``PODIUM_CLOCK_OFFSET`` moves it with podium's "now".
An explicit ``start`` (``EXAMPLE_START`` in tests of fixed figures) gives the same brand on
every date.

Money is ``Decimal`` with two places; times are aware UTC datetimes.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cached_property

from podium import clock

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.08")
FREE_SHIPPING_OVER = Decimal("75.00")
SHIPPING = Decimal("7.95")
WHOLESALE_SHARE = Decimal("0.50")  # wholesale price = half of retail
WEEKDAY_FACTOR = (0.9, 0.95, 1.0, 1.0, 1.1, 1.3, 1.2)  # Monday … Sunday
PROMO_EVERY_DAYS, PROMO_LENGTH_DAYS = 14, 2
PROMO_CODE, PROMO_DISCOUNT, PROMO_LIFT = "FALL20", Decimal("0.20"), 1.5
DEFAULT_LEAD = timedelta(days=14)  # an anchored brand's history goes on this long after now
EXAMPLE_START = date(2026, 9, 1)  # a fixed start: the same brand on every date
# Named brand sizes (orders a year across every channel; None: BrandConfig's defaults,
# about 22,000). ``BrandConfig.at_scale`` keeps the default brand's channel mix and its
# customers per order at any size.
SCALES: dict[str, int | None] = {"small": None, "large": 1_000_000}

_FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lia")
_LAST = ("Moss", "Nash", "Ortiz", "Park", "Quinn", "Reyes", "Sato", "Tran", "Udall", "Vega")
_CITIES = (("Austin", "TX"), ("Denver", "CO"), ("Boston", "MA"), ("Seattle", "WA"), ("Miami", "FL"))
_PRODUCTS = (
    ("Everyday Tee", "Apparel", Decimal("25.00"), ("S", "M", "L")),
    ("Trail Hoodie", "Apparel", Decimal("68.00"), ("S", "M", "L")),
    ("Wool Socks", "Accessories", Decimal("14.00"), ("M", "L")),
    ("Canvas Tote", "Accessories", Decimal("32.00"), ("OS",)),
    ("Cold Brew Kit", "Home", Decimal("45.50"), ("OS",)),
    ("Ceramic Mug", "Home", Decimal("18.75"), ("OS",)),
    ("Rain Shell", "Apparel", Decimal("129.00"), ("S", "M", "L")),
    ("Beanie", "Accessories", Decimal("22.00"), ("OS",)),
)
_RETAILERS = (
    "Northwind Outfitters", "Blue Ridge Goods", "Harbor & Pine", "Meadow Market",
    "Summit Supply Co", "Lakeside General", "Copper Kettle Home", "Urban Trail",
)  # fmt: skip


def money(value: Decimal | int | float | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class Channel(StrEnum):
    DTC = "dtc"  # Shopify
    MARKETPLACE = "marketplace"  # Amazon
    WHOLESALE = "wholesale"  # NetSuite


# Each channel's statuses, in order, with the delay after the order at which each starts.
STATUSES: dict[Channel, tuple[tuple[timedelta, str], ...]] = {
    Channel.DTC: ((timedelta(0), "unfulfilled"), (timedelta(days=2), "fulfilled")),
    Channel.MARKETPLACE: (
        (timedelta(0), "Pending"),
        (timedelta(minutes=30), "Unshipped"),
        (timedelta(days=1), "Shipped"),
    ),
    Channel.WHOLESALE: (
        (timedelta(0), "pendingFulfillment"),
        (timedelta(days=3), "billed"),  # invoiced: the NetSuite invoice is created then
    ),
}
# Statuses in which an API shows an order without prices (SP-API: Pending).
UNPRICED = frozenset({"Pending"})
REFUND_SHARE = {Channel.DTC: 0.08, Channel.MARKETPLACE: 0.05, Channel.WHOLESALE: 0.04}


@dataclass(frozen=True)
class Variant:
    id: int
    product_id: int
    sku: str
    title: str  # the size
    price: Decimal
    barcode: str  # UPC, 12 digits
    inventory_item_id: int
    asin: str


@dataclass(frozen=True)
class Product:
    id: int
    title: str
    handle: str
    product_type: str
    created_at: datetime
    variants: tuple[Variant, ...]
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Customer:
    id: int
    email: str
    phone: str
    first_name: str
    last_name: str
    city: str
    region: str
    created_at: datetime
    accepts_marketing: bool


@dataclass(frozen=True)
class WholesaleAccount:
    id: int
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class Line:
    number: int  # 1-based position in the order
    variant: Variant
    quantity: int
    unit_price: Decimal
    discount: Decimal  # for the whole line

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class RefundLine:
    line_number: int
    quantity: int
    amount: Decimal  # what is given back for these units (net of their discount)


@dataclass(frozen=True)
class Refund:
    id: int
    created_at: datetime
    lines: tuple[RefundLine, ...]
    shipping: Decimal  # shipping given back (full refunds only)
    reason: str

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00")) + self.shipping


@dataclass(frozen=True)
class Order:
    """One order in one channel. Taxes are not refunded (a simplification, see docs)."""

    id: int
    channel: Channel
    number: str  # Shopify name, Amazon order id, NetSuite tranid
    customer_id: int | None  # a Customer (dtc), a WholesaleAccount (wholesale), None (amazon)
    created_at: datetime
    lines: tuple[Line, ...]
    shipping: Decimal
    tax: Decimal
    refunds: tuple[Refund, ...] = ()
    deleted_at: datetime | None = None
    fulfillment_channel: str = ""  # AFN or MFN (Amazon)
    promo: str | None = None
    currency: str = "USD"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.gross for line in self.lines), Decimal("0.00"))

    @property
    def discounts(self) -> Decimal:
        return sum((line.discount for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discounts + self.shipping + self.tax

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    def status_changes(self) -> tuple[tuple[datetime, str], ...]:
        return tuple((self.created_at + delay, name) for delay, name in STATUSES[self.channel])

    def as_of(self, now: datetime) -> OrderView | None:
        """What an API shows of this order at ``now``; None before it exists or once deleted."""
        if self.created_at > now or (self.deleted_at is not None and self.deleted_at <= now):
            return None
        changes = [(at, name) for at, name in self.status_changes() if at <= now]
        refunds = tuple(r for r in self.refunds if r.created_at <= now)
        moments = [at for at, _ in changes] + [r.created_at for r in refunds]
        return OrderView(self, changes[-1][1], refunds, max(moments))


@dataclass(frozen=True)
class OrderView:
    """An order as of a time: its status then, the refunds landed by then, and the time of
    its latest change (``updated_at``)."""

    order: Order
    status: str
    refunds: tuple[Refund, ...]
    updated_at: datetime

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0.00"))


@dataclass(frozen=True)
class BrandConfig:
    seed: int = 42
    start: date | None = None  # None: anchored to podium's clock (see the module docstring)
    days: int = 120  # orders exist from ``start`` for this many days
    dtc_orders_per_day: float = 40
    marketplace_orders_per_day: float = 20
    wholesale_orders_per_day: float = 1.5
    customers: int = 1500
    wholesale_accounts: int = 8
    # How many of a channel's orders one day may number before ids move to the next day's
    # block: ``order id = day × seq_per_day + i``. 1000 (the small brand's, ids as ever)
    # unless a channel's busiest day could reach it.
    seq_per_day: int = field(default=0, compare=True)
    # When the brand was anchored to podium's clock: the moment it was anchored at.
    anchored_at: datetime | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.seq_per_day <= 0:
            object.__setattr__(self, "seq_per_day", _seq_block(self.busiest_day))
        if self.start is None:
            now = clock.now()
            end = (now + self.lead).date() + timedelta(days=1)
            object.__setattr__(self, "start", end - timedelta(days=self.days))
            object.__setattr__(self, "anchored_at", now)

    @classmethod
    def at_scale(cls, scale: str | int, **settings: object) -> BrandConfig:
        """A brand of ``scale`` orders a year (or a name in ``SCALES``), in the default
        brand's proportions: the same channel mix, customers per order and shape of a day;
        ``settings`` set any other field (``days``, ``start``, ``seed``)."""
        orders = SCALES[scale] if isinstance(scale, str) else scale
        if orders is None:
            return cls(**settings)  # type: ignore[arg-type]
        if orders <= 0:
            raise ValueError(f"a brand's scale is orders a year > 0, not {orders}")
        factor = orders / cls().orders_per_year
        sized: dict[str, object] = {
            "dtc_orders_per_day": cls.dtc_orders_per_day * factor,
            "marketplace_orders_per_day": cls.marketplace_orders_per_day * factor,
            "wholesale_orders_per_day": cls.wholesale_orders_per_day * factor,
            "customers": max(1, round(cls.customers * factor)),
        }
        return cls(**{**sized, **settings})  # type: ignore[arg-type]

    @property
    def orders_per_year(self) -> float:
        rates = (self.dtc_orders_per_day, self.marketplace_orders_per_day,
                 self.wholesale_orders_per_day)  # fmt: skip
        return 365 * sum(rates)

    @property
    def busiest_day(self) -> int:
        """The most orders one channel can have on one day (see ``Brand._day``)."""
        rates = (self.dtc_orders_per_day, self.marketplace_orders_per_day,
                 self.wholesale_orders_per_day)  # fmt: skip
        return int(max(rates) * max(WEEKDAY_FACTOR) * PROMO_LIFT * 1.15 + 1)

    @property
    def lead(self) -> timedelta:
        """How far the brand's history goes past where a sandbox's clock starts."""
        return min(DEFAULT_LEAD, timedelta(days=self.days / 4))

    @property
    def start_at(self) -> datetime:
        if self.start is None:  # never: __post_init__ sets it
            raise ValueError("BrandConfig.start is not set")
        return datetime.combine(self.start, time(0), UTC)

    @property
    def first_day(self) -> date:
        return self.start_at.date()

    @property
    def end_at(self) -> datetime:
        return self.start_at + timedelta(days=self.days)

    def is_promo_day(self, day: int) -> bool:
        return day % PROMO_EVERY_DAYS < PROMO_LENGTH_DAYS and day >= PROMO_EVERY_DAYS


@dataclass(frozen=True)
class DayTruth:
    """The exact figures for one UTC day and channel, as an API would show them at ``now``.

    ``orders``, ``units``, ``gross``, ``discounts``, ``shipping``, ``tax`` count orders
    placed that day (deleted ones left out; with ``truth(priced_only=True)`` also orders
    the channel shows no price for yet, Amazon's Pending ones, which is what a sales
    report can know); ``refunds`` counts refunds *created* that day;
    ``net`` = gross − discounts − refunds.
    """

    day: date
    channel: Channel
    orders: int = 0
    units: int = 0
    gross: Decimal = Decimal("0.00")
    discounts: Decimal = Decimal("0.00")
    shipping: Decimal = Decimal("0.00")
    tax: Decimal = Decimal("0.00")
    refunds: Decimal = Decimal("0.00")
    refund_count: int = 0

    @property
    def net(self) -> Decimal:
        return self.gross - self.discounts - self.refunds

    def to_json(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "channel": str(self.channel),
            "orders": self.orders,
            "units": self.units,
            "gross": str(self.gross),
            "discounts": str(self.discounts),
            "shipping": str(self.shipping),
            "tax": str(self.tax),
            "refunds": str(self.refunds),
            "refund_count": self.refund_count,
            "net": str(self.net),
        }


@dataclass
class Brand:
    """The generated brand (see the module docstring); build once, read from any thread."""

    config: BrandConfig = field(default_factory=BrandConfig)

    @cached_property
    def products(self) -> tuple[Product, ...]:
        start = self.config.start_at - timedelta(days=400)
        products = []
        for p, (title, kind, price, sizes) in enumerate(_PRODUCTS):
            product_id = 8_100_000_000 + p
            variants = tuple(
                Variant(
                    id=44_000_000_000 + p * 10 + v,
                    product_id=product_id,
                    sku=f"{_sku_stem(title)}-{size}",
                    title=size,
                    price=price,
                    barcode=f"8{p:03d}{v:02d}{(p * 7 + v * 3) % 1000:03d}00{v}"[:12],
                    inventory_item_id=46_000_000_000 + p * 10 + v,
                    asin=f"B0{p:02d}{v:02d}{_sku_stem(title)[:4]}",
                )
                for v, size in enumerate(sizes)
            )
            deleted = self.config.start_at + timedelta(days=self.config.days // 2)
            products.append(
                Product(
                    id=product_id,
                    title=title,
                    handle=title.lower().replace(" ", "-"),
                    product_type=kind,
                    created_at=start + timedelta(days=p * 20),
                    variants=variants,
                    deleted_at=deleted if title == "Beanie" else None,
                )
            )
        return tuple(products)

    @cached_property
    def variants(self) -> tuple[Variant, ...]:
        return tuple(v for p in self.products for v in p.variants)

    def variant_by_sku(self, sku: str) -> Variant:
        return next(v for v in self.variants if v.sku == sku)

    @cached_property
    def customers(self) -> tuple[Customer, ...]:
        rng = random.Random(f"{self.config.seed}:customers")
        first_at = self.config.start_at - timedelta(days=200)
        span = (self.config.end_at - first_at) / max(self.config.customers, 1)
        customers = []
        for i in range(self.config.customers):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            city, region = rng.choice(_CITIES)
            customers.append(
                Customer(
                    id=7_200_000_000 + i,
                    email=f"{first}.{last}.{i}@example.com".lower(),
                    phone=f"+1512555{i:04d}",
                    first_name=first,
                    last_name=last,
                    city=city,
                    region=region,
                    created_at=first_at + span * i,
                    accepts_marketing=rng.random() < 0.6,
                )
            )
        return tuple(customers)

    @cached_property
    def wholesale_accounts(self) -> tuple[WholesaleAccount, ...]:
        first_at = self.config.start_at - timedelta(days=700)
        return tuple(
            WholesaleAccount(
                id=3100 + i,
                name=name,
                email=f"buying@{name.lower().replace(' ', '').replace('&', 'and')}.example",
                created_at=first_at + timedelta(days=30 * i),
            )
            for i, name in enumerate(_RETAILERS[: self.config.wholesale_accounts])
        )

    @cached_property
    def _orders(self) -> dict[Channel, tuple[Order, ...]]:
        return {
            channel: tuple(o for day in range(self.config.days) for o in self._day(channel, day))
            for channel in Channel
        }

    def orders(self, channel: Channel) -> tuple[Order, ...]:
        """Every order the channel will ever have, oldest first (deleted ones included)."""
        return self._orders[channel]

    def orders_as_of(self, channel: Channel, now: datetime) -> list[OrderView]:
        return [v for o in self._orders[channel] if (v := o.as_of(now)) is not None]

    def deleted_as_of(self, channel: Channel, now: datetime) -> list[Order]:
        return [o for o in self._orders[channel] if o.deleted_at and o.deleted_at <= now]

    # -- generation ----------------------------------------------------------------------
    def _day(self, channel: Channel, day: int) -> Iterator[Order]:
        cfg = self.config
        rng = random.Random(f"{cfg.seed}:{channel}:{day}")
        at = cfg.start_at + timedelta(days=day)
        promo = cfg.is_promo_day(day) and channel is not Channel.WHOLESALE
        base = {
            Channel.DTC: cfg.dtc_orders_per_day,
            Channel.MARKETPLACE: cfg.marketplace_orders_per_day,
            Channel.WHOLESALE: cfg.wholesale_orders_per_day,
        }[channel]
        expected = base * WEEKDAY_FACTOR[at.weekday()] * (PROMO_LIFT if promo else 1.0)
        count = int(expected * rng.uniform(0.85, 1.15) + rng.random())
        seconds = sorted(rng.randrange(86_400) for _ in range(count))
        for i, second in enumerate(seconds):
            created = at + timedelta(seconds=second)
            yield self._order(channel, day, i, created, promo, rng)

    def _order(
        self, channel: Channel, day: int, i: int, created: datetime, promo: bool, rng: random.Random
    ) -> Order:
        seq = day * self.config.seq_per_day + i
        lines = self._lines(channel, rng, promo)
        subtotal = sum((line.gross - line.discount for line in lines), Decimal("0.00"))
        wholesale = channel is Channel.WHOLESALE
        shipping = Decimal("0.00") if wholesale or subtotal >= FREE_SHIPPING_OVER else SHIPPING
        tax = Decimal("0.00") if wholesale else money(subtotal * TAX_RATE)
        order = Order(
            id=_order_id(channel, seq),
            channel=channel,
            number=_order_number(channel, seq, rng),
            customer_id=self._buyer(channel, created, rng),
            created_at=created,
            lines=lines,
            shipping=shipping,
            tax=tax,
            fulfillment_channel=("AFN" if rng.random() < 0.7 else "MFN")
            if channel is Channel.MARKETPLACE
            else "",
            promo=PROMO_CODE if promo else None,
        )
        deleted = None
        if channel is Channel.DTC and rng.random() < 0.01:
            deleted = created + timedelta(hours=rng.uniform(2, 26))
        refunds = self._refunds(order, seq, rng) if deleted is None else ()
        return _replace(order, refunds=refunds, deleted_at=deleted)

    def _lines(self, channel: Channel, rng: random.Random, promo: bool) -> tuple[Line, ...]:
        live = [v for p in self.products if p.deleted_at is None for v in p.variants]
        wholesale = channel is Channel.WHOLESALE
        picked = rng.sample(
            live, rng.randint(3, 6) if wholesale else rng.choice((1, 1, 2, 2, 3, 4))
        )
        lines = []
        for n, variant in enumerate(picked, start=1):
            quantity = rng.choice((12, 24, 36, 48)) if wholesale else rng.choice((1, 1, 1, 2, 3))
            price = money(variant.price * WHOLESALE_SHARE) if wholesale else variant.price
            discount = money(price * quantity * PROMO_DISCOUNT) if promo else Decimal("0.00")
            lines.append(Line(n, variant, quantity, price, discount))
        return tuple(lines)

    def _buyer(self, channel: Channel, created: datetime, rng: random.Random) -> int | None:
        if channel is Channel.MARKETPLACE:
            return None
        if channel is Channel.WHOLESALE:
            return rng.choice(self.wholesale_accounts).id
        known = bisect.bisect_right(self._signed_up, created) or 1  # at least the first
        # Most orders come from recent sign-ups, some from long-standing customers.
        first = max(0, known - 200) if rng.random() < 0.7 else 0
        return self.customers[first + rng.randrange(known - first)].id

    @cached_property
    def _signed_up(self) -> list[datetime]:
        return [c.created_at for c in self.customers]  # generated in sign-up order

    def _refunds(self, order: Order, seq: int, rng: random.Random) -> tuple[Refund, ...]:
        if rng.random() >= REFUND_SHARE[order.channel]:
            return ()
        created = order.created_at + timedelta(days=rng.uniform(2, 14))
        full = rng.random() < 0.4
        lines = order.lines if full else (rng.choice(order.lines),)
        refund_lines = tuple(
            RefundLine(
                line.number,
                line.quantity if full else 1,
                line.gross - line.discount
                if full
                else money((line.gross - line.discount) / line.quantity),
            )
            for line in lines
        )
        reason = "customer_return" if not full else "order_issue"
        refund_id = 9_300_000_000 + seq if order.channel is Channel.DTC else 900_000 + seq
        return (
            Refund(
                refund_id,
                created,
                refund_lines,
                order.shipping if full else Decimal("0.00"),
                reason,
            ),
        )


def truth(
    brand: Brand,
    now: datetime,
    channels: Sequence[Channel] = tuple(Channel),
    *,
    priced_only: bool = False,
) -> list[DayTruth]:
    """Per UTC day and channel: what every simulator shows as of ``now`` (see DayTruth)."""
    cells: dict[tuple[date, Channel], dict[str, object]] = {}

    def cell(day: date, channel: Channel) -> dict[str, object]:
        return cells.setdefault((day, channel), {})

    for channel in channels:
        for view in brand.orders_as_of(channel, now):
            if priced_only and view.status in UNPRICED:
                continue
            order, c = view.order, cell(view.order.created_at.date(), channel)
            c["orders"] = int(c.get("orders", 0)) + 1  # type: ignore[call-overload]
            c["units"] = int(c.get("units", 0)) + order.units  # type: ignore[call-overload]
            for name in ("gross", "discounts", "shipping", "tax"):
                value = order.subtotal if name == "gross" else getattr(order, name)
                c[name] = Decimal(str(c.get(name, "0.00"))) + value
            for refund in view.refunds:
                r = cell(refund.created_at.date(), channel)
                r["refunds"] = Decimal(str(r.get("refunds", "0.00"))) + refund.amount
                r["refund_count"] = int(r.get("refund_count", 0)) + 1  # type: ignore[call-overload]
    return [
        DayTruth(day, channel, **values)  # type: ignore[arg-type]
        for (day, channel), values in sorted(cells.items())
    ]


def _seq_block(busiest: int) -> int:
    """1000, or the first power of ten above ``busiest`` orders a day."""
    block = 1000
    while block <= busiest:
        block *= 10
    return block


def _replace(order: Order, **changes: object) -> Order:
    from dataclasses import replace

    return replace(order, **changes)  # type: ignore[arg-type]


def _sku_stem(title: str) -> str:
    return "".join(word[:3] for word in title.upper().split())


def _order_id(channel: Channel, seq: int) -> int:
    return {Channel.DTC: 6_000_000_000, Channel.MARKETPLACE: 0, Channel.WHOLESALE: 20_000}[
        channel
    ] + seq


def _order_number(channel: Channel, seq: int, rng: random.Random) -> str:
    if channel is Channel.DTC:
        return f"#{10_000 + seq}"
    if channel is Channel.MARKETPLACE:
        return f"113-{seq:07d}-{rng.randrange(10**7):07d}"
    return f"SO{seq:06d}"
