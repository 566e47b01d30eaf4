"""One connector stream, timed or profiled, against its simulator in a child process.

    .venv/bin/python bench/connector_stream.py netsuite transaction_lines          # load
    .venv/bin/python bench/connector_stream.py klaviyo events --profile            # cProfile

``load`` runs ``load_stream`` into a fresh DuckDB file and prints records/s and the CPU
seconds each of podium's threads spent (``time.thread_time`` when the thread ends: the
reading thread ``podium-read-…``, the batch reader ``podium-batch``, the main thread's
staging and commit) and the simulator's process; ``--profile``
reads the stream on the main thread under cProfile (the loader reads on a thread cProfile
does not see) and prints the costliest functions. Same brands as the connector
benchmarks. To compare two versions of podium with the same harness, put the other's
``src`` first: ``PYTHONPATH=/work/main/src .venv/bin/python bench/connector_stream.py …``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from simprocess import ChildServer

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.source import JsonPage, StreamState
from podium.sandbox.brand import Brand
from podium.sandbox.clock import SimClock


def _netsuite() -> tuple[Any, Callable[[str], Any]]:
    from connector_netsuite import CONFIG

    from podium.connectors.sources.netsuite import open_netsuite_source
    from podium.sandbox.netsuite import NetSuiteSimulator, demo_connection

    sim = NetSuiteSimulator(Brand(CONFIG), SimClock(CONFIG.end_at))
    sim.tables()

    def source(url: str) -> Any:
        settings = demo_connection(url)
        del settings["type"]
        return open_netsuite_source("bench", settings)

    return sim, source


def _klaviyo() -> tuple[Any, Callable[[str], Any]]:
    from connector_klaviyo import BRAND

    from podium.connectors.sources.klaviyo import open_klaviyo_source
    from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator, demo_connection

    sim = KlaviyoSimulator(Brand(BRAND), SimClock(BRAND.end_at))
    sim.render_ahead()  # generate the account and render its events before the clock starts

    def source(url: str) -> Any:
        settings = demo_connection(url)
        del settings["type"]
        return open_klaviyo_source("bench", settings, secrets=[DEMO_API_KEY])

    return sim, source


def _shopify() -> tuple[Any, Callable[[str], Any]]:
    from connector_shopify import CONFIG, POLL

    from podium.connectors.sources.shopify import open_shopify_source
    from podium.sandbox.shopify import DEMO_CREDENTIALS, ShopifySimulator, demo_connection

    now = CONFIG.start_at + timedelta(days=CONFIG.days)
    sim = ShopifySimulator(Brand(CONFIG), SimClock(now))

    def source(url: str) -> Any:
        settings = demo_connection(url)
        del settings["type"]
        settings["bulk_poll_interval"] = POLL
        return open_shopify_source("bench", settings, secrets=[DEMO_CREDENTIALS["access_token"]])

    return sim, source


_CPU: dict[str, float] = {}


def _count_thread_cpu() -> None:
    """Every thread started from now on notes its CPU seconds in ``_CPU`` when it ends."""
    run = threading.Thread.run

    def timed(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            name = self.name.removesuffix("_0")
            _CPU[name] = _CPU.get(name, 0.0) + time.thread_time()

    threading.Thread.run = timed  # type: ignore[method-assign]


APIS = {"netsuite": _netsuite, "klaviyo": _klaviyo, "shopify": _shopify}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("api", choices=sorted(APIS))
    parser.add_argument("stream")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    sim, make_source = APIS[args.api]()
    probes = {"cpu": lambda server: time.process_time()}  # the simulator's CPU seconds
    with ChildServer({args.api: sim}, probes) as server, tempfile.TemporaryDirectory() as tmp:
        source = make_source(server.url_for(args.api))
        stream = next(s for s in source.streams() if s.name == args.stream)
        _count_thread_cpu()
        simulator_cpu = server.probe("cpu")
        started, main_cpu = time.perf_counter(), time.thread_time()
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            pages = source.read(stream, StreamState(), full_refresh=False)
            records = sum(len(p.records) for p in pages if isinstance(p, JsonPage))
            profile.disable()
        else:
            destination = DuckDBDestination(Path(tmp) / "wh.duckdb")
            job = LoadJob(source, stream, destination, "bench", "raw", Path(tmp))
            records = load_stream(job).loaded
            destination.close()
        seconds = time.perf_counter() - started
        _CPU["main"] = time.thread_time() - main_cpu
        _CPU["(simulator)"] = server.probe("cpu") - simulator_cpu
        source.close()
    print(f"{args.api} {args.stream}: {records:,} records in {seconds:.2f} s", end="")
    print(f" = {records / seconds:,.0f}/s")
    print("CPU s: " + ", ".join(f"{name} {cpu:.2f}" for name, cpu in sorted(_CPU.items())))
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
