"""Starting the simulators: one SandboxServer with every commerce API and its control.

``start_sandbox()`` builds the brand and its clock, mounts each simulator under its name
(``/shopify``, ``/amazon``, ``/netsuite``, ``/klaviyo``) and the control endpoints under
``/_sandbox`` (see ``control.py``), and returns a running ``Sandbox``. Tests, the demo and
``podium sandbox start`` all use it, so they see the same APIs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.control import SandboxControl, TruthFunction
from podium.sandbox.server import SandboxServer, SimApp

APIS: tuple[str, ...] = ("shopify", "amazon", "netsuite", "klaviyo")
CONTROL = "_sandbox"
# What each API's module provides: its simulator class.
_SIMULATORS = {
    "shopify": "ShopifySimulator",
    "amazon": "AmazonSimulator",
    "netsuite": "NetSuiteSimulator",
    "klaviyo": "KlaviyoSimulator",
}
# By default the clock starts two weeks before the brand's last day, so there is history
# to sync and future for ``advance`` to reveal.
DEFAULT_LEAD = timedelta(days=14)


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
) -> Sandbox:
    """A running sandbox; ``options[api]`` are keyword arguments for that simulator."""
    unknown = sorted(set(apis) - set(APIS))
    if unknown:
        raise ValueError(f"unknown API {unknown[0]!r}; the sandbox has {', '.join(APIS)}")
    brand = Brand(config or BrandConfig())
    clock = SimClock(now or brand.config.end_at - DEFAULT_LEAD)
    options = options or {}
    apps: dict[str, SimApp] = {
        api: getattr(_module(api), _SIMULATORS[api])(brand, clock, **options.get(api, {}))
        for api in apis
    }
    truths: dict[str, TruthFunction] = {api: getattr(_module(api), f"{api}_truth") for api in apis}
    holder: list[SandboxServer] = []
    control = SandboxControl(
        brand, clock, truths, lambda: {api: holder[0].violations(api) for api in apis}
    )
    server = SandboxServer({**apps, CONTROL: control}, port=port)
    holder.append(server)
    return Sandbox(server, brand, clock, tuple(apis))


def _module(api: str) -> Any:
    return importlib.import_module(f"podium.sandbox.{api}")
