"""Integration fixtures: the end-to-end helpers of ``tests/e2e/conftest.py`` and a
PostgreSQL schema per test when ``PODIUM_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from e2e.conftest import make_project, pid_alive, wait_until
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

__all__ = [
    "POSTGRES_URL",
    "SKIP_POSTGRES",
    "drop_postgres_schema",
    "make_project",
    "pid_alive",
    "postgres_schema_url",
    "wait_until",
    "WebhookReceiver",
]


def postgres_schema_url() -> tuple[str, str]:
    return postgres_url_with_schema("podium_kill")


drop_postgres_schema = drop_schema


class WebhookReceiver:
    """A local HTTP endpoint for webhook tests: each POST is kept as ``(headers, body,
    accepted)``, answered 200 when ``verify(headers, body)`` holds and 401 otherwise."""

    def __init__(self, verify: Callable[[Mapping[str, str], bytes], bool]) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes, bool]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                accepted = verify(headers, body)
                owner.deliveries.append((headers, body, accepted))
                self.send_response(200 if accepted else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
