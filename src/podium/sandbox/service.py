"""Starting the simulators: one SandboxServer with every commerce API and its control.

``start_sandbox()`` builds the brand and its clock, mounts each simulator under its name
(``/shopify``, ``/amazon``, ``/netsuite``, ``/klaviyo``; ``/threepl``, a destination, when
asked for) and the control endpoints under ``/_sandbox`` (see ``control.py``), and returns a
running ``Sandbox``. Tests, the demo and
``podium sandbox start`` all use it, so they see the same APIs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.control import SandboxControl, TruthFunction
from podium.sandbox.server import SandboxServer, SimApp

APIS: tuple[str, ...] = ("shopify", "amazon", "netsuite", "klaviyo")  # sources
# Destinations start empty and hold what reverse-ETL syncs send; ``podium sandbox start``
# serves them beside the sources, ``start_sandbox`` when ``apis`` names them.
DESTINATIONS: tuple[str, ...] = ("threepl",)
SERVED: tuple[str, ...] = APIS + DESTINATIONS
CONTROL = "_sandbox"
# What each API's module provides: its simulator class.
_SIMULATORS = {
    "shopify": "ShopifySimulator",
    "amazon": "AmazonSimulator",
    "netsuite": "NetSuiteSimulator",
    "klaviyo": "KlaviyoSimulator",
    "threepl": "ThreePLSimulator",
}
# ``fast=True`` multiplies Amazon's published rates (0.5 getOrderItems a second makes a
# first sync of a few thousand orders take over an hour); the other APIs' budgets already
# let a demo-sized brand sync in seconds.
FAST_FACTOR = 100.0
FAST_SHOPIFY_RESTORE_RATE = 2000.0  # query-cost points a second (Shopify's: 100)
FAST_KLAVIYO_REPORTS_PER_MINUTE = 30  # per values-report endpoint (Klaviyo's: 2)


@dataclass
class Sandbox:
    server: SandboxServer
    brand: Brand
    clock: SimClock
    apis: tuple[str, ...]

    @property
    def url(self) -> str:
        return self.server.url

    def url_for(self, api: str) -> str:
        return self.server.url_for(api)

    def simulator(self, api: str) -> Any:
        return self.server.app(api)

    def connection(self, api: str) -> dict[str, Any]:
        """podium.yaml settings for a connection to this sandbox's ``api``."""
        settings: dict[str, Any] = _module(api).demo_connection(self.url_for(api))
        return settings

    def advance(self, delta: timedelta) -> datetime:
        """Moves the clock ``delta`` on, to the first quiet moment from there (see
        ``quiet_now``), so that a sync right after sees exactly the brand as of the clock."""
        self.clock.set(quiet_now(self.brand, self.clock.now() + delta, self.apis))
        return self.clock.now()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    *,
    port: int = 0,
    config: BrandConfig | None = None,
    now: datetime | None = None,
    apis: Sequence[str] = APIS,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    fast: bool = False,
) -> Sandbox:
    """A running sandbox; ``options[api]`` are keyword arguments for that simulator, and
    ``fast`` raises Amazon's rate limits (see ``FAST_FACTOR``) for demos."""
    unknown = sorted(set(apis) - set(SERVED))
    if unknown:
        raise ValueError(f"unknown API {unknown[0]!r}; the sandbox has {', '.join(SERVED)}")
    brand = Brand(config or BrandConfig())
    clock = SimClock(now or quiet_now(brand, starting_now(brand.config), apis))
    options = {**(fast_options() if fast else {}), **(options or {})}
    apps: dict[str, SimApp] = {
        api: getattr(_module(api), _SIMULATORS[api])(brand, clock, **options.get(api, {}))
        for api in apis
    }
    truths = {api: _truth_of(api, app) for api, app in apps.items()}
    truths.update(  # a source that accepts writes too (shopify): what it holds
        (f"{api}-writes", _held(app))
        for api, app in apps.items()
        if api not in DESTINATIONS and callable(getattr(app, "truth", None))
    )
    holder: list[SandboxServer] = []
    deliverers = {
        api: _deliverer(app) for api, app in apps.items() if hasattr(app, "deliver_webhooks")
    }
    control = SandboxControl(
        brand, clock, truths, lambda: {api: holder[0].violations(api) for api in apis}, deliverers
    )
    server = SandboxServer({**apps, CONTROL: control}, port=port)
    holder.append(server)
    return Sandbox(server, brand, clock, tuple(apis))


def starting_now(config: BrandConfig) -> datetime:
    """Where the clock starts unless told: for a brand anchored to podium's clock, the
    moment it was anchored (podium's now, so connectors and simulators agree on the date
    and hour); for one with a fixed ``start``, ``config.lead`` before its last day. Either
    way there is history to sync and future for ``advance`` to reveal."""
    return config.anchored_at or config.end_at - config.lead


def quiet_now(brand: Brand, at: datetime, apis: Sequence[str]) -> datetime:
    """``at``, or the first moment after it at which a sync sees exactly the brand as of
    that moment: Amazon's getOrders hides the last two minutes' changes, so with Amazon
    served it is the first moment with no marketplace change in the two minutes and a
    second before (``quiet_after``; minutes later for the default brand, within the hour
    for a large one, whose marketplace changes every half minute and so is almost never
    quiet for five). A clock anchored at any hour of the day then still gives syncs that
    equal the truth."""
    if "amazon" not in apis:
        return at
    amazon = _module("amazon")
    quiet: datetime = amazon.quiet_after(brand, at, amazon.QUIET_WINDOW)
    return quiet


def _truth_of(api: str, app: Any) -> TruthFunction:
    """A source's truth comes from the brand (``<api>_truth``); a destination's is what the
    simulator holds (its ``truth()``)."""
    if api in DESTINATIONS:
        return lambda brand, now: app.truth()  # type: ignore[no-any-return]
    found: TruthFunction = getattr(_module(api), f"{api}_truth")
    return found


def _held(app: Any) -> TruthFunction:
    return lambda brand, now: app.truth()  # type: ignore[no-any-return]


def _deliverer(app: Any) -> Callable[[str, str], int]:
    def deliver(url: str, secret: str) -> int:
        made = app.deliver_webhooks(url, secret)
        return made if isinstance(made, int) else len(made)

    return deliver


def fast_options() -> dict[str, dict[str, Any]]:
    """Amazon's published rates × ``FAST_FACTOR``, Shopify's query-cost restore rate and
    Klaviyo's values reports raised too (their real limits make a demo wait minutes)."""
    from podium.sandbox.klaviyo import Tier

    published: Mapping[str, tuple[float, float]] = _module("amazon").RATE_LIMITS
    rates = {op: (rps * FAST_FACTOR, burst) for op, (rps, burst) in published.items()}
    reports = Tier(1, FAST_KLAVIYO_REPORTS_PER_MINUTE, 225)
    return {
        "amazon": {"rate_limits": rates},
        "shopify": {"restore_rate": FAST_SHOPIFY_RESTORE_RATE},
        "klaviyo": {"tiers": {"campaign-values-reports": reports, "flow-values-reports": reports}},
    }


def _module(api: str) -> Any:
    return importlib.import_module(f"podium.sandbox.{api}")
