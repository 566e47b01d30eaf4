"""The Klaviyo connector and simulator held to the vendor over real sockets.

A full sync under each supported revision, every request the connector sends checked
against the operation's declared parameters for that revision and every answer it gets
validated against the operation's schema in Klaviyo's OpenAPI; then Klaviyo's own Python
SDK (``klaviyo-api`` 24.0.0, generated from the OpenAPI of revision 2026-07-15, which
validates every answer into its typed models) reads the simulator as a second client.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.models import CampaignValuesRequestDTO, FlowValuesRequestDTO

from integration.test_klaviyo_connector import FAST_REPORTS, assert_matches_truth, settings, sync
from klaviyo_openapi import REVISIONS, SPEC_REVISION, Recorder, check_request, check_response
from podium.connectors.sources.klaviyo import open_klaviyo_source
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator, klaviyo_truth
from podium.sandbox.paging import Request
from podium.sandbox.server import SandboxServer

PREFIX = "klaviyo"
_names = itertools.count()


@pytest.fixture(scope="module")
def brand() -> Brand:
    return Brand(BrandConfig(start=EXAMPLE_START, days=30, customers=200, dtc_orders_per_day=10))


@pytest.fixture
def world(brand: Brand) -> Iterator[tuple[SandboxServer, Recorder, SimClock]]:
    clock = SimClock(brand.config.start_at + timedelta(days=29))  # archived campaigns by then
    recorder = Recorder(KlaviyoSimulator(brand, clock, tiers=FAST_REPORTS))
    with SandboxServer({PREFIX: recorder}) as server:
        yield server, recorder, clock


def problems_with(exchanges: list[tuple[Request, Answer]]) -> list[str]:
    found = []
    for request, answer in exchanges:
        where = f"{request.method} {request.path}?{request.params}"
        found += [f"request {where}: {p}" for p in check_request(
            request.method, request.path, request.params, request.headers, request.body)]  # fmt: skip
        found += [f"answer {answer.status} to {where}: {p}" for p in check_response(
            request.method, request.path, answer.status, answer.body)]  # fmt: skip
    return found


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_full_sync_asks_and_gets_only_what_the_spec_declares(
    world: tuple[SandboxServer, Recorder, SimClock], brand: Brand, tmp_path: Path, revision: str
) -> None:
    server, recorder, clock = world
    name = f"ks{next(_names)}"
    source = open_klaviyo_source(name, settings(server, revision=revision), secrets=[DEMO_API_KEY])
    sync(source, tmp_path, name)
    assert_matches_truth(tmp_path, brand, clock)
    exchanges = recorder.exchanges
    assert problems_with(exchanges) == []
    paths = Counter(request.path for request, _ in exchanges)
    assert set(paths) == {f"/api/{r}/" for r in ("profiles", "events", "metrics", "lists",
                          "campaigns", "flows", "campaign-values-reports", "flow-values-reports")}  # fmt: skip
    events = [request.params for request, _ in exchanges if request.path == "/api/events/"]
    assert all(("page[size]" in p) == (revision >= "2026-01-15") for p in events)
    assert paths["/api/events/"] > 1 and server.violations(PREFIX) == 0
    print(f"\n{revision}: {summary(exchanges)}")


def test_the_connector_gets_clean_errors_in_the_specs_shape(
    world: tuple[SandboxServer, Recorder, SimClock], tmp_path: Path
) -> None:
    server, recorder, _ = world
    recorder.app.revoke_key()
    name = f"ks{next(_names)}"
    source = open_klaviyo_source(name, settings(server, streams=["flows"]), secrets=[DEMO_API_KEY])
    with pytest.raises(Exception, match="401"):
        sync(source, tmp_path, name)
    [(request, answer)] = recorder.exchanges
    assert answer.status == 401 and problems_with(recorder.exchanges) == []


def summary(exchanges: list[tuple[Request, Answer]]) -> str:
    resources = sum(
        len(data) if isinstance(data := orjson.loads(answer.body).get("data"), list) else 1
        for _, answer in exchanges
        if answer.status == 200
    )
    return f"{len(exchanges)} requests and answers ({resources} resources) validated"


def every_page(call: Callable[..., Any], **kwargs: Any) -> list[Any]:
    """Every resource a list operation gives, following ``links.next`` as SDK users do."""
    found, cursor = [], None
    while True:
        page = call(**kwargs, **({"page_cursor": cursor} if cursor else {}))
        found += page.data
        following = page.links.next if page.links else None
        if not following:
            return found
        cursor = dict(parse_qsl(urlsplit(following).query))["page[cursor]"]


def test_klaviyos_own_sdk_reads_the_simulator(
    world: tuple[SandboxServer, Recorder, SimClock], brand: Brand
) -> None:
    server, recorder, clock = world
    klaviyo = KlaviyoAPI(DEMO_API_KEY, max_delay=1, max_retries=2, test_host=server.url_for(PREFIX))
    assert klaviyo.api_client.default_headers["revision"] == SPEC_REVISION
    truth = klaviyo_truth(brand, clock.now())
    profiles = every_page(klaviyo.Profiles.get_profiles, page_size=100)
    events = every_page(klaviyo.Events.get_events, page_size=1000)
    metrics = every_page(klaviyo.Metrics.get_metrics)
    lists = every_page(klaviyo.Lists.get_lists)
    channel = "equals(messages.channel,'email')"
    campaigns = [c for archived in ("false", "true") for c in every_page(
        klaviyo.Campaigns.get_campaigns, filter=f"{channel},equals(archived,{archived})")]  # fmt: skip
    flows = [f for archived in ("false", "true") for f in every_page(
        klaviyo.Flows.get_flows, filter=f"equals(archived,{archived})")]  # fmt: skip
    assert (len(profiles), len(events), len(metrics), len(lists), len(campaigns), len(flows)) == (
        truth["profiles"], truth["events"], truth["metrics"], truth["lists"],
        truth["campaigns"], truth["flows"])  # fmt: skip
    assert {c.attributes.send_options["use_smart_sending"] for c in campaigns} == {True}
    assert {f.attributes.trigger_type for f in flows} == {"Added to List", "Metric"}
    placed = next(m.id for m in metrics if m.attributes.name == "Placed Order")
    for kind, query, dto in (
        ("campaign", klaviyo.Reporting.query_campaign_values, CampaignValuesRequestDTO),
        ("flow", klaviyo.Reporting.query_flow_values, FlowValuesRequestDTO),
    ):
        request = {"data": {"type": f"{kind}-values-report", "attributes": {
            "statistics": ["recipients", "opens_unique", "conversion_value"],
            "timeframe": {"key": "last_365_days"}, "conversion_metric_id": placed}}}  # fmt: skip
        results = query(dto.from_dict(request)).data.attributes.results
        by_message = {r.groupings[f"{kind}_message_id"]: r.statistics for r in results}
        assert by_message.keys() == truth[f"{kind}_values"].keys()
        for message, statistics in by_message.items():
            assert statistics["recipients"] == truth[f"{kind}_values"][message]["recipients"]
    assert problems_with(recorder.exchanges) == []
    print(f"\nSDK: {summary(recorder.exchanges)}")
