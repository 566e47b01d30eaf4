"""Shopify connector benchmark: a full sync of every stream from the simulator into DuckDB.

The simulator runs at its DEFAULT limits, Shopify's Standard plan (a 1000-point bucket
restoring 100 points/s; bulk jobs finish after 3 polls), over a real socket on 127.0.0.1,
in a child process (``simprocess``: a real API runs elsewhere, not under podium's GIL).
The source runs at its defaults (bulk on) except that it polls a bulk job every 0.2 s
(the simulator's jobs take three polls, not minutes). Every stream is loaded with
``LoadJob``/``load_stream`` into a fresh DuckDB file; the row counts are checked against
``shopify_truth``. Every stream goes through a Bulk Operation (a first read); refunds'
line items then come by refund id, in cost-charged queries (Shopify refuses them in bulk:
a connection inside a list).

Two figures, as the limits bind one part and not the other:

* points-bound streams (refunds: its line items by refund id): cost points bind. Each
  point a query is charged (its ``actualQueryCost``) must come back at the restore rate,
  except those of the full bucket a stream may start with, so such a stream needs at least
  ``max(0, points − 1000) ÷ 100`` seconds (bulk streams in between spend almost nothing,
  so the bucket is full again when the next paged stream starts). ``min_seconds`` sums
  that over the paged streams; ``share`` = min_seconds ÷ their seconds, the 90 % target.
  It is the floor of podium's query plan (its page sizes and fields, chosen to stay under
  Shopify's 1000-point maximum per query, ``cost.py``), not of every plan imaginable.
* bulk streams: no limit binds (a bulk job costs 10 points to start and 1 a poll);
  Shopify's own time is the job (two poll intervals here), and the rest, download,
  rebuilding the JSONL's nested rows and staging into DuckDB, is podium's. ``bulk
  records/s`` = their records ÷ (their seconds − 2 × 0.2 s a job), target ≥ 50,000/s;
  ``bulk_own_records_per_s`` also leaves out the seconds spent waiting on the simulator
  (``simprocess.ApiWait``: it renders a job's whole file when the job completes).

Records are the rows of every stream's main table.

    .venv/bin/python bench/connector_shopify.py
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from simprocess import ApiWait, ChildServer

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.sources.shopify import open_shopify_source
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.shopify import (
    DEMO_CREDENTIALS,
    ShopifySimulator,
    demo_connection,
    shopify_truth,
)

CONFIG = BrandConfig(days=60, dtc_orders_per_day=300, customers=5000)
POLL = 0.2


PAGED = ("refunds",)  # the streams whose reads spend cost points


def measure() -> dict[str, Any]:
    brand = Brand(CONFIG)
    now = CONFIG.start_at + timedelta(days=CONFIG.days)
    sim = ShopifySimulator(brand, SimClock(now))
    truth = shopify_truth(brand, now)
    probes = {"spent": lambda _: sim.spent, "violations": lambda s: s.violations("shopify")}
    with (
        ChildServer({"shopify": sim}, probes) as server,
        tempfile.TemporaryDirectory() as work,
        ApiWait() as wait,
    ):
        settings = demo_connection(server.url_for("shopify"))
        del settings["type"]
        settings["bulk_poll_interval"] = POLL
        source = open_shopify_source(
            "bench_shopify", settings, secrets=[DEMO_CREDENTIALS["access_token"]]
        )
        destination = DuckDBDestination(Path(work) / "wh.duckdb")
        per_stream: dict[str, dict[str, Any]] = {}
        started = time.perf_counter()
        for stream in source.streams():
            before, began, waited = server.probe("spent"), time.perf_counter(), wait.seconds
            job = LoadJob(source, stream, destination, "shop", "raw_shopify", Path(work))
            result = load_stream(job)
            if result.loaded != truth[stream.name]:
                raise AssertionError(f"{stream.name}: {result.loaded} != {truth[stream.name]}")
            per_stream[stream.name] = {
                "records": result.loaded,
                "seconds": round(time.perf_counter() - began, 2),
                "points": server.probe("spent") - before,
                "api_seconds": round(wait.seconds - waited, 2),
            }
        seconds = time.perf_counter() - started
        source.close()
        destination.close()
        violations = server.probe("violations")
        spent = server.probe("spent")
    paged = [per_stream[n] for n in PAGED if n in per_stream]
    bulk = [v for n, v in per_stream.items() if n not in PAGED]
    floor = sum(max(0.0, p["points"] - sim.bucket_size) / sim.restore_rate for p in paged)
    paged_seconds = sum(p["seconds"] for p in paged)
    paged_records = sum(p["records"] for p in paged)
    bulk_records = sum(b["records"] for b in bulk)
    bulk_seconds = sum(b["seconds"] for b in bulk) - len(bulk) * (sim.bulk.polls - 1) * POLL
    bulk_own = bulk_seconds - sum(b["api_seconds"] for b in bulk)
    records = paged_records + bulk_records
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds, 1),
        "paged_records": paged_records,
        "paged_seconds": round(paged_seconds, 2),
        "min_seconds": round(floor, 1),
        "max_records_per_s": round(paged_records / floor, 1) if floor else float("inf"),
        "share": round(floor / paged_seconds, 3),
        "bulk_records": bulk_records,
        "bulk_seconds": round(bulk_seconds, 2),
        "bulk_records_per_s": round(bulk_records / bulk_seconds),
        "bulk_own_seconds": round(bulk_own, 2),
        "bulk_own_records_per_s": round(bulk_records / bulk_own),
        "points_spent": spent,
        "violations": violations,
        "streams": per_stream,
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
