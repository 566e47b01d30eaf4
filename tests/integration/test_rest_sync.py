"""Records synced to a small JSON API on 127.0.0.1 through the ``rest`` destination, from a
real DuckDB warehouse: upserts by key, removals, batches, rejections with the server's
message, and 429s and 5xx retried until the API holds exactly the model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest

from podium.connectors.sources.rest import open_rest_source
from podium.errors import TerminalTaskError
from podium.syncs import Mode, Op, Outcome, SyncSpec, read_changes
from podium.syncs.destination import SyncTarget, WriterEnv
from podium.syncs.destinations.rest import RestDestination, RestWriter, check_records
from podium.syncs.run import run_sync
from podium.transforms.warehouse_sql import WarehouseSql, open_warehouse_sql
from recorded_writer import Recorded

NOW = datetime(2026, 12, 7, 6, tzinfo=UTC)
N = 100
TOKEN = "crm_secret_token_5f6e7d"
FIELDS = {"email": "email", "traits.ltv": "ltv"}
PUT = {"path": "/customers/{key}", "method": "PUT", "delete": "DELETE /customers/{key}",
       "id_field": "id"}  # fmt: skip


class CrmApi(BaseHTTPRequestHandler):
    """Customers by key: PUT /customers/{key} (or POST /customers/batch with an array),
    DELETE /customers/{key}; an email is required; ``server.faults`` are answered first."""

    server: Crm

    def do_PUT(self) -> None:
        self._answer(lambda body: self.server.put(self._key(), body))

    def do_POST(self) -> None:
        self._answer(lambda body: self.server.put_many(body))

    def do_DELETE(self) -> None:
        self._answer(lambda body: self.server.delete(self._key()))

    def _key(self) -> str:
        return unquote(self.path.rsplit("/", 1)[1])

    def _answer(self, handle: Any) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = orjson.loads(self.rfile.read(length)) if length else None
        with self.server.lock:
            self.server.log.append((self.command, self.path))
            fault = self.server.faults.pop(0) if self.server.faults else None
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, answer = 401, {"message": "bad token"}
            elif fault is not None:
                status, answer = fault, {"message": "try again"}
            else:
                status, answer = handle(body)
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0.25")
        data = orjson.dumps(answer)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


class Crm(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CrmApi)
        self.lock = threading.Lock()
        self.customers: dict[str, Any] = {}
        self.faults: list[int] = []
        self.log: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def put(self, key: str, body: Any) -> tuple[int, Any]:
        if not body.get("email"):
            return 422, {"message": f"customer {key}: email is required"}
        self.customers[key] = body
        return 200, {"id": f"c-{key}"}

    def put_many(self, body: list[Any]) -> tuple[int, Any]:
        if any(not b.get("email") for b in body):
            return 422, {"message": "every customer needs an email"}
        for record in body:
            self.customers[str(record["key"])] = record
        return 200, [{"id": f"c-{r['key']}"} for r in body]

    def delete(self, key: str) -> tuple[int, Any]:
        return (204, {}) if self.customers.pop(key, None) is not None else (404, {})


@pytest.fixture
def crm() -> Iterator[Crm]:
    server = Crm()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class Harness:
    crm: Crm
    sql: WarehouseSql
    options: dict[str, Any] = field(default_factory=lambda: dict(PUT))
    fields: dict[str, str] = field(default_factory=lambda: dict(FIELDS))
    mode: Mode = Mode.MIRROR
    env: WriterEnv = field(default_factory=lambda: WriterEnv(secrets=frozenset({TOKEN})))
    waits: list[float] = field(default_factory=list)

    def writer(self, token: str = TOKEN) -> RestWriter:
        settings = {"type": "rest", "base_url": self.crm.url, "retries": 4,
                    "headers": {"Authorization": f"Bearer {token}"}}  # fmt: skip
        target = SyncTarget("crm", "crm", "records", self.mode, "id", tuple(self.fields),
                            self.options)  # fmt: skip
        return RestDestination(sleep=self.waits.append).open("crm", settings, target, self.env)

    def run(self) -> list[Outcome]:
        """Runs the sync (``run_sync``); the writer's outcomes, in the order sent."""
        spec = SyncSpec("crm", "marts.customers", "id", self.fields, self.mode)
        writer = Recorded(self.writer())
        try:
            run_sync(self.sql, spec, writer, now=lambda: NOW, counters=self.env.counters)
        finally:
            writer.close()
        return writer.outcomes

    def model(self) -> dict[str, Any]:
        rows = self.sql.query("SELECT id, email, ltv FROM marts.customers WHERE email IS NOT NULL")
        return {str(i): {"email": e, "traits": {"ltv": int(v)}} for i, e, v in rows}


@pytest.fixture
def h(crm: Crm, tmp_path: Path) -> Iterator[Harness]:
    with open_warehouse_sql(
        {"type": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path
    ) as sql:
        sql.ensure_schema("marts")
        sql.execute(
            "CREATE TABLE marts.customers AS SELECT 1000 + i AS id,"
            " 'c' || CAST(i AS VARCHAR) || '@x.io' AS email, CAST(i AS DECIMAL(12,2)) AS ltv"
            f" FROM generate_series(1, {N}) AS g(i)"
        )
        yield Harness(crm, sql)


def test_a_first_sync_then_a_one_percent_change_sends_only_that_change(h: Harness) -> None:
    first = h.run()
    assert len(first) == N and all(o.landed for o in first)
    assert h.crm.customers == h.model() and h.env.counters["requests"] == N
    assert {o.remote_id for o in first} == {f"c-{1000 + i}" for i in range(1, N + 1)}
    h.sql.execute("UPDATE marts.customers SET ltv = 999 WHERE id = 1001")
    h.sql.execute("DELETE FROM marts.customers WHERE id = 1002")
    h.sql.execute("INSERT INTO marts.customers VALUES (2001, 'new@x.io', 5)")
    log = len(h.crm.log)
    second = h.run()
    assert sorted((o.key, o.op) for o in second) == [
        ("1001", Op.UPDATE), ("1002", Op.REMOVE), ("2001", Op.ADD)]  # fmt: skip
    assert sorted(h.crm.log[log:]) == [
        ("DELETE", "/customers/1002"), ("PUT", "/customers/1001"), ("PUT", "/customers/2001")]  # fmt: skip
    assert h.crm.customers == h.model()
    assert h.run() == []


def test_429s_and_5xx_are_retried_and_the_api_ends_equal_to_the_model(h: Harness) -> None:
    h.crm.faults = [429, 429, 503, 500]  # the first record's first four answers
    assert all(o.landed for o in h.run())
    assert h.crm.customers == h.model()
    counters = h.env.counters
    assert (counters["throttled"], counters["retries"]) == (2, 2)
    assert counters["requests"] == N + 4 and 0.25 in h.waits  # Retry-After honoured


def test_a_bad_record_is_rejected_with_the_server_message_and_retried_next_run(
    h: Harness,
) -> None:
    h.sql.execute("UPDATE marts.customers SET email = '' WHERE id = 1007")
    outcomes = {o.key: o for o in h.run()}
    bad = outcomes.pop("1007")
    assert bad.reason == "the API answered 422: customer 1007: email is required"
    assert all(o.landed for o in outcomes.values()) and "1007" not in h.crm.customers
    h.sql.execute("UPDATE marts.customers SET email = 'fixed@x.io' WHERE id = 1007")
    assert [(o.key, o.op, o.landed) for o in h.run()] == [("1007", Op.ADD, True)]
    assert h.crm.customers["1007"]["email"] == "fixed@x.io"


def test_a_batch_sends_records_as_one_array_and_keeps_each_id(h: Harness) -> None:
    h.mode, h.options = Mode.UPSERT, {"path": "/customers/batch", "batch": 10, "id_field": "id"}
    h.fields = {"key": "id", **FIELDS}
    outcomes = h.run()
    assert h.env.counters["requests"] == N // 10
    assert [o.remote_id for o in outcomes[:2]] == ["c-1001", "c-1002"]
    assert {
        k: {"email": v["email"], "traits": v["traits"]} for k, v in h.crm.customers.items()
    } == (h.model())


def test_the_records_options_are_checked_under_their_keys() -> None:
    assert check_records(FIELDS, PUT) == []
    problems = check_records({}, {"path": "customers", "method": "GET", "batch": "ten",
                                  "delete": "/customers/{key}", "id": "x"})  # fmt: skip
    assert sorted(p.split(":", 1)[0] for p in problems) == [
        "batch", "delete", "fields", "id", "method", "path"]  # fmt: skip
    assert check_records(FIELDS, {"path": "/c/{id}"}) == [
        "path: the only placeholders are {key} and {remote_id}"
    ]


def test_misconfigurations_and_a_wrong_token_fail_the_sync_without_showing_secrets(
    h: Harness,
) -> None:
    h.options = {"path": "/customers/{key}"}
    with pytest.raises(TerminalTaskError, match="delete: mirror removes records"):
        h.writer()
    h.options = {"path": "/customers/{id}", "batch": 2}
    with pytest.raises(TerminalTaskError, match=r"path: a batch of records goes to one path"):
        h.writer()
    with pytest.raises(TerminalTaskError, match="streams: is required to read"):
        open_rest_source("crm", {"type": "rest", "base_url": h.crm.url}, secrets=[])
    h.options = dict(PUT)
    h.env.secrets = frozenset({"wrong_token_abcdef"})
    writer = h.writer(token="wrong_token_abcdef")
    spec = SyncSpec("crm", "marts.customers", "id", FIELDS, Mode.MIRROR)
    with pytest.raises(TerminalTaskError) as failed:
        writer.send(read_changes(h.sql, spec, limit=1))
    writer.close()
    assert "401" in str(failed.value) and "wrong_token" not in str(failed.value)
