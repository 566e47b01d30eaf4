"""Calendar-proof: the simulators and the connectors agree on "today" whatever it is.

The sandbox's brand is anchored to podium's clock and the connectors' defaults read that
clock, so a project pointed at the sandbox loads exactly the brand's history on any date.
Here podium's clock (``PODIUM_CLOCK_OFFSET``, set for this process) is moved a year ahead
and to each of the 24 hours of that day (and a year behind); the first sync with default settings (Amazon's
start: 90 days before now; NetSuite's days in its account's time zone) must equal the
simulator's truth, and so must the incremental sync after a simulated day in which podium's
clock moves on with the APIs'. Shopify and Klaviyo read no clock of podium's (their cursors
are the APIs' own times); the commerce template's end-to-end test a year ahead
(``tests/e2e/test_commerce_model.py``) covers all four at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.calendar_clock import a_year_ahead, every_hour_a_year_ahead, set_podium_clock

from podium import clock
from podium.connectors.extract import extract
from podium.project import load_project
from podium.sandbox.brand import BrandConfig
from podium.sandbox.service import Sandbox, start_sandbox
from podium.transforms.warehouse_sql import open_warehouse_sql

# Small enough that a day's four syncs take a second or two; wholesale daily, so NetSuite
# has transactions on every date.
BRAND = {"days": 8, "customers": 60, "dtc_orders_per_day": 6, "marketplace_orders_per_day": 4}
# The APIs whose connectors read podium's clock: what each one's truth counts, and the raw
# table that must hold as many rows.
COUNTED = {"amazon": ("orders", "orders"), "netsuite": ("transactions", "transactions")}
FAST_POLLS = {"amazon": {"report_poll_interval": "50ms"}}


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, Sandbox]]:
    years, hour = request.param
    monkeypatch = request.getfixturevalue("monkeypatch")
    set_podium_clock(monkeypatch, a_year_ahead(hour, years=years))
    config = BrandConfig(**BRAND, wholesale_orders_per_day=1.5)  # anchored: after the clock
    with start_sandbox(config=config, apis=list(COUNTED), fast=True) as sandbox:
        yield project(tmp_path, sandbox), sandbox


def project(root: Path, sandbox: Sandbox) -> Path:
    """podium.yaml with each API's sandbox connection, its settings left at their defaults
    (only the report polling shortened): no start_date, no clock of the test's."""
    connections = {api: {**sandbox.connection(api), **FAST_POLLS.get(api, {})} for api in COUNTED}
    for settings in connections.values():
        assert "start_date" not in settings
    config = {
        "store": "sqlite:///.podium/state.db",
        "warehouse": {"type": "duckdb", "path": ".podium/warehouse.duckdb"},
        "connections": connections,
    }
    (root / "podium.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def counts(root: Path) -> dict[str, int]:
    with open_warehouse_sql(load_project(root).warehouse, root) as db:
        return {
            api: int(db.query(f"SELECT count(*) FROM raw_{api}.{table} WHERE NOT _deleted")[0][0])
            for api, (_, table) in COUNTED.items()
        }


def truths(sandbox: Sandbox) -> dict[str, int]:
    found: dict[str, Any] = {
        api: getattr(importlib.import_module(f"podium.sandbox.{api}"), f"{api}_truth")(
            sandbox.brand, sandbox.clock.now()
        )
        for api in COUNTED
    }
    return {api: int(found[api][key]) for api, (key, _) in COUNTED.items()}


def sync_all(root: Path) -> None:
    project = load_project(root)
    for api in COUNTED:
        extract(project, api)


@pytest.mark.parametrize("world", every_hour_a_year_ahead(), indirect=True)
def test_every_api_syncs_its_whole_history_at_any_hour_of_a_year_ahead(
    world: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sandbox = world
    today: datetime = clock.now()
    assert sandbox.brand.config.start_at < today < sandbox.brand.config.end_at
    # one "now" for both: the sandbox's is podium's, or minutes later (a quiet moment)
    assert today - timedelta(minutes=1) < sandbox.clock.now() < today + timedelta(hours=1)
    sync_all(root)
    assert counts(root) == truths(sandbox)
    # a day later, for the APIs and for podium alike
    set_podium_clock(monkeypatch, sandbox.advance(timedelta(days=1)))
    before = truths(sandbox)
    sync_all(root)
    assert counts(root) == truths(sandbox) == before
    assert sandbox.server.violations("amazon") == 0
