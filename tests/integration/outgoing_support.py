"""Support for the outgoing-call tests: a real local HTTP receiver that keeps every request
and answers from a script (a list of responses per path; then ``default``), and running a
workflow to its end on a real engine."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from podium.core.workflow import Project
from podium.engine import queries, services
from podium.engine.loop import Engine
from podium.store.database import Database


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get(name.lower())


Answer = tuple[int, dict[str, str], bytes]


class Receiver:
    """Answers each request with the next scripted answer for its path, else ``default``.

    ``on_request`` (optional) sees each request and may return an answer instead."""

    def __init__(self, default: Answer = (200, {}, b'{"ok":true}')) -> None:
        self.requests: list[Received] = []
        self.default = default
        self.on_request: Callable[[Received], Answer | None] | None = None
        self._script: dict[str, list[Answer]] = {}
        self._changed = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                got = Received(self.command, self.path, dict(self.headers.items()), body)
                status, headers, content = owner._answer(path, got)
                with owner._changed:  # kept before answering: the sender sees it at once
                    owner.requests.append(got)
                    owner._changed.notify_all()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def script(self, path: str, *answers: Answer) -> None:
        self._script.setdefault(path, []).extend(answers)

    def _answer(self, path: str, got: Received) -> Answer:
        if self.on_request is not None:
            custom = self.on_request(got)
            if custom is not None:
                return custom
        queue = self._script.get(path)
        return queue.pop(0) if queue else self.default

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Waits until ``count`` requests have arrived (fails the test after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} requests within {timeout}s, got {len(self.requests)}"
                    )
                self._changed.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def answer(status: int, body: Any = None, **headers: str) -> Answer:
    content = (
        b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    return status, {"Content-Type": "application/json", **headers}, content


def run_workflow(
    project: Project, db: Database, workflow: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Runs ``workflow`` to its end on a real engine (threads executor); the run as
    ``podium show`` has it, with its log lines (``logs``) and ``attempt_rows``."""
    run_id = services.start_run(db, project, workflow, params or {})
    engine = Engine(project, db, scope_root=run_id)
    engine.start()
    stop = threading.Event()
    timer = threading.Timer(30, stop.set)
    timer.start()
    try:
        engine.run(until=lambda: _ended(db, run_id), stop=stop)
    finally:
        timer.cancel()
        engine.close()
    assert _ended(db, run_id), "the run did not end within 30s"
    shown = queries.show_run(db, run_id)
    shown["logs"] = [entry["line"] for entry in queries.logs_of(db, run_id)]
    shown["attempt_rows"] = queries.attempts_of(db, run_id)
    return shown


def _ended(db: Database, run_id: str) -> bool:
    return queries.show_run(db, run_id)["status"] in ("succeeded", "failed", "cancelled")
