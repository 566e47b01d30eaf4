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
* bulk streams: no limit binds (a bulk job costs 10 points to start and 1 a poll).
  Shopify's own time is the job, from its creation to its completion: the simulator
  writes a job's file while the job runs (``sandbox/shopify/bulk.py``) and records the
  job's span (``BulkJob.created``/``finished``, by ``time.monotonic``, read here by a
  probe after each stream): finished is when the file was written or the job's last
  poll came (three polls, two intervals of 0.2 s), whichever was later. The rest of a
  stream's seconds is podium's: asking for the job, noticing it done (at most one poll
  interval), the download, rebuilding the JSONL's nested rows and staging into DuckDB.
  ``bulk records/s`` = their records ÷ Σ (seconds − job span), target ≥ 50,000/s;
  ``bulk_own_records_per_s`` also leaves out the seconds spent waiting on the simulator
  outside the job's span (``simprocess.ApiWait.within``: the requests to start the job,
  the last poll, the download) and the wait from the job's end to the poll that sees it
  (``notice_seconds``, podium asleep between polls). Against a simulator that does not
  record the span (an older podium, ``PYTHONPATH=…``), the span is assumed to be the two
  poll intervals and all the waiting is left out, as before (``span: "assumed"``).

The simulator's GraphQL schema is built before the fork (``admin_schema``): built on the
first request instead (≈ 0.5 s), it landed in the first stream's seconds as waiting on
the API, a cost of the simulator's start that Shopify does not have.

Records are the rows of every stream's main table. Each stream also shows
``cpu_seconds`` (this process, every thread: podium's work, polls included) and
``gc_seconds`` (its garbage collector), steadier than seconds on a shared machine.

    .venv/bin/python bench/connector_shopify.py [--bulk-only]

``--bulk-only`` skips the points-bound streams (refunds: ~2 minutes), for iterating on
the bulk figure.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
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
from podium.sandbox.shopify.executor import admin_schema

CONFIG = BrandConfig(days=60, dtc_orders_per_day=300, customers=5000)
POLL = 0.2


PAGED = ("refunds",)  # the streams whose reads spend cost points


def job_span(sim: ShopifySimulator) -> tuple[float, float] | None:
    """The current query job's (created, finished), if the simulator records them."""
    job = sim.bulk.current
    finished = getattr(job, "finished", None)
    return None if finished is None else (job.created, finished)  # type: ignore[union-attr]


def measure(bulk_only: bool = False) -> dict[str, Any]:
    brand = Brand(CONFIG)
    now = CONFIG.start_at + timedelta(days=CONFIG.days)
    sim = ShopifySimulator(brand, SimClock(now))
    truth = shopify_truth(brand, now)
    admin_schema()  # the simulator's start-up, not a request's (module docstring)
    probes = {
        "spent": lambda _: sim.spent,
        "violations": lambda s: s.violations("shopify"),
        "job": lambda _: job_span(sim),
    }
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
        collector = Collector()
        gc.callbacks.append(collector)
        started = time.perf_counter()
        for stream in source.streams():
            if bulk_only and stream.name in PAGED:
                continue
            before, began, collected = server.probe("spent"), time.monotonic(), collector.seconds
            cpu = _cpu()
            job = LoadJob(source, stream, destination, "shop", "raw_shopify", Path(work))
            result = load_stream(job)
            ended = time.monotonic()
            if result.loaded != truth[stream.name]:
                raise AssertionError(f"{stream.name}: {result.loaded} != {truth[stream.name]}")
            per_stream[stream.name] = {
                "records": result.loaded,
                "seconds": round(ended - began, 2),
                "points": server.probe("spent") - before,
                "api_seconds": round(wait.within(began, ended), 2),
                "cpu_seconds": round(_cpu() - cpu, 3),
                "gc_seconds": round(collector.seconds - collected, 3),
                **_podiums(server.probe("job"), wait, began, ended),
            }
        seconds = time.perf_counter() - started
        gc.callbacks.remove(collector)
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
    bulk_seconds = sum(b["podium_seconds"] for b in bulk)
    bulk_own = sum(b["own_seconds"] for b in bulk)
    records = paged_records + bulk_records
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds, 1),
        "paged_records": paged_records,
        "paged_seconds": round(paged_seconds, 2),
        "min_seconds": round(floor, 1),
        "max_records_per_s": round(paged_records / floor, 1) if floor else float("inf"),
        "share": round(floor / paged_seconds, 3) if paged_seconds else None,
        "span": "assumed" if any(b["span"] == "assumed" for b in bulk) else "measured",
        "bulk_records": bulk_records,
        "bulk_seconds": round(bulk_seconds, 2),
        "bulk_records_per_s": round(bulk_records / bulk_seconds),
        "bulk_own_seconds": round(bulk_own, 2),
        "bulk_own_records_per_s": round(bulk_records / bulk_own),
        "points_spent": spent,
        "violations": violations,
        "streams": per_stream,
    }


def _cpu() -> float:
    """CPU seconds of this process (podium's: every thread; not the simulator's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Collector:
    """Seconds this process spent in the garbage collector (a ``gc.callbacks`` entry)."""

    def __init__(self) -> None:
        self.seconds, self._at = 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._at = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._at


def _podiums(
    span: tuple[float, float] | None, wait: ApiWait, began: float, ended: float
) -> dict[str, Any]:
    """A stream's seconds outside its bulk job's span, and of those, the ones not spent
    waiting on the simulator (module docstring)."""
    seconds, waited = ended - began, wait.within(began, ended)
    if span is None or not began <= span[0] <= span[1] <= ended:  # no span, or not this stream's
        job = (3 - 1) * POLL
        return {
            "job_seconds": job,
            "span": "assumed",
            "podium_seconds": round(seconds - job, 3),
            "own_seconds": round(seconds - job - waited, 3),
        }
    created, finished = span
    outside = waited - wait.within(created, finished)
    noticed = wait.next_start(finished)
    notice = 0.0 if noticed is None else max(0.0, min(noticed, ended) - finished)
    return {
        "job_seconds": round(finished - created, 3),
        "span": "measured",
        "notice_seconds": round(notice, 3),
        "podium_seconds": round(seconds - (finished - created), 3),
        "own_seconds": round(seconds - (finished - created) - outside - notice, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(bulk_only="--bulk-only" in sys.argv[1:]), indent=2))
