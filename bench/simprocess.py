"""A simulator served from a child process, for the connector benchmarks.

A real API runs on someone else's machine; a simulator in the benchmark's own process
would share podium's GIL, so its work (rendering pages, evaluating SuiteQL) would be
counted as podium's. ``ChildServer`` forks, serves the apps there over a real socket, and
answers ``probe(name)`` (a function of the ``SandboxServer`` given before the fork, such as
the points a Shopify simulator charged) over a pipe.

The simulator's model is built in the benchmark's process before the fork (the benchmark
needs its brand for the ground truth), so podium's process would carry it: ~400,000
objects for NetSuite's tables, against ~51,000 for podium's imports, and every full
collection of Python's cyclic garbage collector would walk them, in whichever of
podium's threads allocated last (0.4-0.7 s of CPU in NetSuite's fetch threads, two runs
of ``bench/connector_stream.py netsuite transaction_lines``). A real API's data is not in
podium's process, so once the child runs, the parent freezes what exists (``gc.freeze``:
moved out of the collector's sight, still freed when unreferenced). That also hides
podium's own import-time objects, about an eighth of what it freezes, which podium's own
process would walk.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

import httpx

from podium.sandbox.server import SandboxServer

Probe = Callable[[SandboxServer], Any]


def _serve(apps: Mapping[str, Any], probes: Mapping[str, Probe], conn: Connection) -> None:
    with SandboxServer(apps) as server:
        conn.send(server.url)
        while (name := conn.recv()) is not None:
            conn.send(probes[name](server))


class ChildServer:
    """``with ChildServer({"shopify": sim}, {"spent": lambda s: sim.spent}) as server:``"""

    def __init__(self, apps: Mapping[str, Any], probes: Mapping[str, Probe] | None = None):
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(apps, dict(probes or {}), child), daemon=True
        )
        self.url = ""

    def __enter__(self) -> ChildServer:
        self._process.start()
        self.url = str(self._conn.recv())
        gc.collect()
        gc.freeze()  # the simulator's model is the child's now (module docstring)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.unfreeze()
        self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def url_for(self, prefix: str) -> str:
        return f"{self.url}/{prefix.strip('/')}"

    def probe(self, name: str) -> Any:
        self._conn.send(name)
        return self._conn.recv()


class ApiWait:
    """Seconds podium spends waiting on the API: every request through httpx's transport,
    body read included, while ``with ApiWait() as wait:`` is open (``wait.seconds``).
    A run's seconds minus these are podium's own (parsing, normalising, loading), where
    the reading thread is the one that waits. Each request's span is kept by
    ``time.monotonic`` (system-wide, so comparable with a child's times): ``within(a, b)``
    is the waiting inside ``[a, b]``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._original = httpx.HTTPTransport.handle_request

    def __enter__(self) -> ApiWait:
        original, wait = self._original, self

        def timed(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            started = time.monotonic()
            response = original(transport, request)
            response.read()
            ended = time.monotonic()
            with wait._lock:
                wait.seconds += ended - started
                wait.requests += 1
                wait.spans.append((started, ended))
            return response

        httpx.HTTPTransport.handle_request = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        httpx.HTTPTransport.handle_request = self._original  # type: ignore[method-assign]

    def next_start(self, moment: float) -> float | None:
        """When the first request begun at or after ``moment`` started (``time.monotonic``)."""
        with self._lock:
            return min((a for a, _ in self.spans if a >= moment), default=None)

    def within(self, start: float, end: float) -> float:
        """Seconds of waiting inside ``[start, end]`` (``time.monotonic``)."""
        with self._lock:
            spans = list(self.spans)
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans)
