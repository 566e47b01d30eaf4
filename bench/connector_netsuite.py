"""NetSuite connector benchmark: a full sync of every stream from the simulator into DuckDB.

The simulator runs at its DEFAULT limits (15 requests in flight, the 100,000-row SuiteQL
ceiling, no added latency) on a brand with many wholesale orders, over a real socket on
127.0.0.1; the source runs at its defaults (1000 rows a page, 4 requests in flight, pages
read one after another within a stream). Every stream is loaded into a fresh DuckDB file
with ``LoadJob``/``load_stream`` and its row count checked against ``netsuite_truth``.

``max_records_per_s``: NetSuite limits concurrency, not rate, so the ceiling is
``concurrency_limit (15) × 1000 rows a page ÷ seconds a page takes``, the seconds a page
takes measured here (the mean over the sync's SuiteQL requests, as the client saw them);
``share`` = records_per_s ÷ that. One sequential read uses one of the 15 slots, so a
share near 1/15 means the source is as fast as paging allows.

    .venv/bin/python bench/connector_netsuite.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.sources.netsuite import open_netsuite_source
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.netsuite import NetSuiteSimulator, demo_connection, netsuite_truth
from podium.sandbox.server import SandboxServer

CONFIG = BrandConfig(
    days=120, wholesale_orders_per_day=180, dtc_orders_per_day=1, marketplace_orders_per_day=1,
    customers=50,
)  # fmt: skip


class _Timed(httpx.HTTPTransport):
    """The real transport, timing each request as the client sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        self.seconds.append(time.perf_counter() - started)
        return response


def measure() -> dict[str, Any]:
    brand = Brand(CONFIG)
    clock = SimClock(CONFIG.end_at)
    sim = NetSuiteSimulator(brand, clock)
    sim.tables()  # build the tables before the clock starts, as a real account has them
    expected = netsuite_truth(brand, clock.now())
    transport = _Timed()
    with SandboxServer({"netsuite": sim}) as server, tempfile.TemporaryDirectory() as tmp:
        settings = demo_connection(server.url_for("netsuite"))
        del settings["type"]
        source = open_netsuite_source("bench_netsuite", settings, transport=transport)
        destination = DuckDBDestination(Path(tmp) / "wh.duckdb")
        started, received = time.perf_counter(), {}
        for stream in source.streams():
            job = LoadJob(source, stream, destination, "erp", "raw_erp", Path(tmp) / "loads")
            received[stream.name] = load_stream(job).received
        seconds = time.perf_counter() - started
        source.close()
        assert server.violations("netsuite") == 0
    assert received["transactions"] == expected["transactions"], received
    assert received["transaction_lines"] >= expected["lines"]["rows"], received
    records = sum(received.values())
    page_seconds = sum(transport.seconds) / len(transport.seconds)
    max_rate = sim.concurrency_limit * 1000 / page_seconds
    rate = records / seconds
    return {
        "records": records,
        "streams": received,
        "requests": len(transport.seconds),
        "seconds": round(seconds, 2),
        "records_per_s": round(rate),
        "seconds_per_page": round(page_seconds, 4),
        "max_records_per_s": round(max_rate),
        "share": round(rate / max_rate, 4),
    }


if __name__ == "__main__":
    print(measure())
