"""PageServer: a real HTTP server on 127.0.0.1 serving paged JSON, with faults on demand.

Records mode serves ``GET <any path>`` (``POST`` too: its body is read and ignored) from a
list of records sorted by ``(cursor_field, key)``. Query parameters, every style:

    limit=N                 page size (default ``page_size``, capped at ``max_page_size``)
    <cursor_param>=V        only records whose cursor is >= V (ISO timestamps compare as
                            instants, numbers as numbers)

Pagination styles and their exact names:

    link      body {"<records_path>": [...]}; header ``Link: <URL?limit=N&page_info=T>;
              rel="next"`` (absent on the last page). As in Shopify, a request carrying
              ``page_info`` may add only ``limit``: any other parameter is a 400.
    cursor    body {"<records_path>": [...], "next_cursor": "T" | null}; send back
              ``?cursor=T`` together with the original parameters.
    next_url  body {"<records_path>": [...], "links": {"next": "http://…" | null}}; the
              URL carries every parameter plus ``page[cursor]=T`` (JSON:API, Klaviyo).
    offset    ``?offset=K&limit=N``; body {"<records_path>": [...], "hasMore": bool,
              "offset": K, "count": n, "totalResults": total} (NetSuite).

``records_path`` defaults to ``orders`` (link, cursor), ``data`` (next_url) and ``items``
(offset); a dotted path nests it (``payload.Orders``). Tokens are keyset positions, so
records added or changed between requests never shift a page (offsets, as in NetSuite, do).
Tests change the records with ``set_records``/``add_records`` (thread-safe) between or
during reads; records that are not objects are served first, for quarantine tests.

Pages mode (``PageServer.from_pages_dir``) serves pre-rendered ``page-00000.json``,
``page-00001.json``, … : ``GET /orders.json`` is the first, ``?page_info=N`` the N-th, each
with a ``Link`` to the next. Bodies are read from disk per request.

Faults (a ``Faults``, deterministic by request number or by a seeded RNG) are decided per
request in this order: ``status`` (a fixed code), ``throttle`` (429 + ``Retry-After`` for
``throttle_burst`` requests), ``errors`` (``error_burst`` of 500/502/503), ``reset`` (the
connection closes mid-body), ``truncate`` (half the body, with a matching Content-Length);
``slow`` delays any answer. A request arriving while a ``Retry-After`` is still running is
counted in ``violations``. ``log`` keeps ``(method, path?query, status)``; status 0 means
the connection was reset. With ``token`` set, a request whose ``auth_header`` differs gets
401 and a JSON error.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from podium.sandbox.faults import Answer, FaultPlan, Faults, error_answer
from podium.sandbox.paging import PagesApp, RecordsApp, Request


class _HTTPServer(ThreadingHTTPServer):
    """Listens on construction and serves from a daemon thread; ``owner._handle(handler)``
    answers each request. ``stop`` also closes kept-alive connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: Any) -> None:
        self.owner = owner
        self.open: set[socket.socket] = set()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        with self.open_lock:
            for connection in list(self.open):
                _close_quietly(connection)
        self.server_close()
        self._thread.join(timeout=5)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, resets under test) are normal here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.open_lock:
            self.server.open.add(self.connection)

    def finish(self) -> None:
        with self.server.open_lock:
            self.server.open.discard(self.connection)
        super().finish()

    body = b""

    def do_GET(self) -> None:
        self.body = b""
        self.server.owner._handle(self)

    def do_POST(self) -> None:
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.owner._handle(self)

    do_PUT = do_POST
    do_PATCH = do_POST

    def do_DELETE(self) -> None:
        self.do_POST()

    def log_message(self, format: str, *args: Any) -> None:
        return


class PageServer:
    """A local HTTP server of paged JSON; see the module docstring for the protocol.

    It starts listening on construction; use it as a context manager or call ``stop()``.
    ``token`` is the exact value expected in ``auth_header`` (``"Bearer abc"``, or
    ``"shpat_…"`` with ``auth_header="X-Shopify-Access-Token"``). ``headers`` are added to
    every response (e.g. ``X-Shopify-Shop-Api-Call-Limit``).
    """

    def __init__(
        self,
        records: Iterable[dict[str, Any]] = (),
        *,
        records_path: str | None = None,
        page_size: int = 250,
        max_page_size: int = 250,
        pagination: str = "link",
        cursor_field: str = "updated_at",
        cursor_param: str = "updated_at_min",
        key: str = "id",
        token: str | None = None,
        auth_header: str = "Authorization",
        faults: Faults | None = None,
        headers: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> None:
        app = RecordsApp(
            pagination,
            records_path or "",
            cursor_field,
            cursor_param,
            key,
            page_size,
            max_page_size,
        )
        app.set_records(records)
        self._records_app: RecordsApp | None = app
        self._serve(app, token, auth_header, faults or Faults(), headers or {}, port)

    @classmethod
    def from_pages_dir(
        cls,
        path: str | Path,
        *,
        token: str | None = None,
        auth_header: str = "Authorization",
        faults: Faults | None = None,
        headers: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> PageServer:
        """Serve ``page-00000.json``, ``page-00001.json``, … from ``path`` (pages mode)."""
        server = cls.__new__(cls)
        server._records_app = None
        server._serve(
            PagesApp(Path(path)), token, auth_header, faults or Faults(), headers or {}, port
        )
        return server

    def _serve(
        self,
        app: RecordsApp | PagesApp,
        token: str | None,
        auth_header: str,
        faults: Faults,
        headers: Mapping[str, str],
        port: int,
    ) -> None:
        self._app, self._token, self._auth_header = app, token, auth_header
        self._faults, self._plan, self._headers = faults, FaultPlan(faults), dict(headers)
        self._lock = threading.Lock()
        self._requests, self._violations, self._throttled_until = 0, 0, 0.0
        self._log: list[tuple[str, str, int]] = []
        self._server = _HTTPServer(("127.0.0.1", port), self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what tests look at and change ---------------------------------------------------
    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def violations(self) -> int:
        """Requests that arrived before a ``Retry-After`` this server sent had elapsed."""
        with self._lock:
            return self._violations

    @property
    def log(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._log)

    @property
    def records(self) -> tuple[dict[str, Any], ...]:
        """The records, in serving order; change them with ``set_records``/``add_records``."""
        app = self._records_app
        if app is None:
            return ()
        with app.lock:
            return tuple(app.sorted)

    def set_records(self, records: Iterable[dict[str, Any]]) -> None:
        if self._records_app is None:
            raise TypeError("a pages-mode PageServer serves files; it has no records to set")
        self._records_app.set_records(records)

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        self.set_records([*self.records, *records])

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> PageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------
    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        request = Request(handler.command, split.path, params, headers, self.url, handler.body)
        decision, slow = self._decide()
        if slow:
            time.sleep(self._faults.slow_seconds)
        answer = decision if isinstance(decision, Answer) else self._answer(request)
        fault = decision if isinstance(decision, str) else ""
        with self._lock:
            self._log.append(
                (handler.command, handler.path, 0 if fault == "reset" else answer.status)
            )
        write_answer(handler, answer, fault, self._headers)

    def _decide(self) -> tuple[Answer | str | None, bool]:
        with self._lock:
            self._requests += 1
            now = time.monotonic()
            if now < self._throttled_until:
                self._violations += 1
            decision = self._plan.decide(self._requests)
            if isinstance(decision, Answer) and decision.status == 429:
                self._throttled_until = now + self._faults.retry_after
            return decision, self._faults.slow.hits(self._requests, self._plan.rng)

    def _answer(self, request: Request) -> Answer:
        if (
            self._token is not None
            and request.headers.get(self._auth_header.lower()) != self._token
        ):
            return error_answer(401, "[API] Invalid API key or access token (unrecognized login)")
        return self._app.answer(request)


def write_answer(handler: _Handler, answer: Answer, fault: str, headers: Mapping[str, str]) -> None:
    """Write ``answer``; ``fault`` ``reset``/``truncate`` sends half the body (a reset then
    closes the socket with RST). ``answer.content_type`` defaults to JSON."""
    body = answer.body
    sent = body[: len(body) // 2] if fault else body
    handler.send_response(answer.status)
    handler.send_header("Content-Type", answer.content_type)
    handler.send_header("Content-Length", str(len(body if fault == "reset" else sent)))
    for name, value in {**headers, **answer.headers}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(sent)
    if fault == "reset":
        linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        handler.close_connection = True


def _close_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
