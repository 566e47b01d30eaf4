"""The 3PL simulator over real sockets, served as ``podium sandbox start`` serves it: one order
per reference id across retries, ShipBob's 429, and the sandbox's faults before and after a
create commits (what an exactly-once sync must tell apart)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from podium.sandbox import Faults, When
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request
from podium.sandbox.server import SandboxServer
from podium.sandbox.service import Sandbox, start_sandbox
from podium.sandbox.threepl import DEMO_CHANNEL_ID, DEMO_TOKEN, ThreePLSimulator

HEADERS = {"Authorization": f"Bearer {DEMO_TOKEN}", "shipbob_channel_id": DEMO_CHANNEL_ID}


def order(reference_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "shipping_method": "Standard",
        "reference_id": reference_id,
        "order_number": reference_id.removeprefix("shop-"),
        "recipient": {"name": "John Doe", "address": {"address1": "100 N Racine Ave",
                      "city": "Chicago", "state": "IL", "country": "US", "zip_code": "60607"}},
        "products": [{"reference_id": "LIGHT-ROAST", "name": "Light Roast", "quantity": 1}],
        **changes,
    }  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    config = BrandConfig(start=EXAMPLE_START, days=3)
    options = {"threepl": {"limit": 5}}
    with start_sandbox(config=config, apis=["threepl"], options=options) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url_for("threepl"), headers=HEADERS, timeout=5) as c:
        yield c


def truth(sandbox: Sandbox) -> dict[str, Any]:
    held: dict[str, Any] = httpx.get(sandbox.url + "/_sandbox/truth/threepl").json()
    return held


def test_the_same_reference_id_twice_is_one_order(sandbox: Sandbox, client: httpx.Client) -> None:
    first = client.post("/2026-01/order", json=order("shop-1001"))
    again = client.post("/2026-01/order", json=order("shop-1001"))
    assert first.status_code == 201 and again.status_code == 422
    assert again.json()["order_id"] == first.json()["id"]
    found = client.get("/2026-01/order", params={"ReferenceIds": "shop-1001"}).json()
    assert [o["id"] for o in found] == [first.json()["id"]]
    held = truth(sandbox)
    assert (held["create_requests"], held["orders"], held["duplicated_reference_ids"]) == (2, 1, [])
    assert sandbox.connection("threepl")["base_url"] == sandbox.url_for("threepl")


def test_the_limit_answers_429_with_x_retry_after_until_the_clock_moves(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    statuses = [client.get("/2026-01/order").status_code for _ in range(5)]
    over = client.get("/2026-01/order")
    assert statuses == [200] * 5 and over.status_code == 429
    assert over.headers["x-retry-after"] == "60" and over.headers["x-remaining-calls"] == "0"
    assert over.json() == {
        "statusCode": 429, "message": "Rate limit is exceeded. Try again in 60 seconds."}  # fmt: skip
    client.get("/2026-01/order")  # too early: a violation
    assert httpx.get(sandbox.url + "/_sandbox/violations").json() == {"threepl": 1}
    httpx.post(sandbox.url + "/_sandbox/clock/advance", params={"minutes": 1})
    assert client.get("/2026-01/order").status_code == 200


def test_a_5xx_burst_creates_nothing_then_the_retry_creates_one(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.server.set_faults("threepl", Faults(errors=When.at(1), error_burst=3))
    statuses = [client.post("/2026-01/order", json=order("shop-1002")).status_code for _ in "1234"]
    assert statuses == [500, 502, 503, 201]
    assert truth(sandbox)["orders"] == 1


def test_a_truncated_answer_comes_after_the_order_exists(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.server.set_faults("threepl", Faults(truncate=When.at(1)))
    cut = client.post("/2026-01/order", json=order("shop-1003"))
    with pytest.raises(ValueError):
        cut.json()
    sandbox.server.set_faults("threepl", None)
    found = client.get("/2026-01/order", params={"ReferenceIds": "shop-1003"}).json()
    assert [o["reference_id"] for o in found] == ["shop-1003"]
    assert client.post("/2026-01/order", json=order("shop-1003")).status_code == 422
    assert truth(sandbox)["orders"] == 1


class Answered:
    """The simulator, saying (by an event) when it has answered a request."""

    def __init__(self, sim: ThreePLSimulator) -> None:
        self.sim, self.done = sim, threading.Event()

    def answer(self, request: Request) -> Answer:
        answer = self.sim.answer(request)
        self.done.set()
        return answer


def test_a_slow_answer_times_out_the_client_and_still_creates_the_order() -> None:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=3))
    sim = ThreePLSimulator(brand, SimClock(brand.config.start_at))
    app = Answered(sim)
    with (
        SandboxServer({"threepl": app}) as server,
        httpx.Client(base_url=server.url_for("threepl"), headers=HEADERS) as client,
    ):
        server.set_faults("threepl", Faults(slow=When.at(1), slow_seconds=0.3))
        with pytest.raises(httpx.ReadTimeout):
            client.post("/2026-01/order", json=order("shop-1004"), timeout=0.05)
        assert app.done.wait(timeout=5)
        assert [o.reference_id for o in sim.orders()] == ["shop-1004"]


def test_a_bad_body_is_400_naming_the_field_and_a_bad_token_401(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    bad = order("shop-1005", products=[{"reference_id": "X", "quantity": -1}])
    answer = client.post("/2026-01/order", json=bad)
    assert answer.status_code == 400
    assert answer.json() == {
        "products[0].quantity": ["The quantity must be a whole number above 0."]
    }
    wrong = client.get("/2026-01/order", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["statusCode"] == 401
    assert truth(sandbox)["create_requests"] == 0
