"""The Klaviyo simulator and connector held to Klaviyo's OpenAPI (revision 2026-07-15):
each operation's answers in its schema, its parameters per revision, its rate limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from klaviyo_openapi import ADDED_IN, REVISIONS, check_request, check_response, operation, ratelimit
from podium.connectors.sources.klaviyo import config as connector_config
from podium.connectors.sources.klaviyo.endpoints import ENDPOINTS
from podium.connectors.sources.klaviyo.source import KlaviyoSource
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator, Tier
from podium.sandbox.klaviyo.limits import tiers_for
from podium.sandbox.paging import Request

BASE = "http://127.0.0.1:9/klaviyo"
LISTED = ("profiles", "events", "metrics", "lists", "campaigns", "flows")
REPORTS = ("campaign-values-reports", "flow-values-reports")
CHANNEL = "equals(messages.channel,'email')"


@pytest.fixture(scope="module")
def sim() -> KlaviyoSimulator:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=50, customers=100, dtc_orders_per_day=5))
    unlimited = {name: Tier(10**6, 10**7) for name in (*LISTED, *REPORTS)}  # shapes, not limits
    clock = SimClock(brand.config.start_at + timedelta(days=49))  # an archived campaign by then
    return KlaviyoSimulator(brand, clock, tiers=unlimited)


def call(
    sim: KlaviyoSimulator, method: str, path: str, params: dict[str, str], revision: str,
    body: bytes = b"",
) -> tuple[int, bytes]:  # fmt: skip
    headers = {"authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": revision}
    answer = sim.answer(Request(method, path, params, headers, BASE, body))
    return answer.status, answer.body


def report_body(sim: KlaviyoSimulator, kind: str) -> bytes:
    attributes = {"statistics": ["recipients", "open_rate", "conversion_value"],
                  "timeframe": {"key": "last_365_days"},
                  "conversion_metric_id": sim.model.metric_ids["Placed Order"]}  # fmt: skip
    return orjson.dumps({"data": {"type": f"{kind}-values-report", "attributes": attributes}})


REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/api/profiles/", {}),
    ("GET", "/api/profiles/", {"page[size]": "100", "sort": "updated"}),
    ("GET", "/api/events/", {"sort": "datetime"}),
    ("GET", "/api/metrics/", {}),
    ("GET", "/api/lists/", {}),
    ("GET", "/api/campaigns/", {"filter": CHANNEL}),
    ("GET", "/api/campaigns/", {"filter": f"{CHANNEL},equals(archived,true)"}),
    ("GET", "/api/flows/", {}),
    ("GET", "/api/flows/", {"filter": "equals(archived,true)", "page[size]": "50"}),
    ("POST", "/api/campaign-values-reports/", {}),
    ("POST", "/api/flow-values-reports/", {}),
]


@pytest.mark.parametrize("revision", REVISIONS)
@pytest.mark.parametrize(("method", "path", "params"), REQUESTS)
def test_every_simulated_operation_answers_in_its_spec_schema(
    sim: KlaviyoSimulator, method: str, path: str, params: dict[str, str], revision: str
) -> None:
    """Closed schemas: campaigns need send_options, trigger_type is the spec's enum, a
    report answer carries no id; nothing the spec does not declare."""
    body = report_body(sim, path.split("/")[2].split("-")[0]) if method == "POST" else b""
    assert check_request(method, path, params, {"revision": revision}, body) == []
    status, answer = call(sim, method, path, params, revision, body)
    assert status == 200, answer
    assert check_response(method, path, status, answer) == []
    data = orjson.loads(answer)["data"]
    assert data if method == "POST" else len(data) > 0


@pytest.mark.parametrize(
    ("path", "name", "refused_in", "taken_in", "value"),
    [
        ("/api/events/", "page[size]", "2025-10-15", "2026-01-15", "1000"),
        ("/api/campaigns/", "page[size]", "2026-04-15", "2026-07-15", "100"),
        ("/api/lists/", "page[size]", "2026-04-15", "2026-07-15", "10"),
    ],
)
def test_a_parameter_is_refused_before_the_revision_that_added_it(
    sim: KlaviyoSimulator, path: str, name: str, refused_in: str, taken_in: str, value: str
) -> None:
    params = {name: value, **({"filter": CHANNEL} if "campaigns" in path else {})}
    status, answer = call(sim, "GET", path, params, refused_in)
    assert status == 400 and check_response("GET", path, status, answer) == []
    [error] = orjson.loads(answer)["errors"]
    assert error["code"] == "invalid" and error["source"] == {"parameter": name}
    assert taken_in in error["detail"] and refused_in in error["detail"]
    status, answer = call(sim, "GET", path, params, taken_in)
    assert status == 200 and check_response("GET", path, status, answer) == []


def test_a_throttled_answer_is_in_the_specs_error_shape() -> None:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=3, customers=10, dtc_orders_per_day=2))
    sim = KlaviyoSimulator(brand, SimClock(brand.config.start_at + timedelta(days=2)),
                           tiers={"flows": Tier(1, 60)})  # fmt: skip
    answers = [call(sim, "GET", "/api/flows/", {}, REVISIONS[-1]) for _ in range(2)]
    assert [status for status, _ in answers] == [200, 429]
    assert all(check_response("GET", "/api/flows/", *answer) == [] for answer in answers)


def test_the_simulators_parameters_per_revision_are_the_specs() -> None:
    from podium.sandbox.klaviyo import revisions as simulator_revisions  # new with the fix

    for resource, declared in simulator_revisions.PARAMETERS.items():
        key, op = operation("GET" if resource in LISTED else "POST", f"/api/{resource}/")
        assert set(declared) == {p["name"] for p in op["parameters"] if p["in"] == "query"}
        later = {name: since for name, since in declared.items() if since != REVISIONS[0]}
        assert later == {name: since for (path, name), since in ADDED_IN.items() if path == key}
    assert simulator_revisions.REVISIONS == REVISIONS == connector_config.REVISIONS


@pytest.mark.parametrize("resource", LISTED)
def test_page_sizes_are_the_specs(sim: KlaviyoSimulator, resource: str) -> None:
    _, op = operation("GET", f"/api/{resource}/")
    size = next((p["schema"] for p in op["parameters"] if p["name"] == "page[size]"), None)
    listing = sim.listings[resource]
    if size is not None:
        assert (listing.page_default, listing.page_max) == (size["default"], size["maximum"])
    endpoint = ENDPOINTS[resource]
    if endpoint.page_size is not None:
        assert size is not None and endpoint.page_size <= size["maximum"]


@pytest.mark.parametrize(
    ("resource", "stream"),
    [(r, r) for r in LISTED]
    + [("campaign-values-reports", "campaign_values"), ("flow-values-reports", "flow_values")],
)
def test_rate_limits_are_the_specs(resource: str, stream: str) -> None:
    method = "GET" if resource in LISTED else "POST"
    spec = ratelimit(method, f"/api/{resource}/")
    tier = tiers_for()[resource]
    assert (tier.burst, tier.steady, tier.daily) == (spec["burst"], spec["steady"],
                                                     spec.get("daily"))  # fmt: skip
    limit = ENDPOINTS[stream].limit
    assert (limit.burst, limit.steady) == (spec["burst"], spec["steady"])


@pytest.mark.parametrize("revision", REVISIONS)
def test_the_connector_asks_only_what_its_revision_has(revision: str) -> None:
    source = KlaviyoSource("kl", connector_config.KlaviyoConfig(DEMO_API_KEY, revision=revision))
    since: Any = "2026-01-01T00:00:00+00:00"
    for name, endpoint in ENDPOINTS.items():
        if endpoint.report is not None:
            continue
        for params in source._passes(endpoint, endpoint.stream, since):
            assert check_request("GET", endpoint.path, params, {"revision": revision}, b"") == []
            if name == "events":
                assert ("page[size]" in params) == (revision >= "2026-01-15")
            if name in ("campaigns", "lists"):
                assert "page[size]" not in params
