"""SandboxServer: one real HTTP server on 127.0.0.1 hosting several simulated APIs.

Each simulator is an app mounted under a prefix (``/shopify``, ``/amazon`` …); an app sees
requests with the prefix taken off the path and ``Request.base`` set to the server's URL
plus the prefix, so the links it renders point back at itself:

    with SandboxServer({"shopify": shopify_app, "klaviyo": klaviyo_app}) as server:
        server.url_for("shopify")        # http://127.0.0.1:PORT/shopify
        server.set_faults("shopify", Faults(throttle=When.at(3)))
        server.violations("shopify")     # requests sent while a Retry-After was running

Faults are decided per app, by that app's own request count (see ``faults.py``); they come
before the app answers, so an app never sees a request its faults answered. Any 429 with
``Retry-After`` (a fault's or the app's own) opens a window in which another request to
that app counts as a violation; an app may count more of its own (``app.violations``),
for limits that send no ``Retry-After`` (Amazon's).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from podium.sandbox.faults import Answer, FaultPlan, Faults, error_answer
from podium.sandbox.pages import _Handler, _HTTPServer, write_answer
from podium.sandbox.paging import Request


class SimApp(Protocol):
    """A simulated API: answers one request (prefix already removed from the path)."""

    def answer(self, request: Request) -> Answer: ...


@dataclass
class _Mount:
    app: SimApp
    faults: Faults = field(default_factory=Faults)
    plan: FaultPlan = field(default_factory=lambda: FaultPlan(Faults()))
    requests: int = 0
    violations: int = 0
    throttled_until: float = 0.0
    log: list[tuple[str, str, int]] = field(default_factory=list)


class SandboxServer:
    """Simulated APIs under prefixes of one listening socket; see the module docstring."""

    def __init__(self, apps: Mapping[str, SimApp], *, port: int = 0) -> None:
        self._mounts = {prefix.strip("/"): _Mount(app) for prefix, app in apps.items()}
        self._lock = threading.Lock()
        self._server = _HTTPServer(("127.0.0.1", port), self)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    # -- what tests and the CLI use ------------------------------------------------------
    def url_for(self, prefix: str) -> str:
        return f"{self.url}/{prefix.strip('/')}"

    def app(self, prefix: str) -> SimApp:
        return self._mounts[prefix].app

    def set_faults(self, prefix: str, faults: Faults | None) -> None:
        """Faults for one app from its next request on (None: none)."""
        faults = faults or Faults()
        with self._lock:
            mount = self._mounts[prefix]
            mount.faults, mount.plan, mount.requests = faults, FaultPlan(faults), 0

    def violations(self, prefix: str) -> int:
        """Requests that ignored a rate limit: sent during a Retry-After, plus the app's own."""
        with self._lock:
            counted = self._mounts[prefix].violations
        return counted + int(getattr(self._mounts[prefix].app, "violations", 0))

    def requests(self, prefix: str) -> int:
        with self._lock:
            return len(self._mounts[prefix].log)

    def log(self, prefix: str) -> list[tuple[str, str, int]]:
        """``(method, path?query, status)`` per request; status 0: the connection was reset."""
        with self._lock:
            return list(self._mounts[prefix].log)

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------
    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        prefix, _, rest = split.path.lstrip("/").partition("/")
        mount = self._mounts.get(prefix)
        if mount is None:
            known = ", ".join(f"/{p}" for p in self._mounts)
            write_answer(handler, error_answer(404, f"no API at /{prefix}; try {known}"), "", {})
            return
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        base = self.url_for(prefix)
        request = Request(handler.command, "/" + rest, params, headers, base, handler.body)
        decision, slow = self._decide(mount)
        if slow:
            time.sleep(mount.faults.slow_seconds)
        answer = decision if isinstance(decision, Answer) else mount.app.answer(request)
        fault = decision if isinstance(decision, str) else ""
        self._record(mount, handler, answer, fault)
        write_answer(handler, answer, fault, {})

    def _decide(self, mount: _Mount) -> tuple[Answer | str | None, bool]:
        with self._lock:
            mount.requests += 1
            if time.monotonic() < mount.throttled_until:
                mount.violations += 1
            decision = mount.plan.decide(mount.requests)
            return decision, mount.faults.slow.hits(mount.requests, mount.plan.rng)

    def _record(self, mount: _Mount, handler: Any, answer: Answer, fault: str) -> None:
        with self._lock:
            mount.log.append(
                (handler.command, handler.path, 0 if fault == "reset" else answer.status)
            )
            retry_after = answer.headers.get("Retry-After")
            if answer.status == 429 and retry_after:
                with contextlib.suppress(ValueError):
                    mount.throttled_until = time.monotonic() + float(retry_after)
