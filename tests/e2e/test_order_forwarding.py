"""Order forwarding, the seed's example: a Shopify ``orders/create`` webhook starts a
workflow whose ``sync`` task sends the order to the 3PL — exactly once per order, across
webhook redeliveries (the same delivery again, and the same order under a new delivery
id), 3PL 5xx bursts and answers cut after the order was created, and a SIGKILL of
``podium up`` while orders are in flight. The 3PL simulator's ground truth is the judge:
one order per Shopify order, none twice, none missing."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from e2e.conftest import MakeProject, Project, eventually
from podium.sandbox import Faults, When
from podium.sandbox.service import Sandbox, start_sandbox
from podium.sandbox.shopify.webhooks import signed_delivery
from podium.sandbox.threepl.app import DEMO_CHANNEL_ID, DEMO_TOKEN

SECRET = "e2e-shop-webhook-secret-42"
ORDERS = 24


def files(sandbox: Sandbox) -> dict[str, str]:
    return {
        "podium.yaml": f"""
            store: sqlite:///.podium/state.db
            warehouse: {{type: duckdb, path: .podium/warehouse.duckdb}}
            engine: {{lease_timeout: 2s, workers: 4}}
            connections:
              shop:
                type: webhook
                webhooks: {{verify: shopify, secret: {SECRET}}}
              fulfilment:
                type: threepl
                base_url: {sandbox.url_for("threepl")}
                token: {DEMO_TOKEN}
                channel_id: "{DEMO_CHANNEL_ID}"
                retries: 6
            syncs:
              orders_to_3pl:
                from: trigger
                to: fulfilment
                object: orders
                key: id
                mode: insert
                fields:
                  order_number: name
                  shipping_method: shipping_lines.0.title
                  recipient.name: shipping_address.name
                  recipient.address.address1: shipping_address.address1
                  recipient.address.city: shipping_address.city
                  recipient.address.state: shipping_address.province_code
                  recipient.address.country: shipping_address.country_code
                  recipient.address.zip_code: shipping_address.zip
                  products: "line_items[].{{reference_id: sku, name: title, quantity: quantity}}"
        """,
        "workflows/forward_orders.yaml": """
            name: forward_orders
            triggers:
              - webhook: shop
                topic: orders/create
            tasks:
              - id: forward
                sync: orders_to_3pl
                retries: 8
                retry_delay: 200ms
        """,
    }


def order(number: int) -> dict[str, Any]:
    return {
        "id": 5_000_000 + number,
        "admin_graphql_api_id": f"gid://shopify/Order/{5_000_000 + number}",
        "name": f"#{1000 + number}",
        "financial_status": "paid",
        "shipping_lines": [{"title": "Standard"}],
        "shipping_address": {
            "name": f"Buyer {number}",
            "address1": f"{number} N Racine Ave",
            "city": "Chicago",
            "province_code": "IL",
            "country_code": "US",
            "zip": "60607",
        },
        "line_items": [
            {"sku": "LIGHT-ROAST", "title": "Light Roast", "quantity": 1 + number % 3},
            {"sku": "MUG", "title": "Mug", "quantity": 1},
        ],
    }


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return signed_delivery(SECRET, payload)


@pytest.fixture(params=["reject", "accept"])
def threepl(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The 3PL simulator refusing a second order with a reference id it holds (ShipBob),
    or creating it (a 3PL without that guard: only podium's own bookkeeping stands
    between a redelivery and a second shipment). Its rate limit's window runs on real
    time: orders arrive in real time here."""
    options = {"threepl": {"timer": time.monotonic, "duplicates": request.param}}
    with start_sandbox(apis=["threepl"], options=options) as sandbox:
        yield sandbox


def truth(sandbox: Sandbox) -> dict[str, Any]:
    held: dict[str, Any] = httpx.get(sandbox.url + "/_sandbox/truth/threepl").json()
    return held


def deliver_all(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    def one(item: tuple[bytes, dict[str, str]]) -> int:
        body, headers = item
        with httpx.Client(timeout=10) as client:
            return client.post(f"{url}/webhooks/shop", content=body, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, deliveries))


def forwarded(project: Project) -> list[tuple[str, int]]:
    return project.query(
        "SELECT status, COUNT(*) FROM runs WHERE workflow = 'forward_orders' GROUP BY status"
    )


def test_each_order_reaches_the_3pl_once_through_redeliveries_faults_and_a_sigkill(
    make_project: MakeProject, threepl: Sandbox
) -> None:
    project = make_project(files(threepl))
    project.ok("validate")
    # 5xx bursts (nothing created) and answers cut after the order was created
    threepl.server.set_faults(
        "threepl",
        Faults(errors=When.every(7), error_burst=2, truncate=When.every(5)),
    )
    up = project.up()
    first = [signed(order(n)) for n in range(ORDERS // 2)]
    again_same_delivery = first[:4]  # Shopify retrying a delivery: the inbox drops it
    statuses = deliver_all(up.url, first + again_same_delivery)
    assert set(statuses) == {200}
    time.sleep(0.3)  # some syncs in flight, some not started
    os.killpg(up.proc.pid, signal.SIGKILL)
    up.proc.wait(timeout=10)

    up = project.up()  # takes over what the killed engine held once its leases expire
    rest = [signed(order(n)) for n in range(ORDERS // 2, ORDERS)]
    # the same orders again under new delivery ids and a changed body (a body seen before
    # is dropped by the inbox's replay window): new runs whose orders are already in the
    # sync's state, so nothing is sent
    new_ids = [signed({**order(n), "note": "sent again"}) for n in range(0, ORDERS, 3)]
    assert set(deliver_all(up.url, rest + new_ids)) == {200}
    runs = ORDERS + len(new_ids)

    def all_done() -> bool:
        rows = dict(forwarded(project))
        return sum(rows.values()) == runs and set(rows) <= {"succeeded", "failed"}

    if not eventually(all_done, 90):
        pytest.fail(
            f"{runs} forward_orders runs did not end: {forwarded(project)}; attempts:"
            f" {project.query('SELECT status, count(*) FROM webhook_inbox GROUP BY 1')}"
        )
    assert dict(forwarded(project)) == {"succeeded": runs}, project.query(
        "SELECT task_id, status, error FROM attempts WHERE status != 'succeeded' LIMIT 5"
    )
    held = truth(threepl)
    assert held["orders"] == ORDERS and held["duplicated_reference_ids"] == []
    assert held["reference_ids"] == sorted(str(5_000_000 + n) for n in range(ORDERS))
    # the order as the 3PL holds it: mapped and reshaped from the webhook's payload
    threepl.server.set_faults("threepl", None)
    listed = httpx.get(
        threepl.url_for("threepl") + "/2026-07/order",
        params={"ReferenceIds": "5000001"},
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "shipbob_channel_id": DEMO_CHANNEL_ID},
    ).json()
    assert len(listed) == 1
    assert listed[0]["recipient"]["name"] == "Buyer 1"
    assert [(p["reference_id"], p["quantity"]) for p in listed[0]["products"]] == [
        ("LIGHT-ROAST", 2),
        ("MUG", 1),
    ]
