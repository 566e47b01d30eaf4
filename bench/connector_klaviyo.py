"""Benchmark: a full klaviyo sync against the simulator at Klaviyo's DEFAULT rate limits.

Every stream (profiles, events, metrics, lists, campaigns, flows, both values reports) is
loaded into DuckDB through ``extract_plan``, as a project's extract loads them (three
streams at a time: the source's ``parallel_streams``), the source pacing itself
(``pacing.py``) against the simulator's real burst (1 s) and steady (1 min) windows. The
simulator runs in a child process (``simprocess``), as a real API runs elsewhere, with
its events rendered before the clock starts (``render_ahead``).

``min_seconds``, what the limits allow: Klaviyo's windows are *fixed and aligned* (the
simulator counts per ``floor(now / 1 s)`` and ``floor(now / 60 s)``, per endpoint). Calls
that fall in k aligned windows of length W can span as little as just over (k − 2) × W:
the first and last window may be touched at their edges. So ``n`` calls to an endpoint
with limits B/s and S/min need at least ``max(0, ceil(n/B) − 2, 60 × (ceil(n/S) − 2))``
seconds, and no client, however lucky its start, beats that. (The old figure,
``60 × ((n − 1) // S) + ceil(rest / B)``, counted whole windows from the first call: a
client that started just before a boundary beat it, 105 %.) The largest over the
endpoints (each has its own windows, and the streams run at once; summed while they ran
one after another); ``max_records_per_s`` = records / that.

At this size (110 event pages of 1000 under revision 2026-07-15; 550 of 200 under
2025-10-15, which has no ``page[size]``) no window binds: they fit in two seconds and one
steady window, so the limits allow far
more than any client does, and the figure to hold is podium's own rate, ≥ 50,000
records/s. ``own_records_per_s`` leaves out the seconds spent waiting on the simulator
(``simprocess.ApiWait``), but not the source's pacing; the source now fetches the next
page while it flattens this one, so those waits overlap podium's work and the figure
overstates. ``records_per_cpu_s`` is records per CPU second of podium's process (every
thread; the simulator's are the child's), which another process on the cores does not
move. The limits bind only past 3,500 event calls (700,000 events): then at most
3,500 × 200 / 60 ≈ 11,700 events/s (58,300/s with 1000-record pages), where podium's
pacing uses each window whole, less a round trip (``pacing.WindowPacer``).
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from simprocess import ApiWait, ChildServer

from podium.connectors.extract import ExtractPlan, extract_plan
from podium.connectors.sources.klaviyo.endpoints import ENDPOINTS, Limit
from podium.sandbox.brand import Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator, demo_connection

BRAND = BrandConfig(days=240, customers=1500, dtc_orders_per_day=60)


def measure(config: BrandConfig = BRAND) -> dict[str, Any]:
    """Run one full sync; records, seconds and how close it came to the limits."""
    brand = Brand(config)
    clock = SimClock(config.end_at)
    sim = KlaviyoSimulator(brand, clock)
    sim.render_ahead()  # generate the account and render its events before the clock starts
    probes = {"requests": lambda s: s.requests("klaviyo"), "paths": _paths,
              "violations": lambda s: s.violations("klaviyo")}  # fmt: skip
    with (
        ChildServer({"klaviyo": sim}, probes) as server,
        tempfile.TemporaryDirectory() as tmp,
        ApiWait() as wait,
    ):
        settings = demo_connection(server.url_for("klaviyo"))
        plan = ExtractPlan(
            "bench",
            settings,
            {"type": "duckdb", "path": str(Path(tmp) / "wh.duckdb")},
            tmp,
            frozenset([DEMO_API_KEY]),
        )
        started, cpu = time.perf_counter(), time.process_time()
        results = extract_plan(plan)  # as a project's extract: streams in parallel
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        calls = Counter(server.probe("paths"))
        records = sum(r.loaded for r in results)
        # each endpoint has its own windows, and the streams run at once: the slowest
        minimum = max((fastest(n, LIMITS[path]) for path, n in calls.items()), default=0.0)
        streams = {
            r.stream: (r.loaded, calls[_endpoint(r.stream)], round(r.seconds, 2)) for r in results
        }
        violations = server.probe("violations")
    best = records / minimum if minimum else float("inf")
    per_s = records / seconds if seconds else 0.0
    return {
        "connector": "klaviyo",
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(per_s),
        "own_records_per_s": round(records / (seconds - wait.seconds)),
        "cpu_s": round(cpu, 2),
        "records_per_cpu_s": round(records / cpu),
        "min_seconds": round(minimum, 1),
        "max_records_per_s": round(best) if minimum else best,
        "share": round(per_s / best, 3) if minimum else None,
        "binds": minimum >= 0.5 * seconds,
        "violations": violations,
        "streams (records, calls, seconds)": streams,
    }


LIMITS = {e.path.strip("/").split("/")[-1]: e.limit for e in ENDPOINTS.values()}


def _endpoint(stream: str) -> str:
    return ENDPOINTS[stream].path.strip("/").split("/")[-1]


def _paths(server: Any) -> list[str]:
    """The endpoint (last path segment) of every request the simulator answered."""
    return [path.split("?")[0].strip("/").split("/")[-1] for _, path, _ in server.log("klaviyo")]


def fastest(calls: int, limit: Limit) -> float:
    """The least time ``calls`` requests can take inside aligned fixed windows (above)."""
    if calls <= 0:
        return 0.0
    burst = math.ceil(calls / limit.burst) - 2
    steady = 60.0 * (math.ceil(calls / limit.steady) - 2)
    return max(0.0, burst, steady)


if __name__ == "__main__":
    days = int(sys.argv[1]) if len(sys.argv) > 1 else BRAND.days
    print(measure(BrandConfig(days=days, customers=BRAND.customers,
                              dtc_orders_per_day=BRAND.dtc_orders_per_day)))  # fmt: skip
