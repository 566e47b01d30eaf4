"""Shopify connector benchmark: a full sync of every stream from the simulator into DuckDB.

The simulator runs at its DEFAULT limits, Shopify's Standard plan (a 1000-point bucket
restoring 100 points/s; bulk jobs finish after 3 polls), over a real socket on 127.0.0.1.
The source runs at its defaults (bulk on) except that it polls a bulk job every 0.2 s
(the simulator's jobs take three polls, not minutes). Every stream is loaded with
``LoadJob``/``load_stream`` into a fresh DuckDB file; the row counts are checked against
``shopify_truth``. Four streams go through Bulk Operations; refunds are paged (Shopify
refuses their bulk query: refund line items are a connection inside a list), and so is
inventory_levels.

``max_records_per_s``: the fewest seconds the limits allow for this sync, i.e. the
points the simulator charged beyond the full bucket, at the restore rate,
``max(0, spent − 1000) ÷ 100``, plus the polls every bulk job needs before it completes
(``(3 − 1) × 0.2 s`` each), and ``records ÷ those seconds``; ``share`` = records_per_s ÷
max_records_per_s: how close the connector comes to spending nothing but the unavoidable
waits (the rest is downloading, rebuilding the JSONL and staging into DuckDB). Records
are the rows of every stream's main table.

    .venv/bin/python bench/connector_shopify.py
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.sources.shopify import open_shopify_source
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.server import SandboxServer
from podium.sandbox.shopify import (
    DEMO_CREDENTIALS,
    ShopifySimulator,
    demo_connection,
    shopify_truth,
)

CONFIG = BrandConfig(days=60, dtc_orders_per_day=300, customers=5000)
POLL = 0.2


def measure() -> dict[str, Any]:
    brand = Brand(CONFIG)
    now = CONFIG.start_at + timedelta(days=CONFIG.days)
    sim = ShopifySimulator(brand, SimClock(now))
    truth = shopify_truth(brand, now)
    with SandboxServer({"shopify": sim}) as server, tempfile.TemporaryDirectory() as work:
        settings = demo_connection(server.url_for("shopify"))
        del settings["type"]
        settings["bulk_poll_interval"] = POLL
        source = open_shopify_source(
            "bench_shopify", settings, secrets=[DEMO_CREDENTIALS["access_token"]]
        )
        destination = DuckDBDestination(Path(work) / "wh.duckdb")
        started, records, per_stream = time.monotonic(), 0, {}
        for stream in source.streams():
            job = LoadJob(source, stream, destination, "shop", "raw_shopify", Path(work))
            result = load_stream(job)
            if result.loaded != truth[stream.name]:
                raise AssertionError(f"{stream.name}: {result.loaded} != {truth[stream.name]}")
            records += result.loaded
            per_stream[stream.name] = result.loaded
        seconds = time.monotonic() - started
        source.close()
        destination.close()
        violations = server.violations("shopify")
    jobs = 5
    floor = max(0.0, sim.spent - sim.bucket_size) / sim.restore_rate + jobs * (3 - 1) * POLL
    best = records / floor
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds, 1),
        "max_records_per_s": round(best, 1),
        "share": round(records / seconds / best, 3),
        "points_spent": sim.spent,
        "violations": violations,
        "streams": per_stream,
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
