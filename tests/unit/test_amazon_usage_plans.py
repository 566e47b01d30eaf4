"""The judge of tests/amazon_spec.py can fail, and the rate limits match the models.

Each SP-API operation's description in the vendored models carries its usage plan
("| Rate (requests per second) | Burst |"); the simulator's buckets and the connector's
pacing must use those numbers for every operation they know.
"""

from __future__ import annotations

import orjson
import pytest
from tests.amazon_spec import SpecCheck, usage_plans

from podium.connectors.sources.amazon.api import LIMITS
from podium.sandbox.amazon import RATE_LIMITS
from podium.sandbox.amazon.access import OperationLimits


def test_the_models_publish_a_usage_plan_for_every_operation_podium_uses() -> None:
    plans = usage_plans()
    assert plans["getOrders"] == (0.0167, 20)
    assert plans["listFinancialEvents"] == (0.5, 30)
    assert set(LIMITS) <= set(plans) and set(RATE_LIMITS) <= set(plans)


@pytest.mark.parametrize("table", [LIMITS, RATE_LIMITS], ids=["connector", "simulator"])
def test_rates_and_bursts_are_the_published_ones(table: dict[str, tuple[float, float]]) -> None:
    plans = usage_plans()
    assert {op: plans[op] for op in table} == table


def test_the_simulator_announces_the_published_rate() -> None:
    limits, plans = OperationLimits(), usage_plans()
    for op in RATE_LIMITS:
        assert float(limits.header(op)["x-amzn-RateLimit-Limit"]) == plans[op][0]


def test_the_judge_catches_requests_the_models_refuse() -> None:
    check = SpecCheck()
    found = check.operation("GET", "/orders/v0/orders")
    assert found is not None
    op, args = found
    good = {"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-09-01T00:00:00Z"}
    assert check.request_problems(op, args, good, b"") == []
    assert check.request_problems(op, args, {**good, "MaxResultsPerPage": "101"}, b"")
    assert check.request_problems(op, args, {**good, "PageSize": "10"}, b"")
    assert check.request_problems(op, args, {"LastUpdatedAfter": "2026-09-01T00:00:00Z"}, b"")
    too_many = ",".join(["ATVPDKIKX0DER"] * 51)  # maxItems 50
    assert check.request_problems(op, args, {**good, "MarketplaceIds": too_many}, b"")
    found = check.operation("GET", "/finances/v0/financialEvents")
    assert found is not None
    finance, args = found
    assert check.request_problems(finance, args, {"PostedAfter": "yesterday"}, b"")
    assert check.request_problems(finance, args, {"MaxResultsPerPage": "0"}, b"")
    found = check.operation("POST", "/reports/2021-06-30/reports")
    assert found is not None
    create, args = found
    assert check.request_problems(create, args, {}, orjson.dumps({"reportType": "X"}))


def test_the_judge_catches_answers_the_models_refuse() -> None:
    check = SpecCheck()
    found = check.operation("GET", "/orders/v0/orders/113-0000000-0000000/orderItems")
    assert found is not None
    op, args = found
    assert args == {"orderId": "113-0000000-0000000"}
    item = {"ASIN": "B0", "OrderItemId": "1", "QuantityOrdered": 1}
    good = {"payload": {"AmazonOrderId": "113-0000000-0000000", "OrderItems": [item]}}
    assert check.response_problems(op, 200, orjson.dumps(good)) == []
    bad = {"payload": {"AmazonOrderId": "x", "OrderItems": [{**item, "QuantityOrdered": "1"}]}}
    assert check.response_problems(op, 200, orjson.dumps(bad))
    missing = {"payload": {"AmazonOrderId": "x", "OrderItems": [{"ASIN": "B0"}]}}
    assert check.response_problems(op, 200, orjson.dumps(missing))
    assert check.response_problems(op, 418, b"{}")  # a status the model does not list
    assert check.response_problems(op, 200, orjson.dumps(good), {"x-amzn-RequestId": "1"})
    headers = {"x-amzn-RequestId": "1", "x-amzn-RateLimit-Limit": "0.5"}
    assert check.response_problems(op, 200, orjson.dumps(good), headers) == []
