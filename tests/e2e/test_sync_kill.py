"""A sync killed mid-run (SIGKILL, no chance to clean up) and run again: no record lost,
none applied twice. Orders into a 3PL that *accepts* a second order with the same reference
id are the hard case: only podium's own bookkeeping (the batch marked as handed over
before it is sent, looked up by the next attempt) keeps an order from shipping twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from e2e.conftest import MakeProject, eventually
from podium.sandbox import Faults, When
from podium.sandbox.service import Sandbox, start_sandbox
from podium.sandbox.threepl.app import DEMO_CHANNEL_ID, DEMO_TOKEN

ORDERS = 300

MODEL = """\
select 'ord-' || lpad(cast(i as varchar), 4, '0') as ref, 'Standard' as ship,
  'Buyer ' || i as name, i || ' Main St' as address1, 'Chicago' as city, 'US' as country,
  '[{"reference_id": "MUG", "name": "Mug", "quantity": ' || cast(1 + i % 3 as varchar) || '}]'
    as products
from range(0, {n}) t(i)
"""


@pytest.fixture
def threepl() -> Iterator[Sandbox]:
    options = {"threepl": {"timer": time.monotonic, "duplicates": "accept", "limit": 100_000}}
    with start_sandbox(apis=["threepl"], options=options) as sandbox:
        yield sandbox


def truth(sandbox: Sandbox) -> dict[str, Any]:
    held: dict[str, Any] = httpx.get(sandbox.url + "/_sandbox/truth/threepl").json()
    return held


def test_a_sigkilled_sync_resumes_without_losing_or_doubling_an_order(
    make_project: MakeProject, threepl: Sandbox
) -> None:
    project = make_project(
        {
            "podium.yaml": f"""
                warehouse: {{type: duckdb, path: .podium/warehouse.duckdb}}
                connections:
                  fulfilment:
                    type: threepl
                    base_url: {threepl.url_for("threepl")}
                    token: {DEMO_TOKEN}
                    channel_id: "{DEMO_CHANNEL_ID}"
                    rate_limit: {{requests: 100000, window: 60s}}
                syncs:
                  to_3pl:
                    from: marts.orders
                    to: fulfilment
                    object: orders
                    key: ref
                    mode: insert
                    fields:
                      shipping_method: ship
                      recipient.name: name
                      recipient.address.address1: address1
                      recipient.address.city: city
                      recipient.address.country: country
                      products: products
            """,
            "models/marts/orders.sql": MODEL.replace("{n}", str(ORDERS)),
        }
    )
    project.ok("models", "run", "marts")
    # every answer takes a while, so the kill lands inside the run, mid-batch
    threepl.server.set_faults("threepl", Faults(slow=When.every(1), slow_seconds=0.01))
    sync = project.start("sync", "run", "to_3pl")
    assert eventually(lambda: truth(threepl)["orders"] >= 150, 60), sync.describe()
    sync.signal(signal.SIGKILL)
    sync.wait(timeout=10)
    killed_at = truth(threepl)["orders"]
    assert 150 <= killed_at < ORDERS, killed_at  # killed mid-sync: some sent, not all

    threepl.server.set_faults("threepl", None)
    again = project.ok("sync", "run", "to_3pl", "--json").json()
    held = truth(threepl)
    assert held["orders"] == ORDERS and held["duplicated_reference_ids"] == []
    assert held["create_requests"] == ORDERS  # what the killed run sent was looked up
    # the second run planned what the first had not recorded: at least what it had not
    # sent, plus the batch it was inside when killed (sent, not answered: looked up)
    assert ORDERS - killed_at <= again["planned"]["add"] < ORDERS
    assert again["landed"]["add"] == again["planned"]["add"] and again["rejected"] == 0
    assert again["requests"]["lookups"] >= 1
    preview = project.ok("sync", "preview", "to_3pl").out
    assert "0 adds, 0 updates, 0 removes" in preview, preview
