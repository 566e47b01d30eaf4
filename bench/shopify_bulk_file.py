"""A Shopify bulk stream's file, fetched once, then read and loaded in-process and timed.

    .venv/bin/python bench/shopify_bulk_file.py orders [--runs 3]

The simulator (in a child process) renders the stream's bulk file once; then each run
rebuilds its rows from the saved file as ``ShopifySource`` does and loads them with
``load_stream`` into a fresh DuckDB file, with no simulator in the way. Printed per run:
CPU seconds of the read alone (rows of every root, on this thread), of the whole load (this
process, every thread), and the garbage collector's seconds during the load (``gc``
callbacks). To compare with main: ``PYTHONPATH=/work/main/src`` (main's ``assemble``).
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from connector_shopify import CONFIG, POLL
from simprocess import ChildServer

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.source import JsonPage, Stream, StreamState
from podium.connectors.sources.shopify import open_shopify_source
from podium.connectors.sources.shopify.streams import StreamSpec, bulk_query, stream_specs
from podium.sandbox.brand import Brand
from podium.sandbox.clock import SimClock
from podium.sandbox.shopify import DEMO_CREDENTIALS, ShopifySimulator, demo_connection


def fetch(stream: str, path: Path) -> None:
    now = CONFIG.start_at + timedelta(days=CONFIG.days)
    sim = ShopifySimulator(Brand(CONFIG), SimClock(now))
    with ChildServer({"shopify": sim}) as server:
        settings = demo_connection(server.url_for("shopify"))
        del settings["type"]
        settings["bulk_poll_interval"] = POLL
        source = open_shopify_source("bench", settings, secrets=[DEMO_CREDENTIALS["access_token"]])
        spec = stream_specs(0)[stream]
        job = source.bulk.wait(source.bulk.start(bulk_query(spec, None)))
        source.bulk.download(job, path)
        source.close()


def pages(spec: StreamSpec, path: Path, work: Path) -> Iterator[list[dict[str, Any]]]:
    """The rows ``ShopifySource._read_bulk`` makes of the file, a page at a time."""
    try:
        from podium.connectors.sources.shopify.jsonl import bulk_rows
    except ImportError:  # main before jsonl.py
        from podium.connectors.sources.shopify.bulk import assemble

        for nodes in assemble(path, work):
            yield [row for node in nodes for row in spec.rows(node)]
        return
    yield from bulk_rows(path, work, spec.rows)


class FileSource:
    def __init__(self, spec: StreamSpec, path: Path, work: Path) -> None:
        self.spec, self.path, self.work = spec, path, work

    def streams(self) -> tuple[Stream, ...]:
        return (self.spec.stream,)

    def read(
        self, stream: Stream, state: StreamState, *, full_refresh: bool = False
    ) -> Iterator[JsonPage]:
        for rows in pages(self.spec, self.path, self.work):
            yield JsonPage(rows, "bench file")

    def close(self) -> None:
        pass


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stream", choices=["orders", "transactions", "customers", "products"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = stream_specs(0)[args.stream]
    collecting = [0.0, 0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.jsonl"
        fetch(args.stream, path)
        for run in range(1, args.runs + 1):
            work, spill = Path(tmp) / f"run{run}", Path(tmp) / f"read{run}"
            work.mkdir()
            spill.mkdir()
            started = time.thread_time()
            records = sum(len(rows) for rows in pages(spec, path, spill))
            read = time.thread_time() - started
            collecting[0] = 0.0
            gc.callbacks.append(timed)
            cpu, wall = _cpu(), time.perf_counter()
            destination = DuckDBDestination(work / "wh.duckdb")
            job = LoadJob(FileSource(spec, path, work), spec.stream, destination, "b", "raw", work)
            loaded = load_stream(job).loaded
            destination.close()
            cpu, wall = _cpu() - cpu, time.perf_counter() - wall
            gc.callbacks.remove(timed)
            print(
                f"{args.stream} run {run}: {records:,} rows read in {read:.2f} CPU s; "
                f"{loaded:,} loaded in {cpu:.2f} CPU s ({wall:.2f} s wall) = "
                f"{loaded / cpu:,.0f}/CPU-s, gc {collecting[0]:.2f} s"
            )


if __name__ == "__main__":
    main()
