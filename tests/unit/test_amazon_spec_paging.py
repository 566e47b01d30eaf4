"""The SP-API simulator pages and bounds dates as the published models say (issue 17, item 5).

ordersV0.json, getOrders: "`NextToken` doesn't affect any filters that you include in your
request; it only impacts the pagination". financesV0.json, listFinancialEvents NextToken:
"call the operation with this token and include the same arguments as the call that
produced the token"; PostedBefore: "posted before (but not on) this date" and "If
`PostedAfter` and `PostedBefore` are more than 180 days apart, the response is empty."
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from tests.unit.test_amazon_simulator import call, orders, token

from podium.sandbox.amazon import AmazonSimulator
from podium.sandbox.amazon.render import finance_events, iso
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock

BRAND = Brand(
    BrandConfig(start=date(2026, 9, 1), days=6, dtc_orders_per_day=1, marketplace_orders_per_day=20)
)
FINANCES = "/finances/v0/financialEvents"


@pytest.fixture
def sim() -> AmazonSimulator:
    clock = SimClock(BRAND.config.start_at + timedelta(days=5))
    fast = {"getOrders": (100.0, 20), "listFinancialEvents": (100.0, 30)}
    return AmazonSimulator(BRAND, clock, rate_limits=fast)


def events_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    lists = body["payload"]["FinancialEvents"]
    return [e for name in ("ShipmentEventList", "RefundEventList") for e in lists.get(name, [])]


def test_get_orders_takes_its_filters_with_the_next_token(sim: AmazonSimulator) -> None:
    tok = token(sim)
    filters = {"LastUpdatedAfter": "2026-09-01T00:00:00Z", "MaxResultsPerPage": "30"}
    status, first = orders(sim, tok, **filters)
    assert status == 200 and "NextToken" in first["payload"]
    status, second = orders(sim, tok, **filters, NextToken=first["payload"]["NextToken"])
    assert status == 200, second
    ids = [o["AmazonOrderId"] for o in first["payload"]["Orders"] + second["payload"]["Orders"]]
    assert len(ids) == len(set(ids)) == 60


def test_a_get_orders_token_does_not_replace_the_filters(sim: AmazonSimulator) -> None:
    """The token only pages; a request without CreatedAfter/LastUpdatedAfter breaks the
    rule "Either the CreatedAfter parameter or the LastUpdatedAfter parameter is
    required", token or not."""
    tok = token(sim)
    status, first = orders(sim, tok, LastUpdatedAfter="2026-09-01T00:00:00Z")
    status, body = orders(sim, tok, NextToken=first["payload"].get("NextToken", "x"))
    assert status == 400 and "LastUpdatedAfter" in body["errors"][0]["message"]


def test_finance_pages_take_the_same_arguments(sim: AmazonSimulator) -> None:
    tok = token(sim)
    args = {"PostedAfter": "2026-09-01T00:00:00Z", "MaxResultsPerPage": "10"}
    seen: list[dict[str, Any]] = []
    params = dict(args)
    while True:
        status, body = call(sim, FINANCES, tok, **params)
        assert status == 200, body
        seen.extend(events_of(body))
        if not body["payload"].get("NextToken"):
            break
        params = {**args, "NextToken": body["payload"]["NextToken"]}
    now = sim.clock.now()
    expected = [
        e
        for e in finance_events(BRAND, BRAND.config.start_at, now)
        if e.posted < now - timedelta(minutes=2)
    ]
    assert len(seen) == len(expected) > 10


def test_a_finance_token_with_other_arguments_is_refused(sim: AmazonSimulator) -> None:
    tok = token(sim)
    args = {"PostedAfter": "2026-09-01T00:00:00Z", "MaxResultsPerPage": "10"}
    status, body = call(sim, FINANCES, tok, **args)
    next_token = body["payload"]["NextToken"]
    status, body = call(sim, FINANCES, tok, NextToken=next_token, MaxResultsPerPage="10")
    assert status == 400 and "same arguments" in body["errors"][0]["message"]


def test_a_finance_range_over_180_days_answers_empty_not_400(sim: AmazonSimulator) -> None:
    tok = token(sim)
    before = sim.clock.now() - timedelta(hours=1)
    after = before - timedelta(days=180, seconds=1)
    status, body = call(sim, FINANCES, tok, PostedAfter=iso(after), PostedBefore=iso(before))
    assert status == 200, body
    assert events_of(body) == [] and not body["payload"].get("NextToken")
    # exactly 180 days is still answered
    status, body = call(
        sim, FINANCES, tok, PostedAfter=iso(before - timedelta(days=180)), PostedBefore=iso(before)
    )
    assert status == 200 and events_of(body)
    # the default PostedBefore (now − 2 min) counts too
    status, body = call(sim, FINANCES, tok, PostedAfter=iso(sim.clock.now() - timedelta(days=181)))
    assert status == 200 and events_of(body) == []


def test_posted_before_is_exclusive(sim: AmazonSimulator) -> None:
    tok = token(sim)
    event = finance_events(BRAND, BRAND.config.start_at, sim.clock.now())[3]
    on = {"PostedAfter": iso(event.posted - timedelta(hours=1)), "PostedBefore": iso(event.posted)}
    status, body = call(sim, FINANCES, tok, **on)
    assert status == 200 and all(e["PostedDate"] < iso(event.posted) for e in events_of(body))
    status, body = call(
        sim, FINANCES, tok, PostedAfter=iso(event.posted), PostedBefore=on["PostedBefore"]
    )
    assert status == 400  # PostedBefore must be later than PostedAfter
