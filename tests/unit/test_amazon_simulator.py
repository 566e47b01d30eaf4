"""The SP-API simulator's strictness, without sockets: auth, dates, tokens, reports."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from podium.sandbox.amazon import (
    DEMO_CREDENTIALS,
    SETTLEMENT_REPORT_TYPE,
    AmazonSimulator,
    amazon_truth,
)
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.paging import Request

BRAND = Brand(
    BrandConfig(start=date(2026, 9, 1), days=6, dtc_orders_per_day=1, marketplace_orders_per_day=20)
)
BASE = "http://sim/amazon"


@pytest.fixture
def sim() -> AmazonSimulator:
    clock = SimClock(BRAND.config.start_at + timedelta(days=5))
    fast = {"getOrders": (100.0, 20), "getReport": (100.0, 15), "createReport": (100.0, 15)}
    return AmazonSimulator(BRAND, clock, rate_limits=fast, report_polls=3)


def token(sim: AmazonSimulator) -> str:
    body = urlencode({"grant_type": "refresh_token", **DEMO_CREDENTIALS}).encode()
    answer = sim.answer(Request("POST", "/auth/o2/token", {}, {}, BASE, body))
    assert answer.status == 200
    return str(orjson.loads(answer.body)["access_token"])


def call(
    sim: AmazonSimulator,
    path: str,
    token_: str | None,
    method: str = "GET",
    body: Any = None,
    **params: str,
) -> tuple[int, Any]:
    headers = {"x-amz-access-token": token_} if token_ else {}
    raw = orjson.dumps(body) if body is not None else b""
    answer = sim.answer(Request(method, path, params, headers, BASE, raw))
    try:
        return answer.status, orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return answer.status, answer.body


def orders(sim: AmazonSimulator, tok: str, **params: str) -> tuple[int, Any]:
    return call(sim, "/orders/v0/orders", tok, MarketplaceIds="ATVPDKIKX0DER", **params)


def test_no_token_or_a_wrong_one_is_403_unauthorized(sim: AmazonSimulator) -> None:
    for tok in (None, "Atza|forged"):
        status, body = orders(sim, tok or "", LastUpdatedAfter="2026-09-01T00:00:00Z")
        assert status == 403 and body["errors"][0]["code"] == "Unauthorized"


def test_tokens_expire_with_the_simulated_clock(sim: AmazonSimulator) -> None:
    tok = token(sim)
    assert orders(sim, tok, LastUpdatedAfter="2026-09-01T00:00:00Z")[0] == 200
    sim.clock.advance(timedelta(hours=1))
    status, body = orders(sim, tok, LastUpdatedAfter="2026-09-01T00:00:00Z")
    assert status == 403 and "expired" in body["errors"][0]["details"]


def test_lwa_refuses_a_revoked_token_and_bad_clients(sim: AmazonSimulator) -> None:
    sim.revoke_token()
    body = urlencode({"grant_type": "refresh_token", **DEMO_CREDENTIALS}).encode()
    answer = sim.answer(Request("POST", "/auth/o2/token", {}, {}, BASE, body))
    assert (answer.status, orjson.loads(answer.body)["error"]) == (400, "invalid_grant")
    wrong = urlencode({"grant_type": "refresh_token", **DEMO_CREDENTIALS, "client_secret": "x"})
    answer = sim.answer(Request("POST", "/auth/o2/token", {}, {}, BASE, wrong.encode()))
    assert (answer.status, orjson.loads(answer.body)["error"]) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {
                "LastUpdatedAfter": "2026-09-01T00:00:00Z",
                "LastUpdatedBefore": "2026-09-05T23:59:00Z",
            },
            "at least 2 minutes",
        ),
        ({"LastUpdatedAfter": "2026-09-01T09:00:00+09:00"}, "UTC"),
        ({}, "Exactly one of CreatedAfter and LastUpdatedAfter"),
        (
            {"LastUpdatedAfter": "2026-09-01T00:00:00Z", "MaxResultsPerPage": "101"},
            "between 1 and 100",
        ),
        (
            {"LastUpdatedAfter": "2026-09-01T00:00:00Z", "NextToken": "abc"},
            "Invalid NextToken",
        ),
    ],
)
def test_invalid_input_is_400(sim: AmazonSimulator, params: dict[str, str], message: str) -> None:
    status, body = orders(sim, token(sim), **params)
    assert status == 400 and body["errors"][0]["code"] == "InvalidInput"
    assert message in body["errors"][0]["message"]


def test_orders_page_by_next_token_and_match_the_truth(sim: AmazonSimulator) -> None:
    tok, seen, params = (
        token(sim),
        [],
        {"LastUpdatedAfter": "2026-09-01T00:00:00Z", "MaxResultsPerPage": "30"},
    )
    while True:
        status, body = orders(sim, tok, **params)
        assert status == 200
        seen.extend(body["payload"]["Orders"])
        if "NextToken" not in body["payload"]:
            break
        params = {**params, "NextToken": body["payload"]["NextToken"]}  # same filters
    expected = amazon_truth(BRAND, sim.clock.now())
    assert len(seen) == len({o["AmazonOrderId"] for o in seen}) == expected["orders"]
    priced = [o for o in seen if "OrderTotal" in o]
    assert all(isinstance(o["OrderTotal"]["Amount"], str) for o in priced)
    assert len(priced) == expected["orders"] - expected["pending_orders"]


def test_settlement_reports_are_listed_and_go_through_their_states() -> None:
    clock = SimClock(BRAND.config.start_at + timedelta(days=29))  # two periods closed
    fast = {"getReports": (100.0, 10), "getReport": (100.0, 15), "createReport": (100.0, 15)}
    sim = AmazonSimulator(BRAND, clock, rate_limits=fast, report_polls=3)
    tok, reports = token(sim), "/reports/2021-06-30/reports"
    status, body = call(sim, reports, tok, reportTypes=SETTLEMENT_REPORT_TYPE, pageSize="1")
    assert status == 200 and len(body["reports"]) == 1 and body["nextToken"]
    newest = body["reports"][0]
    assert newest["processingStatus"] == "IN_QUEUE" and "reportDocumentId" not in newest
    # the model: nextToken is "the only parameter"; with others the request fails
    status, _ = call(sim, reports, tok, nextToken=body["nextToken"], pageSize="1")
    assert status == 400
    status, rest = call(sim, reports, tok, nextToken=body["nextToken"])
    assert status == 200 and len(rest["reports"]) == 1 and "nextToken" not in rest
    assert rest["reports"][0]["createdTime"] < newest["createdTime"]  # newest first
    path = f"{reports}/{newest['reportId']}"
    states = [call(sim, path, tok)[1]["processingStatus"] for _ in range(3)]
    assert states == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    status, _ = call(sim, reports, tok)
    assert status == 400  # either reportTypes or nextToken is required


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "cannot be requested"),
        ("GET_DATE_RANGE_FINANCIAL_TRANSACTION_DATA", "is not allowed at this time"),
    ],
)
def test_create_report_refuses_what_amazon_refuses(
    sim: AmazonSimulator, kind: str, message: str
) -> None:
    body = {"reportType": kind, "marketplaceIds": ["ATVPDKIKX0DER"]}
    status, answer = call(sim, "/reports/2021-06-30/reports", token(sim), "POST", body)
    assert status == 400 and message in answer["errors"][0]["message"]


def test_every_answer_carries_the_rate_limit(sim: AmazonSimulator) -> None:
    answer = sim.answer(
        Request(
            "GET",
            "/orders/v0/orders/113-x/orderItems",
            {},
            {"x-amz-access-token": token(sim)},
            BASE,
        )
    )
    assert answer.status == 404 and answer.headers["x-amzn-RateLimit-Limit"] == "0.5"
