"""Benchmark: a full klaviyo sync against the simulator at Klaviyo's DEFAULT rate limits.

Every stream (profiles, events, metrics, lists, campaigns, flows, both values reports) is
loaded into DuckDB through ``load_stream``, the source pacing itself with its token buckets
against the simulator's real burst (1 s) and steady (1 min) windows.

``max_records_per_s`` is what the limits allow a perfect client making the same calls
one stream after another: ``n`` calls to an endpoint with limits B/s and S/min take at
least ``60 × ((n − 1) // S) + ceil(rest / B)`` seconds (S calls a minute, sent B a second;
``rest`` = the calls of the last minute), summed over the streams; max = records / that.
``share`` = measured / max. For a long sync events dominate: XL allows 3500 calls a
minute × 200 records a page ≈ 11,700 records/s.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.sources.klaviyo import open_klaviyo_source
from podium.connectors.sources.klaviyo.endpoints import ENDPOINTS, Limit
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator, demo_connection
from podium.sandbox.server import SandboxServer

BRAND = BrandConfig(days=240, customers=1500, dtc_orders_per_day=60)


def measure(config: BrandConfig = BRAND) -> dict[str, Any]:
    """Run one full sync; records, seconds and how close it came to the limits."""
    brand = Brand(config)
    clock = SimClock(config.end_at)
    sim = KlaviyoSimulator(brand, clock)
    sim.model.events  # noqa: B018 (generate the account before the clock starts)
    with SandboxServer({"klaviyo": sim}) as server, tempfile.TemporaryDirectory() as tmp:
        settings = demo_connection(server.url_for("klaviyo"))
        del settings["type"]
        source = open_klaviyo_source("bench", settings, secrets=[DEMO_API_KEY])
        destination = DuckDBDestination(Path(tmp) / "wh.duckdb")
        records, minimum = 0, 0.0
        streams: dict[str, tuple[int, int, float]] = {}
        started = time.perf_counter()
        for stream in source.streams():
            before = server.requests("klaviyo")
            job = LoadJob(source, stream, destination, "bench", "raw_klaviyo", Path(tmp) / "l")
            result = load_stream(job)
            records += result.loaded
            calls = server.requests("klaviyo") - before
            minimum += fastest(calls, ENDPOINTS[stream.name].limit)
            streams[stream.name] = (result.loaded, calls, round(result.seconds, 2))
        seconds = time.perf_counter() - started
        source.close()
        violations = server.violations("klaviyo")
    best = records / minimum if minimum else 0.0
    per_s = records / seconds if seconds else 0.0
    return {
        "connector": "klaviyo",
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(per_s),
        "max_records_per_s": round(best),
        "share": round(per_s / best, 3) if best else None,
        "violations": violations,
        "streams (records, calls, seconds)": streams,
    }


def fastest(calls: int, limit: Limit) -> float:
    """The least time ``calls`` requests can take inside the fixed windows (see above)."""
    if calls <= 0:
        return 0.0
    minutes, rest = divmod(calls - 1, limit.steady)
    return 60.0 * minutes + math.ceil((rest + 1) / limit.burst)


if __name__ == "__main__":
    days = int(sys.argv[1]) if len(sys.argv) > 1 else BRAND.days
    print(measure(BrandConfig(days=days, customers=BRAND.customers,
                              dtc_orders_per_day=BRAND.dtc_orders_per_day)))  # fmt: skip
