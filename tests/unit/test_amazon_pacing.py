"""Per-operation pacing: each SP-API operation spends its own shared budget."""

from __future__ import annotations

import itertools

from podium.connectors.ratelimit import AmazonRateLimit
from podium.connectors.sources.amazon.api import OperationLimiter

_names = itertools.count()


class Seen:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers = status, headers


def test_each_operation_has_its_own_bucket_shared_by_the_connection() -> None:
    name = f"pace{next(_names)}"
    limits, again = OperationLimiter(name), OperationLimiter(name)
    orders = limits.limiter("getOrders")
    assert again.limiter("getOrders") is orders  # a second task on the connection
    assert limits.limiter("getOrderItems") is not orders
    assert isinstance(orders, AmazonRateLimit)
    assert (orders.bucket.rate, orders.bucket.burst) == (0.0167, 20)


def test_the_current_operation_is_the_one_paced_and_taught() -> None:
    limits = OperationLimiter(f"pace{next(_names)}")
    items = limits.limiter("getOrderItems")
    assert isinstance(items, AmazonRateLimit)
    with limits.using("getOrderItems"):
        limits.acquire()
        limits.observe(Seen(200, {"x-amzn-RateLimit-Limit": "5"}))
    assert items.bucket.rate == 5.0
    limits.observe(Seen(200, {"x-amzn-RateLimit-Limit": "9"}))  # outside any operation
    assert items.bucket.rate == 5.0
    with limits.using("getOrderItems"):
        limits.observe(Seen(429, {}))  # QuotaExceeded: the bucket is emptied
    assert items.bucket._tokens <= 0
