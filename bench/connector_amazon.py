"""Amazon SP-API connector benchmark: a full sync of every stream from the simulator into DuckDB.

The simulator runs at its DEFAULT rate limits, Amazon's published ones (getOrders 0.0167
rps burst 20, getOrderItems 0.5/30, listFinancialEvents 0.5/30, getReports 0.0222/10,
getReport 2/15, getReportDocument 0.0167/15), over a real socket on 127.0.0.1. The source
runs at its defaults except that it polls the report every 0.2 s (the simulator finishes a
report after three polls, not after minutes). The clock stands 15 days after the brand's
start, so one settlement period has closed and its report is read. Every stream is loaded with
``LoadJob``/``load_stream`` into a fresh DuckDB file and its row count checked against
``amazon_truth``.

SP-API is slow by design: one getOrderItems call per order at 0.5 rps is the ceiling for
any connector, so the brand is small (about 40 marketplace orders) to keep the run near
20 s: the first 30 item calls spend the burst, the rest wait two seconds each.

``max_records_per_s``: each operation is a token bucket that starts full, so ``n`` calls
of it need at least ``max(0, n − burst) ÷ rate`` seconds (calls counted by the simulator).
Operations have separate buckets, so a client running them side by side needs only the
largest of those (``min_seconds``), one running them one after another (as the loader
runs streams) their sum (``min_seconds_sequential``); here getOrderItems alone waits
(45 calls, burst 30: 30 s), so both are the same. ``records ÷ min_seconds``; ``share`` =
records_per_s ÷ max_records_per_s, i.e. how close the connector comes to spending nothing
but the unavoidable waits (the other streams' own time counts against it). In steady
state that is getOrders 100 orders / 60 s, getOrderItems 0.5 orders/s (≈ 1 item/s) and
listFinancialEvents 0.5 × 100 events/s. The simulator runs in a child process
(``simprocess``), as a real API runs elsewhere.

    .venv/bin/python bench/connector_amazon.py
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from simprocess import ChildServer

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.sources.amazon import open_amazon_source
from podium.sandbox.amazon import (
    DEMO_CREDENTIALS,
    RATE_LIMITS,
    AmazonSimulator,
    amazon_truth,
    demo_connection,
    quiet_after,
)
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock

CONFIG = BrandConfig(
    days=4, marketplace_orders_per_day=10, dtc_orders_per_day=1, wholesale_orders_per_day=0.1,
    customers=50,
)  # fmt: skip


def min_seconds(calls: dict[str, int], side_by_side: bool = True) -> float:
    """The least time the default limits allow for these calls (see the module docstring)."""
    waits = [max(0, n - RATE_LIMITS[op][1]) / RATE_LIMITS[op][0] for op, n in calls.items()]
    return max(waits, default=0.0) if side_by_side else sum(waits)


def measure() -> dict[str, Any]:
    brand = Brand(CONFIG)
    clock = SimClock(quiet_after(brand, CONFIG.start_at + timedelta(days=15)))
    sim = AmazonSimulator(brand, clock)
    expected = amazon_truth(brand, clock.now())
    probes = {"calls": lambda _: dict(sim.calls), "violations": lambda s: s.violations("amazon")}
    with ChildServer({"amazon": sim}, probes) as server, tempfile.TemporaryDirectory() as tmp:
        settings = demo_connection(server.url_for("amazon"))
        del settings["type"]
        settings.update(start_date=CONFIG.start_at.isoformat(), report_poll_interval="200ms")
        source = open_amazon_source(
            "amazon_bench", settings, secrets=DEMO_CREDENTIALS.values(), now=clock.now
        )
        destination = DuckDBDestination(Path(tmp) / "wh.duckdb")
        per_stream: dict[str, int] = {}
        started = time.perf_counter()
        for stream in source.streams():
            job = LoadJob(source, stream, destination, "amazon_bench", "raw_amazon", Path(tmp))
            result = load_stream(job)
            if result.loaded != expected[stream.name]:
                raise AssertionError(f"{stream.name}: loaded {result.loaded}, expected {expected}")
            per_stream[stream.name] = result.loaded
        seconds = time.perf_counter() - started
        source.close()
        violations = server.probe("violations")
        calls = server.probe("calls")
    records = sum(per_stream.values())
    floor = min_seconds(calls)
    rate = records / seconds
    best = records / floor if floor > 0 else float("inf")
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(rate, 1),
        "max_records_per_s": round(best, 1),
        "share": round(rate / best, 3) if best != float("inf") else 1.0,
        "per_stream": per_stream,
        "calls": calls,
        "min_seconds": round(floor, 1),
        "min_seconds_sequential": round(min_seconds(calls, side_by_side=False), 1),
        "binds": True,
        "violations": violations,
    }


if __name__ == "__main__":
    print(measure())
