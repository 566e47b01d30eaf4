"""The Shopify simulator's bulk projection gives what graphql-core's execution gives;
a bulk query job completes once its file is written (bulk.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import orjson
import pytest
from graphql import execute

from podium.connectors.sources.shopify.streams import bulk_query, stream_specs
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.shopify.bulk import BulkJobs
from podium.sandbox.shopify.executor import Context, admin_schema, bulk_roots, prepared, project
from podium.sandbox.shopify.render import Snapshot

BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=6, customers=40, dtc_orders_per_day=12))
SNAPSHOT = Snapshot(BRAND, BRAND.config.start_at + timedelta(days=5))
LISTS = {
    "orders": SNAPSHOT.orders,
    "customers": SNAPSHOT.customers,
    "products": SNAPSHOT.products,
    "inventoryItems": SNAPSHOT.inventory_items,
}
STREAMS = [n for n in stream_specs(600) if n != "refunds"]  # Shopify refuses refunds in bulk


@pytest.mark.parametrize("name", STREAMS)
def test_the_bulk_projection_equals_graphql_execution(name: str) -> None:
    spec = stream_specs(600)[name]
    document, errors = prepared(bulk_query(spec, None))
    assert document is not None and not errors
    nodes = [e.node for e in LISTS[spec.root]]

    def root(field: str, args: dict[str, Any]) -> Any:
        return {"nodes": nodes, "_cursors": []}

    result = execute(admin_schema(), document, context_value=Context(root, bulk=True))
    assert not isinstance(result, type(None)) and not result.errors  # type: ignore[union-attr]
    executed = [e["node"] for e in result.data[spec.root]["edges"]]  # type: ignore[union-attr,index]
    assert (bulk_roots(document)[0].name.value, len(executed)) == (spec.root, len(nodes))
    assert project(admin_schema(), document, nodes) == executed


# -- a query job writes its file while it runs ---------------------------------------------
QUERY = "{ orders { edges { node { id name } } } }"
ORDER = {"id": "gid://shopify/Order/1", "name": "#1001"}


def poll(jobs: BulkJobs, now: str = "2026-09-01T00:00:01Z") -> dict[str, Any]:
    polled = jobs.poll("http://x", now)
    assert polled is not None
    return polled


class Ticks:
    """A clock the test moves (``BulkJobs.clock``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_query_job_completes_once_its_file_is_written_however_many_polls() -> None:
    gate, ticks = threading.Event(), Ticks()
    jobs = BulkJobs(polls=2, clock=ticks)

    def nodes() -> list[dict[str, Any]]:
        assert gate.wait(10)
        return [dict(ORDER, lineItems={"nodes": [{"id": "gid://shopify/LineItem/7"}]})]

    jobs.start(QUERY, nodes, "2026-09-01T00:00:00Z")
    ticks.now = 1.0
    polled = [poll(jobs) for _ in range(4)]
    assert [p["status"] for p in polled] == ["RUNNING"] * 4  # 2 polls, but no file yet
    assert polled[-1]["url"] is None
    ticks.now = 5.0
    gate.set()
    job = jobs.current
    assert job is not None and job.render is not None and job.render.done.wait(10)
    ticks.now = 6.0
    done = poll(jobs, "2026-09-01T00:00:06Z")
    assert (done["status"], done["objectCount"]) == ("COMPLETED", "2")
    assert (job.created, job.finished) == (0.0, 5.0)  # written at 5, seen at 6
    token = str(done["url"]).rsplit("/", 1)[-1].removesuffix(".jsonl")
    lines = [orjson.loads(line) for line in jobs.download(token).body.splitlines()]
    assert lines == [ORDER, {"id": "gid://shopify/LineItem/7", "__parentId": ORDER["id"]}]


def test_a_job_written_early_completes_at_its_last_poll_and_a_failed_render_fails() -> None:
    ticks = Ticks()
    jobs = BulkJobs(polls=3, clock=ticks)
    jobs.start(QUERY, lambda: [ORDER], "2026-09-01T00:00:00Z")
    job = jobs.current
    assert job is not None and job.render is not None and job.render.done.wait(10)
    statuses = []
    for tick in (1.0, 2.0, 3.0):
        ticks.now = tick
        statuses.append(poll(jobs)["status"])
    assert statuses == ["RUNNING", "RUNNING", "COMPLETED"] and job.finished == 3.0

    def broken() -> list[dict[str, Any]]:
        raise KeyError("lineItems")

    jobs.start(QUERY, broken, "2026-09-01T00:00:04Z")
    failing = jobs.current
    assert failing is not None and failing.render is not None and failing.render.done.wait(10)
    polled = [poll(jobs) for _ in range(3)]
    assert [(p["status"], p["errorCode"], p["url"]) for p in polled[-1:]] == [
        ("FAILED", "INTERNAL_SERVER_ERROR", None)
    ]
