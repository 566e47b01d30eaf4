"""A verified webhook is acknowledged only once it is durable: `podium up` is SIGKILLed
right after the last of 50 concurrent deliveries is answered, and every acknowledged one is
in the inbox. Started again, podium processes each exactly once (one run per delivery)."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import httpx

from e2e.conftest import MakeProject, wait_until
from podium.sandbox.shopify.webhooks import signed_delivery

SECRET = "e2e-webhook-secret-0123"
FILES = {
    "podium.yaml": f"""
        store: sqlite:///.podium/state.db
        connections:
          shop:
            type: webhook
            webhooks: {{verify: shopify, secret: {SECRET}}}
    """,
    "workflows/on_order.yaml": """
        name: on_order
        triggers:
          - webhook: shop
            topic: orders/create
        tasks:
          - id: note
            run: hooks:note
    """,
    "hooks.py": """
        def note(ctx):
            return ctx.trigger["payload"]["id"]
    """,
}
DELIVERIES = 50


def signed(order: int) -> tuple[bytes, dict[str, str]]:
    return signed_delivery(SECRET, {"id": order, "financial_status": "paid"})


def test_acknowledged_deliveries_survive_a_sigkill_and_run_once(make_project: MakeProject) -> None:
    project = make_project(FILES)
    up = project.up()
    deliveries = [signed(i) for i in range(DELIVERIES)]

    def deliver(item: tuple[bytes, dict[str, str]]) -> tuple[str, int]:
        body, headers = item
        with httpx.Client(timeout=10) as client:
            answer = client.post(f"{up.url}/webhooks/shop", content=body, headers=headers)
        return headers["X-Shopify-Webhook-Id"], answer.status_code

    with ThreadPoolExecutor(DELIVERIES) as pool:
        answers = list(pool.map(deliver, deliveries))
    os.killpg(up.proc.pid, signal.SIGKILL)  # right after the last answer arrived
    up.proc.wait(timeout=10)

    acknowledged = {delivery for delivery, status in answers if status == 200}
    assert len(acknowledged) == DELIVERIES
    stored = {row[0] for row in project.query("SELECT delivery_id FROM webhook_inbox")}
    assert acknowledged <= stored

    again = project.up()  # picks up what the killed engine had not processed

    def all_processed() -> bool:
        rows = project.query("SELECT status, COUNT(*) FROM webhook_inbox GROUP BY status")
        return rows == [("processed", DELIVERIES)]

    wait_until(all_processed, 30, message="every inbox entry processed")
    runs = wait_until(
        lambda: len(r := again.runs(workflow="on_order", limit=1000)) == DELIVERIES and r,
        30,
        message=f"{DELIVERIES} runs",
    )
    keys = project.query("SELECT dedupe_key FROM runs WHERE workflow = 'on_order'")
    assert len({k for (k,) in keys}) == len(runs) == DELIVERIES  # one run per delivery
    done = [again.wait_run(r["run_id"]) for r in runs]
    assert sorted(r["tasks"][0]["output"] for r in done) == list(range(DELIVERIES))


def test_podium_up_answers_every_kind_of_delivery_the_same_as_the_app(
    make_project: MakeProject,
) -> None:
    """Through a real ``podium up``: stored, duplicate, tampered, unknown connection, a
    path below a connection; only the verified delivery is in the inbox."""
    project = make_project(FILES)
    up = project.up()
    body, headers = signed(7)
    with httpx.Client(timeout=10) as client:
        post = lambda path, **kw: client.post(f"{up.url}{path}", **kw)  # noqa: E731
        assert post("/webhooks/shop", content=body, headers=headers).json()["status"] == "stored"
        assert post("/webhooks/shop", content=body, headers=headers).json()["status"] == (
            "duplicate"
        )
        tampered = post("/webhooks/shop", content=body + b" ", headers=headers)
        assert tampered.status_code == 401
        assert post("/webhooks/nowhere", content=body, headers=headers).status_code == 404
        assert post("/webhooks/shop/extra", content=body, headers=headers).status_code == 404
        assert client.get(f"{up.url}/webhooks/shop").status_code in (404, 405)
        assert client.get(f"{up.url}/api/health").status_code == 200
    assert project.query("SELECT COUNT(*) FROM webhook_inbox")[0][0] == 1
