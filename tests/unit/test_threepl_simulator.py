"""The 3PL simulator keeps one order per reference id, refuses what ShipBob refuses in
ShipBob's shapes, pages its order list, and limits requests on the sandbox's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.paging import Request
from podium.sandbox.threepl import (
    DEMO_CHANNEL_ID,
    DEMO_TOKEN,
    Duplicates,
    OrderBook,
    SlidingWindow,
    Status,
    ThreePLSimulator,
    validate,
)

NOW = datetime(2026, 9, 7, 12, tzinfo=UTC)
HEADERS = {"authorization": f"Bearer {DEMO_TOKEN}", "shipbob_channel_id": DEMO_CHANNEL_ID}


def order(reference_id: str = "shop-1001-a", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shipping_method": "Standard",
        "reference_id": reference_id,
        "order_number": "1001",
        "recipient": {
            "name": "John Doe",
            "address": {
                "address1": "100 N Racine Ave",
                "city": "Chicago",
                "state": "IL",
                "country": "US",
                "zip_code": "60607",
            },  # fmt: skip
        },
        "products": [{"reference_id": "LIGHT-ROAST", "name": "Light Roast", "quantity": 1}],
    }
    return {**body, **changes}


@pytest.fixture(scope="module")
def brand() -> Brand:
    return Brand(BrandConfig(start=EXAMPLE_START, days=3, customers=10, dtc_orders_per_day=2))


def simulator(brand: Brand, **options: Any) -> ThreePLSimulator:
    return ThreePLSimulator(brand, SimClock(NOW), **options)


def call(
    sim: ThreePLSimulator,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    raw = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
    sent = HEADERS if headers is None else headers
    request = Request(method, path, params or {}, sent, "http://sim", raw)
    answer = sim.answer(request)
    return answer.status, orjson.loads(answer.body), answer.headers


# -- the model ---------------------------------------------------------------------------


def test_a_repeated_reference_id_keeps_one_order_when_rejecting() -> None:
    book = OrderBook(Duplicates.REJECT)
    first = book.create(order(), "1", NOW)
    again = book.create(order(order_number="other"), "1", NOW)
    assert first.added and not first.duplicate
    assert not again.added and again.duplicate and again.order == first.order
    assert book.truth()["create_requests"] == 2
    assert book.truth()["orders"] == book.truth()["distinct_reference_ids"] == 1


def test_upsert_replaces_a_created_order_and_accept_makes_a_duplicate() -> None:
    upsert = OrderBook(Duplicates.UPSERT)
    first = upsert.create(order(), "1", NOW).order
    updated = upsert.create(order(shipping_method="Express"), "1", NOW)
    assert updated.order.id == first.id and updated.order.fields["shipping_method"] == "Express"
    upsert.move(first.id, Status.SHIPPED)
    late = upsert.create(order(shipping_method="Ground"), "1", NOW)
    assert late.order.fields["shipping_method"] == "Express"  # shipped: left as it was
    accept = OrderBook(Duplicates.ACCEPT)
    accept.create(order(), "1", NOW)
    assert accept.create(order(), "1", NOW).added
    assert accept.truth()["duplicated_reference_ids"] == ["shop-1001-a"]


def test_validation_names_every_bad_field() -> None:
    body = order(shipping_method="", products=[{"name": "x", "quantity": 0}])
    del body["recipient"]["address"]["city"]
    body["recipient"]["address"]["country"] = "USA"
    assert validate(body) == {
        "shipping_method": ["The shipping_method field is required (a non-empty string)."],
        "recipient.address.city": ["The city field is required (a non-empty string)."],
        "recipient.address.country": ["Use an ISO 3166-1 alpha-2 code, e.g. US."],
        "products[0].reference_id": ["Give the product's reference_id (SKU) or id."],
        "products[0].quantity": ["The quantity must be a whole number above 0."],
    }
    assert validate(order()) == {}
    assert set(validate([])) == {"body"}
    assert set(validate(order(reference_id=None, recipient=None, products=[]))) == {
        "reference_id", "recipient", "products"}  # fmt: skip


def test_paging_and_the_reference_filter() -> None:
    book = OrderBook()
    for n in range(7):
        book.create(order(f"ref-{n}"), "1", NOW)
    page = book.find(None, 2, 3)
    assert [o.reference_id for o in page.orders] == ["ref-3", "ref-4", "ref-5"]
    assert (page.total, page.pages) == (7, 3)
    assert [o.reference_id for o in book.find(["ref-6", "ref-1", "nope"], 1, 50).orders] == [
        "ref-1", "ref-6"]  # fmt: skip


def test_cancel_only_before_pick_pack_ship() -> None:
    book = OrderBook()
    a, b = (book.create(order(r), "1", NOW).order for r in ("a", "b"))
    assert book.cancel(a.id) == (book.orders[a.id], True)
    assert book.orders[a.id].status is Status.CANCELLED
    book.move(b.id, Status.PROCESSING)
    assert book.cancel(b.id) == (book.orders[b.id], False)


def test_the_sliding_window_reopens_as_requests_age() -> None:
    window = SlidingWindow(limit=3, window=60)
    assert [window.check(t).allowed for t in (0, 10, 20, 30)] == [True, True, True, False]
    assert window.check(30).retry_after == 30  # the request at 0 leaves at 60
    assert window.check(60).allowed and not window.check(60).allowed


# -- the app -----------------------------------------------------------------------------


def test_create_then_duplicate_answers_422_naming_the_held_order(brand: Brand) -> None:
    sim = simulator(brand)
    status, created, headers = call(sim, "POST", "/2026-01/order", order())
    assert status == 201 and created["reference_id"] == "shop-1001-a"
    assert created["channel"] == {"id": DEMO_CHANNEL_ID} and created["status"] == "created"
    assert headers["x-remaining-calls"] == "149"
    status, again, _ = call(sim, "POST", "/2026-01/order", order())
    assert status == 422 and again["order_id"] == created["id"]
    assert "Duplicate reference ID" in again["message"]
    assert call(sim, "GET", f"/2026-01/order/{created['id']}")[1] == created
    assert sim.truth()["create_requests"] == 2 and sim.truth()["orders"] == 1


def test_upsert_answers_200_with_the_held_order(brand: Brand) -> None:
    sim = simulator(brand, duplicates="upsert")
    first = call(sim, "POST", "/2026-07/order", order())
    second = call(sim, "POST", "/2026-07/order", order(order_number="1001-b"))
    assert (first[0], second[0]) == (201, 200) and second[1]["id"] == first[1]["id"]
    assert second[1]["order_number"] == "1001-b"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authorization header missing"),
        ({"authorization": "Bearer wrong"}, "not valid"),
        ({"authorization": f"Basic {DEMO_TOKEN}"}, "not valid"),
    ],
)
def test_a_missing_or_wrong_token_is_401(
    brand: Brand, headers: dict[str, str], message: str
) -> None:
    status, body, _ = call(simulator(brand), "GET", "/2026-01/order", headers=headers)
    assert status == 401 and body["statusCode"] == 401 and message in body["message"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "field"),
    [
        ("/2026-01/order", order(shipping_method=None), HEADERS, "shipping_method"),
        ("/2026-01/order", b"{not json", HEADERS, "body"),
        ("/2026-01/order", order(), {"authorization": f"Bearer {DEMO_TOKEN}"},
         "shipbob_channel_id"),
    ],
)  # fmt: skip
def test_a_bad_create_is_400_keyed_by_field_and_creates_nothing(
    brand: Brand, path: str, body: Any, headers: dict[str, str], field: str
) -> None:
    sim = simulator(brand)
    status, problems, _ = call(sim, "POST", path, body, headers=headers)
    assert status == 400 and list(problems) == [field] and isinstance(problems[field], list)
    assert sim.truth()["orders"] == 0 and sim.truth()["create_requests"] == 0


def test_listing_pages_through_headers_and_filters_by_reference(brand: Brand) -> None:
    sim = simulator(brand)
    for n in range(5):
        call(sim, "POST", "/2026-01/order", order(f"ref-{n}"))
    status, rows, headers = call(sim, "GET", "/2026-01/order", params={"Limit": "2"})
    assert status == 200 and [r["reference_id"] for r in rows] == ["ref-0", "ref-1"]
    assert (headers["total-count"], headers["total-pages"]) == ("5", "3")
    assert headers["next-page"] == "http://sim/2026-01/order?Limit=2&Page=2"
    last = call(sim, "GET", "/2026-01/order", params={"Page": "3", "Limit": "2"})
    assert [r["reference_id"] for r in last[1]] == ["ref-4"] and "next-page" not in last[2]
    found = call(sim, "GET", "/2026-01/order", params={"ReferenceIds": "ref-3,ref-9"})[1]
    assert [r["reference_id"] for r in found] == ["ref-3"]
    status, problems, _ = call(sim, "GET", "/2026-01/order", params={"Limit": "251"})
    assert status == 400 and "between 1 and 250" in problems["Limit"][0]


def test_cancel_reports_each_shipment(brand: Brand) -> None:
    sim = simulator(brand)
    a = call(sim, "POST", "/2026-01/order", order("a"))[1]
    b = call(sim, "POST", "/2026-01/order", order("b"))[1]
    status, done, _ = call(sim, "POST", f"/2026-01/order/{a['id']}:cancel")
    assert status == 200 and done["order"]["status"] == "cancelled"
    assert done["canceled_shipment_results"][0]["is_success"] is True
    sim.move(b["id"], "shipped")
    refused = call(sim, "POST", f"/2.0/order/{b['id']}/cancel")[1]["canceled_shipment_results"]
    assert refused[0]["is_success"] is False and "shipped" in refused[0]["reason"]
    assert call(sim, "POST", "/2026-01/order/999:cancel")[0] == 404
    assert call(sim, "GET", "/2030-01/order")[0] == 404


def test_the_limit_runs_on_the_sandbox_clock(brand: Brand) -> None:
    clock = SimClock(NOW)
    sim = ThreePLSimulator(brand, clock, limit=3)
    assert [call(sim, "GET", "/2026-01/order")[0] for _ in range(3)] == [200] * 3
    status, body, headers = call(sim, "GET", "/2026-01/order")
    assert status == 429 and headers["x-retry-after"] == "60"
    assert headers["x-remaining-calls"] == "0"
    assert body == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 60 seconds.",
    }
    assert sim.violations == 0
    call(sim, "GET", "/2026-01/order")  # before the 60 s ran out
    assert sim.violations == 1
    clock.advance(timedelta(seconds=60))
    assert call(sim, "GET", "/2026-01/order")[0] == 200
