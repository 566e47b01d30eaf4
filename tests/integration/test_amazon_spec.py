"""The amazon connector and the SP-API simulator held to Amazon's published models.

Every request the connector sends during a full and an incremental sync is checked against
the operation's declared parameters, and every answer it receives against the model's
response schema (``tests/amazon_spec.py``); paging must carry the same filters with
``NextToken``; a finance range just over 180 days (which Amazon answers empty) must not
lose events. Amazon's own SDK (``amzn-sp-api``) is run against the simulator as a second
client of every operation podium uses, paging with ``NextToken`` as the SDK does.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.amazon_spec import Recorder
from tests.integration.test_amazon_connector import (
    BRAND,
    FAST,
    World,
    assert_matches_truth,
    pending_moment,
)

from podium.sandbox.amazon import (
    DEMO_CREDENTIALS,
    MARKETPLACE_ID,
    SETTLEMENT_REPORT_TYPE,
    AmazonSimulator,
    amazon_truth,
    quiet_after,
)
from podium.sandbox.amazon.render import iso
from podium.sandbox.clock import SimClock
from podium.sandbox.server import SandboxServer

spapi = pytest.importorskip("spapi")  # the test extra installs amzn-sp-api

LOG = logging.getLogger("test.amazon.spec")


def serve(
    tmp_path: Path, limits: dict[str, tuple[float, float]]
) -> Iterator[tuple[World, Recorder]]:
    clock = SimClock(pending_moment(BRAND, BRAND.config.start_at + timedelta(days=16, hours=12)))
    # empty finance pages that still carry a NextToken, as the model warns they may
    sim = AmazonSimulator(BRAND, clock, rate_limits=limits, report_polls=3, empty_finance_pages=2)
    recorder = Recorder(sim)
    with SandboxServer({"amazon": recorder}) as server:
        yield World(sim, server, clock, tmp_path, f"amazonspec{id(recorder)}"), recorder


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[World, Recorder]]:
    yield from serve(tmp_path, FAST)


@pytest.fixture
def unpaced(tmp_path: Path) -> Iterator[tuple[World, Recorder]]:
    """The SDK does not pace itself (a caller's job), so no bucket may run dry here."""
    yield from serve(tmp_path, {op: (1e6, 1e6) for op in FAST})


def test_a_full_and_an_incremental_sync_speak_the_models(
    recorded: tuple[World, Recorder],
) -> None:
    world, recorder = recorded
    world.sync()
    world.clock.set(quiet_after(BRAND, world.clock.now() + timedelta(days=2)))
    world.sync()
    assert_matches_truth(world)

    judged = recorder.judge()
    LOG.warning(
        "amazon spec: %d requests and %d responses validated against the models %s",
        judged.requests, judged.responses, judged.operations,
    )  # fmt: skip
    assert judged.problems == []
    used = {"getOrders", "getOrderItems", "listFinancialEvents", "getReports", "getReport"}
    assert used | {"getReportDocument"} <= set(judged.operations)
    assert "createReport" not in judged.operations  # settlement reports are only listed
    assert judged.responses > 100

    paged = {"getOrders": 0, "listFinancialEvents": 0}
    first: dict[str, dict[str, str]] = {}
    for op, _, exchange in recorder.sp_api():
        name, params = op.operation_id, dict(exchange.request.params)
        if name not in paged:
            continue
        filters = {k: v for k, v in params.items() if k != "NextToken"}
        if "NextToken" in params:
            paged[name] += 1
            assert filters == first[name], f"{name} paged without its filters"
        else:
            first[name] = filters
    assert paged["getOrders"] >= 2 and paged["listFinancialEvents"] >= 2


def test_a_start_just_over_180_days_ago_loses_no_finance_event(
    recorded: tuple[World, Recorder],
) -> None:
    """The last window left open (PostedBefore = now − 2 min) must stay within 180 days:
    the model answers a longer range with an empty page, so events would vanish."""
    world, recorder = recorded
    now = world.clock.now()
    start = now - timedelta(days=180, minutes=5)
    world.load("financial_events", world.source(start_date=start.isoformat()))
    expected = amazon_truth(BRAND, now)["financial_events"]
    assert world.one("SELECT count(*) FROM raw_amazon.financial_events") == expected > 0
    for op, _, exchange in recorder.sp_api():
        params = dict(exchange.request.params)
        if op.operation_id != "listFinancialEvents":
            continue
        after = datetime.fromisoformat(params["PostedAfter"].replace("Z", "+00:00"))
        before_text = params.get("PostedBefore")
        before = (
            datetime.fromisoformat(before_text.replace("Z", "+00:00"))
            if before_text
            else now - timedelta(minutes=2)
        )
        assert before - after <= timedelta(days=180), params
    assert recorder.judge().problems == []


# -- Amazon's SDK as a second client ---------------------------------------------------------
def sdk_client(world: World) -> Any:
    from spapi import SPAPIClient, SPAPIConfig

    base = world.server.url_for("amazon")
    config = SPAPIConfig(
        client_id=DEMO_CREDENTIALS["client_id"],
        client_secret=DEMO_CREDENTIALS["client_secret"],
        refresh_token=DEMO_CREDENTIALS["refresh_token"],
        region="NA",
    )
    return SPAPIClient(config, oauth_endpoint=f"{base}/auth/o2/token", endpoint=base)


def test_amazons_sdk_reads_every_operation_podium_uses(
    unpaced: tuple[World, Recorder],
) -> None:
    from spapi.api.finances_v0.finances_v0_api import FinancesV0Api
    from spapi.api.orders_v0.orders_v0_api import OrdersV0Api
    from spapi.api.reports_v2021_06_30.reports_api import ReportsApi

    world, recorder = unpaced
    client = sdk_client(world).api_client
    now = world.clock.now()
    expected = amazon_truth(BRAND, now)
    start = iso(BRAND.config.start_at)

    orders_api = OrdersV0Api(client)
    filters = {"last_updated_after": start, "max_results_per_page": 40}
    orders, token, pages = [], None, 0
    while True:
        page = orders_api.get_orders([MARKETPLACE_ID], **filters, **paging(token))
        pages += 1
        orders.extend(page.payload.orders)
        token = page.payload.next_token
        if not token:
            break
    assert pages >= 3 and len({o.amazon_order_id for o in orders}) == expected["orders"]
    items = 0
    for order in orders:
        token = None
        while True:
            answer = orders_api.get_order_items(order.amazon_order_id, **paging(token))
            items += len(answer.payload.order_items)
            token = answer.payload.next_token
            if not token:
                break
    assert items == expected["order_items"]

    finances = FinancesV0Api(client)
    args = {"posted_after": start, "max_results_per_page": 25}
    events, token, pages = 0, None, 0
    while True:
        page = finances.list_financial_events(**args, **paging(token))
        pages += 1
        lists = page.payload.financial_events
        events += len(lists.shipment_event_list or []) + len(lists.refund_event_list or [])
        token = page.payload.next_token
        if not token:
            break
    assert pages >= 3 and events == len(finance_event_bodies(world, now))

    reports = ReportsApi(client)
    listed, token = [], None
    while True:  # the model: nextToken goes "as the only parameter"
        query = {"next_token": token} if token else {
            "report_types": [SETTLEMENT_REPORT_TYPE], "created_since": start, "page_size": 1,
        }  # fmt: skip
        page = reports.get_reports(**query)
        listed.extend(page.reports)
        token = page.next_token
        if not token:
            break
    assert len(listed) == 1  # one settlement period has closed
    status = None
    for _ in range(5):
        report = reports.get_report(listed[0].report_id)
        status = report.processing_status
        if status == "DONE":
            break
    assert status == "DONE"
    document = reports.get_report_document(report.report_document_id)
    content = requests.get(document.url, timeout=10).content
    if document.compression_algorithm == "GZIP":
        content = gzip.decompress(content)
    rows = content.decode().splitlines()
    assert len(rows) == 2 + expected["fee_transactions"]  # header, summary, amounts

    judged = recorder.judge()
    LOG.warning("amazon spec (SDK): %d requests, %d responses", judged.requests, judged.responses)
    assert judged.problems == []


def paging(token: str | None) -> dict[str, str]:
    """The SDK sends any keyword it is given (``next_token=None`` goes out as "None")."""
    return {"next_token": token} if token else {}


def finance_event_bodies(world: World, now: datetime) -> list[Any]:
    from podium.sandbox.amazon.render import finance_events

    end = now - timedelta(minutes=2)
    return [e for e in finance_events(BRAND, BRAND.config.start_at, end) if e.posted < end]
