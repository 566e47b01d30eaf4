"""The webhook receiver through a real server: uvicorn on a free loopback port with the
engine running beside it (as ``podium up`` runs them), httpx over real sockets, on the
SQLite and the PostgreSQL store.

Refused deliveries store nothing; redeliveries store and process once; triggers filter on
topic and payload; failing processing is retried then dead-lettered; replays (API and CLI)
start the workflows again; podium's own Shopify and Klaviyo simulators deliver signed
webhooks that are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from integration.conftest import wait_until
from podium.core.workflow import Project
from podium.engine import queries
from podium.engine.loop import Engine
from podium.project import load_project
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo import KlaviyoSimulator
from podium.sandbox.shopify import ShopifySimulator
from podium.server.api import create_app
from podium.store.database import Database, open_database
from podium.webhooks import inbox

SECRET = "shpss_current_webhook_secret"
OLD_SECRET = "shpss_previous_webhook_secret"
STRIPE_SECRET = "whsec_stripe_test_secret"
KLAVIYO_SECRET = "klaviyo-webhook-secret-0001"
ENV = {"SHOP_WEBHOOK_SECRET": SECRET, "OLD_WEBHOOK_SECRET": OLD_SECRET}

FILES = {
    "podium.yaml": f"""
        connections:
          shop:
            type: shopify
            shop: acme
            access_token: shpat_not_used_here_1234
            webhooks:
              secret: ${{SHOP_WEBHOOK_SECRET}}
              previous_secret: ${{OLD_WEBHOOK_SECRET}}
              max_body: 64KB
          stripe:
            type: webhook
            webhooks: {{verify: stripe, secret: {STRIPE_SECRET}}}
          fragile:
            type: webhook
            webhooks: {{verify: shopify, secret: {SECRET}, max_attempts: 3, retry_delay: 100ms}}
          klaviyo:
            type: webhook
            webhooks: {{verify: klaviyo, secret: {KLAVIYO_SECRET}}}
          plain:
            type: shopify
            shop: acme
            access_token: shpat_not_used_here_5678
        """,
    "workflows/paid.yaml": """
        name: paid
        params: {order: null}
        triggers:
          - webhook: shop
            topic: orders/*
            filters: {financial_status: paid, "customer.tags": vip}
            params: {order: id}
        tasks:
          - id: record
            run: hooks:record
        """,
    "workflows/refunds.yaml": """
        name: refunds
        triggers:
          - webhook: shop
            topic: [refunds/create, orders/delete]
          - webhook: stripe
            topic: charge.*
        tasks:
          - id: record
            run: hooks:record
        """,
    "workflows/needy.yaml": """
        name: needy
        params: {order: null}
        triggers:
          - webhook: fragile
            params: {order: data.id}
        tasks:
          - id: record
            run: hooks:record
        """,
    "workflows/engagement.yaml": """
        name: engagement
        triggers:
          - webhook: klaviyo
            topic: "event:klaviyo.*"
        tasks:
          - id: record
            run: hooks:record
        """,
    "hooks.py": """
        def record(ctx):
            payload = ctx.trigger["payload"]
            return {
                "id": payload.get("id") if isinstance(payload, dict) else None,
                "topic": ctx.trigger["topic"],
                "inbox_id": ctx.trigger["inbox_id"],
                "params": dict(ctx.params),
            }
        """,
}


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:  # a thread cannot take signals
        yield


@dataclass
class Podium:
    """``podium up`` in this process: the engine in a thread, the API on a free port."""

    root: Path
    project: Project
    db: Database
    url: str
    http: httpx.Client
    store_url: str

    def post(self, connection: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(f"/webhooks/{connection}", content=body, headers=headers)

    def inbox(self) -> list[dict[str, Any]]:
        return inbox.list_deliveries(self.db, limit=1000)

    def runs(self, workflow: str) -> list[dict[str, Any]]:
        return list(reversed(queries.list_runs(self.db, workflow=workflow, limit=1000)))

    def finished(self, workflow: str, count: int) -> list[dict[str, Any]]:
        """The workflow's runs once ``count`` of them exist and all ended."""

        def ended() -> list[dict[str, Any]] | None:
            runs = self.runs(workflow)
            done = [r for r in runs if r["status"] in ("succeeded", "failed")]
            return runs if len(runs) >= count and len(done) == len(runs) else None

        runs = wait_until(ended, 20, message=f"{count} finished runs of {workflow}")
        return [queries.show_run(self.db, r["run_id"]) for r in runs]

    def entry(self, inbox_id: int) -> dict[str, Any]:
        return inbox.show_delivery(self.db, inbox_id)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **ENV, "PODIUM_STORE_URL": self.store_url}
        return subprocess.run(
            [sys.executable, "-m", "podium.cli.main", *args, "--project", str(self.root)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def podium(store_url: str, tmp_path: Path) -> Iterator[Podium]:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"))
    project = load_project(tmp_path, environ={**ENV, "PODIUM_STORE_URL": store_url})
    db = open_database(project.store_url)
    engine = Engine(project, db)
    engine.start()
    stop = threading.Event()
    engine_thread = threading.Thread(target=engine.run, args=(stop.is_set,), daemon=True)
    engine_thread.start()
    server = _Server(
        uvicorn.Config(create_app(project, db, engine.poke), port=0, log_level="warning")
    )
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()
    wait_until(lambda: server.started, 10, message="the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=10) as http:
        yield Podium(tmp_path, project, db, url, http, store_url)
    server.should_exit = True
    server_thread.join(timeout=10)
    stop.set()
    engine.poke()
    engine_thread.join(timeout=10)
    engine.close()
    db.close()


def shopify(
    body: bytes,
    *,
    secret: str = SECRET,
    topic: str = "orders/create",
    webhook_id: str | None = None,
) -> dict[str, str]:
    mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": mac,
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
    }


def order(order_id: int = 1001, status: str = "paid", tags: list[str] | None = None) -> bytes:
    customer = {"id": 7, "tags": ["vip"] if tags is None else tags}
    return json.dumps({"id": order_id, "financial_status": status, "customer": customer}).encode()


def test_bad_signatures_are_refused_and_store_nothing(podium: Podium) -> None:
    body = order()
    tampered = podium.post("shop", body.replace(b"1001", b"1002"), shopify(body))
    wrong = podium.post("shop", body, shopify(body, secret="shpss_someone_else"))
    headers = shopify(body)
    del headers["X-Shopify-Hmac-Sha256"]
    missing = podium.post("shop", body, headers)
    for answer in (tampered, wrong, missing):
        assert answer.status_code == 401, answer.text
        assert SECRET not in answer.text and OLD_SECRET not in answer.text
    assert "X-Shopify-Hmac-Sha256 header is missing" in missing.json()["error"]
    assert podium.inbox() == []


def test_old_and_new_secret_are_both_accepted_during_a_rotation(podium: Podium) -> None:
    for secret in (SECRET, OLD_SECRET):
        answer = podium.post("shop", order(), shopify(order(), secret=secret))
        assert answer.status_code == 200 and answer.json()["status"] == "stored"
    assert len(podium.inbox()) == 2


def test_malformed_deliveries_are_refused_with_400(podium: Podium) -> None:
    text = b"order=1001"
    assert podium.post("shop", text, shopify(text)).status_code == 400
    headers = shopify(order())
    del headers["X-Shopify-Webhook-Id"]
    no_id = podium.post("shop", order(), headers)
    assert no_id.status_code == 400 and "X-Shopify-Webhook-Id" in no_id.json()["error"]
    assert podium.inbox() == []


def test_an_oversized_body_is_refused_with_413_even_without_a_content_length(
    podium: Podium,
) -> None:
    big = json.dumps({"id": 1, "note": "x" * (64 * 1024)}).encode()
    declared = podium.post("shop", big, shopify(big))
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to trust
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    streamed = podium.http.post("/webhooks/shop", content=chunks(), headers=shopify(big))
    assert streamed.status_code == 413, streamed.text
    assert podium.inbox() == []


def test_unknown_connections_and_ones_without_webhooks_are_not_found(podium: Podium) -> None:
    assert podium.post("nope", order(), shopify(order())).status_code == 404
    assert podium.post("plain", order(), shopify(order())).status_code == 404
    assert podium.http.get("/webhooks/shop").status_code == 405


def test_redeliveries_of_one_id_store_one_row_and_start_one_run(podium: Podium) -> None:
    body, headers = order(), shopify(order(), webhook_id="wh-redelivered")
    answers = [podium.post("shop", body, headers) for _ in range(8)]
    with ThreadPoolExecutor(20) as pool:
        answers += list(pool.map(lambda _: podium.post("shop", body, headers), range(20)))
    assert [a.status_code for a in answers] == [200] * 28
    assert [a.json()["status"] for a in answers].count("stored") == 1
    assert len({a.json()["id"] for a in answers}) == 1
    (run,) = podium.finished("paid", 1)
    assert run["status"] == "succeeded"
    more = [podium.post("shop", body, headers) for _ in range(3)]  # after processing, too
    assert all(a.json()["status"] == "duplicate" for a in more)
    (entry,) = podium.inbox()
    assert (entry["status"], entry["attempts"]) == ("processed", 1)
    assert len(podium.finished("paid", 1)) == 1


def test_topics_and_filters_decide_which_workflows_start(podium: Podium) -> None:
    sent = [
        (order(1, "paid"), "orders/create"),  # paid
        (order(2, "pending"), "orders/create"),  # filtered out
        (order(3, "paid", tags=["wholesale"]), "orders/updated"),  # not vip
        (order(4, "paid", tags=["vip", "wholesale"]), "orders/paid"),  # paid
        (order(5, "paid"), "refunds/create"),  # refunds
        (order(6, "paid"), "products/update"),  # nothing
    ]
    for body, topic in sent:
        assert podium.post("shop", body, shopify(body, topic=topic)).status_code == 200
    paid = podium.finished("paid", 2)
    outputs = [r["tasks"][0]["output"] for r in paid]
    assert sorted((o["id"], o["topic"], o["params"]["order"]) for o in outputs) == [
        (1, "orders/create", 1),
        (4, "orders/paid", 4),
    ]
    (refund,) = podium.finished("refunds", 1)
    assert refund["tasks"][0]["output"]["id"] == 5
    wait_until(lambda: all(e["status"] == "processed" for e in podium.inbox()), 10)
    assert len(podium.runs("paid")) == 2 and len(podium.runs("refunds")) == 1


def test_a_stripe_event_is_verified_and_starts_its_workflow(podium: Podium) -> None:
    import time

    body = json.dumps({"id": "evt_1", "type": "charge.refunded", "object": "event"}).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(STRIPE_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    answer = podium.post("stripe", body, {"Stripe-Signature": f"t={stamp},v1={mac}"})
    assert answer.status_code == 200, answer.text
    stale = str(int(time.time()) - 600)
    old_mac = hmac.new(STRIPE_SECRET.encode(), f"{stale}.".encode() + body, hashlib.sha256)
    refused = podium.post(
        "stripe", body, {"Stripe-Signature": f"t={stale},v1={old_mac.hexdigest()}"}
    )
    assert refused.status_code == 401 and "old" in refused.json()["error"]
    (run,) = podium.finished("refunds", 1)
    assert run["tasks"][0]["output"]["topic"] == "charge.refunded"


def test_failing_processing_is_retried_then_dead_without_blocking_others(podium: Podium) -> None:
    bad = json.dumps({"id": 1}).encode()  # needy's params need data.id
    stored = podium.post("fragile", bad, shopify(bad)).json()["id"]
    dead = wait_until(
        lambda: (e := podium.entry(stored))["status"] == "dead" and e, 15, message="dead letter"
    )
    assert dead["attempts"] == 3
    assert "the payload has no 'data.id' for param 'order'" in dead["last_error"]
    good = json.dumps({"data": {"id": 9}}).encode()
    assert podium.post("fragile", good, shopify(good)).status_code == 200
    (run,) = podium.finished("needy", 1)
    assert run["params"] == {"order": 9}
    failures = [e for e in queries.events_of(podium.db, None, 5000) if e["type"] == "WebhookFailed"]
    assert [f["payload"]["dead"] for f in failures] == [False, False, True]


def test_replay_through_the_api_starts_the_workflow_again(podium: Podium) -> None:
    body = order(77)
    inbox_id = podium.post("shop", body, shopify(body)).json()["id"]
    podium.finished("paid", 1)
    wait_until(lambda: podium.entry(inbox_id)["status"] == "processed", 10)
    listed = podium.http.get("/api/webhooks", params={"connection": "shop", "status": "processed"})
    assert [e["id"] for e in listed.json()] == [inbox_id] and "body" not in listed.json()[0]
    shown = podium.http.get(f"/api/webhooks/{inbox_id}").json()
    assert shown["payload"]["id"] == 77 and shown["headers"]["x-shopify-hmac-sha256"] == "***"
    replayed = podium.http.post(f"/api/webhooks/{inbox_id}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    runs = podium.finished("paid", 2)
    assert sorted(r["trigger"].get("replay", 0) for r in runs) == [0, 1]
    assert podium.http.get("/api/webhooks/424242").status_code == 404
    assert podium.http.get("/api/webhooks", params={"status": "gone"}).status_code == 400


def test_the_cli_lists_and_replays_deliveries(podium: Podium) -> None:
    body = order(55)
    inbox_id = podium.post("shop", body, shopify(body, webhook_id="wh-cli")).json()["id"]
    podium.finished("paid", 1)
    wait_until(lambda: podium.entry(inbox_id)["status"] == "processed", 10)
    listed = podium.cli("webhooks", "list", "--json", "--connection", "shop")
    assert listed.returncode == 0, listed.stderr
    assert [(e["id"], e["delivery_id"]) for e in json.loads(listed.stdout)] == [
        (inbox_id, "wh-cli")
    ]
    table = podium.cli("webhooks", "list")
    assert "wh-cli" in table.stdout and "processed" in table.stdout
    replayed = podium.cli("webhooks", "replay", str(inbox_id))
    assert replayed.returncode == 0, replayed.stderr
    assert f"webhook delivery {inbox_id}" in replayed.stdout
    assert len(podium.finished("paid", 2)) == 2  # the running engine was woken
    unknown = podium.cli("webhooks", "replay", "999999")
    assert unknown.returncode == 2 and "no webhook delivery 999999" in unknown.stderr


def test_shopify_simulator_deliveries_are_accepted_once(podium: Podium) -> None:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=4, customers=40, dtc_orders_per_day=6))
    clock = SimClock(brand.config.start_at + timedelta(days=1))
    sim = ShopifySimulator(brand, clock)
    clock.advance(timedelta(days=2))
    deliveries = sim.deliver_webhooks(f"{podium.url}/webhooks/shop", SECRET)
    assert deliveries and all(d.status == 200 for d in deliveries)
    stored = podium.inbox()
    assert sorted(e["delivery_id"] for e in stored) == sorted(d.webhook_id for d in deliveries)
    assert {e["topic"] for e in stored} <= {
        "orders/create",
        "orders/updated",
        "refunds/create",
        "orders/delete",
    }
    clock.advance(timedelta(hours=12))
    forged = sim.deliver_webhooks(f"{podium.url}/webhooks/shop", "not-the-secret-0000")
    assert forged and all(d.status == 401 for d in forged)
    assert len(podium.inbox()) == len(stored)


def test_klaviyo_simulator_deliveries_are_accepted_and_start_runs(podium: Podium) -> None:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=4, customers=40, dtc_orders_per_day=6))
    clock = SimClock(brand.config.start_at + timedelta(days=1))
    sim = KlaviyoSimulator(brand, clock)
    clock.advance(timedelta(hours=12))
    delivered = sim.deliver_webhooks(f"{podium.url}/webhooks/klaviyo", KLAVIYO_SECRET)
    assert delivered > 0
    batches = podium.inbox()
    assert batches and all(e["connection"] == "klaviyo" for e in batches)
    runs = podium.finished("engagement", len(batches))
    assert all(r["status"] == "succeeded" for r in runs)
    clock.advance(timedelta(hours=12))
    assert sim.deliver_webhooks(f"{podium.url}/webhooks/klaviyo", "wrong-secret-0000") == 0
    assert len(podium.inbox()) == len(batches)  # refused: nothing stored …
    assert sim.deliver_webhooks(f"{podium.url}/webhooks/klaviyo", KLAVIYO_SECRET) > 0
    assert len(podium.inbox()) > len(batches)  # … until signed with the right secret


def test_with_access_control_on_the_receiver_stays_public_and_the_inbox_api_does_not(
    podium: Podium,
) -> None:
    import time

    from podium.server import access

    access.add_user(podium.db, "vera", "a-long-password-1", "viewer", now=time.time())
    _, viewer = access.create_token(podium.db, "vera", "tests", now=time.time())
    body = order(5)
    stored = podium.post("shop", body, shopify(body))  # no credentials: the signature is
    assert stored.status_code == 200, stored.text
    inbox_id = stored.json()["id"]
    assert podium.http.get("/api/webhooks").status_code == 401
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert podium.http.get("/api/webhooks", headers=as_viewer).status_code == 200
    podium.finished("paid", 1)
    wait_until(lambda: podium.entry(inbox_id)["status"] == "processed", 10)
    refused = podium.http.post(f"/api/webhooks/{inbox_id}/replay", headers=as_viewer)
    assert refused.status_code == 403  # replaying needs the operator role
    assert len(podium.runs("paid")) == 1
