"""The Klaviyo simulator refuses what Klaviyo refuses, in Klaviyo's error shape."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import orjson
import pytest

from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator, Tier, klaviyo_truth
from podium.sandbox.paging import Request

HEADERS = {"authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2025-10-15"}


@pytest.fixture(scope="module")
def sim() -> KlaviyoSimulator:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=10, customers=120, dtc_orders_per_day=8))
    fast = {name: Tier(100, 1000) for name in ("campaign-values-reports", "flow-values-reports")}
    return KlaviyoSimulator(brand, SimClock(brand.config.start_at + timedelta(days=9)), tiers=fast)


def call(
    sim: KlaviyoSimulator, path: str, params: dict[str, str] | None = None, **kw: Any
) -> tuple[int, Any]:
    method = "POST" if "body" in kw else "GET"
    headers = kw.get("headers", HEADERS)
    answer = sim.answer(
        Request(method, path, params or {}, headers, "http://sim", kw.get("body", b""))
    )
    return answer.status, orjson.loads(answer.body)


def error(sim: KlaviyoSimulator, *args: Any, **kw: Any) -> dict[str, Any]:
    status, body = call(sim, *args, **kw)
    assert status >= 400
    [item] = body["errors"]
    assert set(item) == {"id", "status", "code", "title", "detail", "source"}
    assert item["status"] == status
    return dict(item)


NEWEST = {**HEADERS, "revision": "2026-07-15"}


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/api/campaigns/", {}, "channel filter is required"),
        ("/api/profiles/", {"page[size]": "101"}, "between 1 and 100"),
        ("/api/events/", {"page[size]": "1001"}, "between 1 and 1000"),
        ("/api/metrics/", {"page[size]": "5"}, "not a valid parameter"),
        ("/api/profiles/", {"filter": "greater-or-equal(updated,2026-09-01T00:00:00Z)"},
         "not allowed"),
        ("/api/events/", {"filter": "greater-than(datetime,yesterday)"}, "Invalid date"),
        ("/api/events/", {"sort": "-datetime"}, "not simulated"),
        ("/api/events/", {"filter": "greater-than(email,'x')"}, "not a filterable field"),
        ("/api/events/", {"fields[event]": "datetime"}, "does not simulate it"),
    ],
)  # fmt: skip
def test_requests_klaviyo_refuses_are_400s(
    sim: KlaviyoSimulator, path: str, params: dict[str, str], detail: str
) -> None:
    item = error(sim, path, params, headers=NEWEST)
    assert item["status"] == 400 and detail in item["detail"]


def test_events_take_pages_of_1000_from_revision_2026_01_15(sim: KlaviyoSimulator) -> None:
    status, body = call(sim, "/api/events/", {"page[size]": "1000"},
                        headers={**HEADERS, "revision": "2026-01-15"})  # fmt: skip
    assert status == 200 and len(body["data"]) == min(1000, sim.model.count_until(sim.clock.now()))


def test_auth_and_revision_are_checked(sim: KlaviyoSimulator) -> None:
    assert error(sim, "/api/metrics/", headers={"revision": "2025-10-15"})["code"] == (
        "not_authenticated"
    )
    bearer = {**HEADERS, "authorization": f"Bearer {DEMO_API_KEY}"}
    assert error(sim, "/api/metrics/", headers=bearer)["status"] == 401
    missing = error(sim, "/api/metrics/", headers={"authorization": HEADERS["authorization"]})
    assert missing["status"] == 400 and missing["source"] == {"parameter": "revision"}
    for unserved in ("2024-10-15", "2026-10-15", "2026-07-15.pre"):
        refused = error(sim, "/api/metrics/", headers={**HEADERS, "revision": unserved})
        assert refused["status"] == 400 and "not served" in refused["detail"]


def test_paging_follows_links_next_through_every_event_once(sim: KlaviyoSimulator) -> None:
    params: dict[str, str] | None = {"page[size]": "200", "sort": "datetime"}
    seen: list[str] = []
    while params is not None:
        status, body = call(sim, "/api/events/", params, headers=NEWEST)
        seen += [e["id"] for e in body["data"]]
        following = body["links"].get("next")
        params = None
        if following:
            from urllib.parse import parse_qsl, urlsplit

            params = dict(parse_qsl(urlsplit(following).query))
    truth = klaviyo_truth(sim.brand, sim.clock.now())
    assert len(seen) == len(set(seen)) == truth["events"]


def test_an_events_uuid_is_uuid5_of_its_id_in_the_url_namespace(sim: KlaviyoSimulator) -> None:
    status, body = call(sim, "/api/events/", {"sort": "datetime"})
    assert status == 200 and body["data"]
    for event in body["data"]:
        assert event["attributes"]["uuid"] == str(uuid.uuid5(uuid.NAMESPACE_URL, event["id"]))


def report(kind: str, **attributes: Any) -> bytes:
    return orjson.dumps({"data": {"type": f"{kind}-values-report", "attributes": attributes}})


def test_values_reports_need_statistics_a_year_at_most_and_a_metric(sim: KlaviyoSimulator) -> None:
    placed = sim.model.metric_ids["Placed Order"]
    good = {"statistics": ["recipients", "open_rate"], "timeframe": {"key": "last_365_days"},
            "conversion_metric_id": placed}  # fmt: skip
    status, body = call(sim, "/api/campaign-values-reports/", body=report("campaign", **good))
    assert status == 200
    results = body["data"]["attributes"]["results"]
    assert results and all(0 <= r["statistics"]["open_rate"] <= 1 for r in results)
    too_long = {
        **good,
        "timeframe": {"start": "2025-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"},
    }
    bad = [{**good, "statistics": []}, too_long, {**good, "conversion_metric_id": "nope"}]
    for attributes in bad:
        assert (
            error(sim, "/api/flow-values-reports/", body=report("flow", **attributes))["status"]
            == 400
        )
