"""SandboxServer: simulators under prefixes on one socket, faults per app, the control API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import orjson

from integration.conftest import WebhookReceiver
from podium.sandbox import Faults, When
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig, Channel, truth
from podium.sandbox.clock import SimClock
from podium.sandbox.control import SandboxControl
from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request
from podium.sandbox.server import SandboxServer


class Echo:
    """A simulator that says what it was asked, and limits itself to one request."""

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.violations = 0

    def answer(self, request: Request) -> Answer:
        self.seen.append(request)
        body = {"path": request.path, "base": request.base, "body": request.body.decode()}
        return Answer(200, orjson.dumps(body))


def test_each_app_sees_its_own_paths_and_links_back_to_itself() -> None:
    a, b = Echo(), Echo()
    with SandboxServer({"a": a, "b": b}) as server, httpx.Client() as client:
        got = client.post(server.url_for("a") + "/v1/x?q=1", content=b"hello").json()
        assert got == {"path": "/v1/x", "base": server.url_for("a"), "body": "hello"}
        assert client.get(server.url_for("b") + "/").json()["path"] == "/"
        missing = client.get(server.url + "/nope/x")
        assert missing.status_code == 404 and "/a, /b" in missing.json()["errors"]
        assert [r.params for r in a.seen] == [{"q": "1"}] and len(b.seen) == 1


def test_faults_hit_one_app_and_early_retries_count_as_violations() -> None:
    a, b = Echo(), Echo()
    with SandboxServer({"a": a, "b": b}) as server, httpx.Client() as client:
        server.set_faults("a", Faults(throttle=When.at(1), retry_after=30))
        first = client.get(server.url_for("a") + "/x")
        assert first.status_code == 429 and first.headers["Retry-After"] == "30"
        assert client.get(server.url_for("a") + "/x").status_code == 200  # too early
        assert client.get(server.url_for("b") + "/x").status_code == 200  # b is not throttled
        assert server.violations("a") == 1 and server.violations("b") == 0
        a.violations = 2  # an app's own count is added
        assert server.violations("a") == 3
        assert [status for _, _, status in server.log("a")] == [429, 200]


def test_the_control_moves_the_clock_and_serves_the_truth() -> None:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=20))
    clock = SimClock(brand.config.start_at + timedelta(days=5))
    truths: dict[str, Any] = {"fake": lambda b, now: {"now": now, "orders": 3}}
    control = SandboxControl(brand, clock, truths, lambda: {"fake": 0})
    with SandboxServer({"_sandbox": control}) as server, httpx.Client() as client:
        base = server.url_for("_sandbox")
        before = client.get(base + "/truth", params={"channel": "dtc"}).json()
        expected = [d.to_json() for d in truth(brand, clock.now(), [Channel.DTC])]
        assert before["days"] == expected
        moved = client.post(base + "/clock/advance", params={"days": 2}).json()
        assert moved["now"] == (brand.config.start_at + timedelta(days=7)).isoformat()
        after = client.get(base + "/truth").json()["days"]
        assert sum(d["orders"] for d in after) > sum(d["orders"] for d in before["days"])
        assert client.get(base + "/truth/fake").json()["orders"] == 3
        assert client.get(base + "/violations").json() == {"fake": 0}
        assert client.get(base + "/truth", params={"channel": "tv"}).status_code == 400
        assert client.post(base + "/clock/advance", params={"hours": "-1"}).status_code == 400
        assert client.get(base + "/truth/nope").status_code == 404


def test_start_sandbox_mounts_every_api_with_its_clock_inside_the_brand() -> None:
    from podium.sandbox.amazon import RATE_LIMITS
    from podium.sandbox.service import APIS, start_sandbox

    config = BrandConfig(days=8)
    with start_sandbox(config=config, fast=True) as sandbox, httpx.Client() as client:
        assert config.start_at < sandbox.clock.now() < config.end_at
        assert sandbox.apis == APIS
        for api in APIS:
            assert sandbox.connection(api)["base_url"] == sandbox.url_for(api)
        rps, burst = sandbox.simulator("amazon").limits.limits["getOrderItems"]
        assert (rps, burst) == (
            RATE_LIMITS["getOrderItems"][0] * 100,
            RATE_LIMITS["getOrderItems"][1],
        )
        assert client.get(sandbox.url + "/_sandbox/violations").json() == dict.fromkeys(APIS, 0)


def test_the_control_delivers_signed_webhooks_to_a_url() -> None:
    import base64
    import hashlib
    import hmac

    from podium.sandbox.service import start_sandbox

    def verify(headers: Mapping[str, str], body: bytes) -> bool:
        digest = hmac.new(b"whsec-test", body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode() == headers["X-Shopify-Hmac-SHA256"]

    with (
        WebhookReceiver(verify) as receiver,
        start_sandbox(config=BrandConfig(days=8), apis=["shopify"]) as sandbox,
        httpx.Client(timeout=30) as client,
    ):
        control, hook = sandbox.url + "/_sandbox", receiver.url
        client.post(control + "/webhooks/shopify", json={"url": hook, "secret": "x"})
        receiver.deliveries.clear()  # the first delivery covers everything up to now
        client.post(control + "/clock/advance", params={"hours": 12})
        sent = client.post(
            control + "/webhooks/shopify", json={"url": hook, "secret": "whsec-test"}
        ).json()["delivered"]
        received = [(h["X-Shopify-Topic"], ok) for h, _, ok in receiver.deliveries]
        assert sent == len(received) > 0
        assert all(signed for _, signed in received)
        assert {"orders/create"} <= {topic for topic, _ in received}
        bad = client.post(control + "/webhooks/shopify", content=b"nope")
        assert bad.status_code == 400
        assert client.post(control + "/webhooks/amazon", json={}).status_code == 404
