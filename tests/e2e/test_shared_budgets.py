"""Two engines, one API budget per account: two ``podium run`` processes (each an engine,
as ``podium up`` runs one) on one PostgreSQL store load one Shopify shop and one Amazon
seller through the simulators at once.

Each engine has its own project folder (the same podium.yaml, each its own DuckDB
warehouse) and runs the workflow ``load``: ``shop`` (paged GraphQL: ``bulk: false``) and
``amazon`` (``order_items``: one ``getOrderItems`` call per order). Both hit the same
accounts, so their limiters must share each account's bucket through the store.

What the limits allow, from the simulators' configured rates:

    Shopify    bucket_size + restore_rate × T points, T from its first query to its last
               (the bucket starts full; restores are lost only while it sits full)
    Amazon     burst + rate × T calls of getOrderItems, T from its first call to its last

Utilisation is what the simulator served against that: Shopify's actual cost of every
query answered (``spent``), Amazon's getOrderItems calls answered. Both must be ≥ 80 %,
with no violation at either simulator.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dask_clusters import local_cluster
from podium.sandbox.amazon import RATE_LIMITS, AmazonSimulator
from podium.sandbox.amazon import demo_connection as amazon_connection
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request
from podium.sandbox.server import SandboxServer
from podium.sandbox.shopify import DEMO_TOKEN, ShopifySimulator
from podium.sandbox.shopify import demo_connection as shopify_connection
from podium.store.database import Database
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

from .conftest import PODIUM, Proc, podium_env

# timing-sensitive: make test runs it by itself, after the parallel pass (Makefile)
pytestmark = pytest.mark.alone

BRAND = Brand(
    BrandConfig(
        days=8,
        customers=200,
        dtc_orders_per_day=40,
        marketplace_orders_per_day=8,
        wholesale_orders_per_day=0.2,
    )
)
SHOP_BUCKET, SHOP_RESTORE = 1000.0, 1400.0  # points; points a second
ITEMS_RATE = 30.0  # getOrderItems calls a second (its published burst: 30)
WORKFLOW = """
name: load
tasks:
  - id: shop
    extract: shop
    streams: [orders, customers, products]
  - id: amazon
    extract: amazon
    streams: [order_items]
"""
#: on Dask, one task a stream: each engine's attempts spread over the cluster's processes
SPREAD_WORKFLOW = """
name: load
tasks:
  - {id: shop_orders, extract: shop, streams: [orders]}
  - {id: shop_customers, extract: shop, streams: [customers]}
  - {id: shop_products, extract: shop, streams: [products]}
  - {id: amazon, extract: amazon, streams: [order_items]}
"""


class TimedShopify(ShopifySimulator):
    """Notes when each query was answered and what it cost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: list[float] = []
        self._seen = threading.Lock()

    def answer(self, request: Request) -> Answer:
        answer = super().answer(request)
        if "graphql" in request.path:
            with self._seen:
                self.answered.append(time.monotonic())
        return answer


class TimedAmazon(AmazonSimulator):
    """Notes when each getOrderItems call was answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: list[float] = []
        self._seen = threading.Lock()

    def answer(self, request: Request) -> Answer:
        before = self.calls.get("getOrderItems", 0)
        answer = super().answer(request)
        with self._seen:
            if self.calls.get("getOrderItems", 0) > before:
                self.items.append(time.monotonic())
        return answer


@pytest.fixture
def store() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url, schema = postgres_url_with_schema("podium_budgets")
    yield url
    drop_schema(schema)


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """A Dask cluster of 4 worker processes both engines hand their attempts to."""
    with local_cluster(workers=4) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(params=["threads", "dask"])
def engine(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The engines' settings: 4 threads each, or the shared Dask cluster."""
    if request.param == "threads":
        return {"workers": 4}
    address = request.getfixturevalue("dask_address")
    return {"executor": {"type": "dask", "address": address}}


def podium_yaml(
    store: str, shop_url: str, amazon_url: str, engine: dict[str, Any] | None = None
) -> str:
    shop = {**shopify_connection(shop_url), "bulk": False, "concurrency": 2}
    amazon = {
        **amazon_connection(amazon_url),
        "start_date": BRAND.config.start_at.isoformat(),
        "report_poll_interval": 0,
        "concurrency": 2,
    }
    config = {
        "store": store,
        "engine": engine or {"workers": 4},
        "connections": {"shop": shop, "amazon": amazon},
    }
    return json.dumps(config)  # JSON is YAML


def test_two_engines_share_each_accounts_budget(
    tmp_path: Path, store: str, engine: dict[str, Any]
) -> None:
    """With threads, each engine's two extracts run in its own process; on Dask, the two
    engines' eight stream tasks run in the cluster's four worker processes, each of which
    spends the same budgets through the store."""
    clock = SimClock(BRAND.config.start_at + (BRAND.config.end_at - BRAND.config.start_at))
    shopify = TimedShopify(BRAND, clock, bucket_size=SHOP_BUCKET, restore_rate=SHOP_RESTORE)
    limits = {**RATE_LIMITS, "getOrderItems": (ITEMS_RATE, RATE_LIMITS["getOrderItems"][1])}
    fast = {op: (200.0, burst) for op, (_, burst) in RATE_LIMITS.items()}
    amazon = TimedAmazon(
        BRAND, clock, rate_limits={**fast, "getOrderItems": limits["getOrderItems"]}
    )
    with SandboxServer({"shopify": shopify, "amazon": amazon}) as server:
        config = podium_yaml(store, server.url_for("shopify"), server.url_for("amazon"), engine)
        roots = [tmp_path / f"engine{n}" for n in range(2)]
        for root in roots:
            (root / "workflows").mkdir(parents=True)
            (root / "podium.yaml").write_text(config)
            spread = "executor" in engine
            (root / "workflows" / "load.yaml").write_text(SPREAD_WORKFLOW if spread else WORKFLOW)
        env = podium_env()
        engines = [Proc([*PODIUM, "run", "load", "--json"], root, env) for root in roots]
        try:
            codes = [proc.wait(timeout=240) for proc in engines]
        finally:
            for proc in engines:
                proc.stop()
        for proc, code in zip(engines, codes, strict=True):
            assert code == 0, proc.describe()
            assert json.loads(proc.out)["status"] == "succeeded", proc.describe()

        span = shopify.answered[-1] - shopify.answered[0]
        allowed = SHOP_BUCKET + SHOP_RESTORE * span
        shop_use = shopify.spent / allowed
        rate, burst = limits["getOrderItems"]
        items_span = amazon.items[-1] - amazon.items[0]
        items_use = len(amazon.items) / (burst + rate * items_span)
        print(
            f"two engines ({engine}): shopify {shopify.spent} points in {span:.1f}s of {allowed:.0f} "
            f"allowed ({shop_use:.0%}), {len(shopify.answered)} queries, "
            f"{shopify.violations} violations; amazon getOrderItems {len(amazon.items)} calls "
            f"in {items_span:.1f}s of {burst + rate * items_span:.0f} allowed ({items_use:.0%}), "
            f"{amazon.violations} violations"
        )
        assert shopify.violations == 0 and amazon.violations == 0  # 85 at Shopify per process
        assert shop_use >= 0.8 and items_use >= 0.8
    db = Database(store)
    try:
        keys = {key for (key,) in db.read().fetchall("SELECT key FROM rate_budgets")}
    finally:
        db.close()
    assert any(k.startswith("shopify:") and k.endswith(":graphql") for k in keys), keys
    assert any(k.startswith("amazon:") and k.endswith(":getOrderItems") for k in keys), keys
    assert not any(DEMO_TOKEN in k or "refresh" in k for k in keys), keys
