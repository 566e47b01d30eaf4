"""The ``http`` task kind end to end: real workflows on the engine (threads executor, SQLite
store), a real DuckDB or PostgreSQL warehouse, and a real local HTTP receiver."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from integration.outgoing_support import Receiver, answer, run_workflow
from podium.project import load_project
from podium.store.database import open_database
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES

TOKEN = "tok_live_5f8a9c2e"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(default=answer(201, {"ok": True})) as r:
        yield r


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    # the task's attempt loads the project again, from the environment
    monkeypatch.setenv("THREEPL_TOKEN", TOKEN)


def project(root: Path, workflow: str, config: str = "") -> Path:
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "podium.yaml").write_text("store: sqlite:///.podium/state.db\n" + config)
    (root / "workflows" / "send.yaml").write_text(textwrap.dedent(workflow).lstrip())
    return root


def duckdb_orders(root: Path, *rows: tuple[int, str]) -> None:
    path = root / ".podium" / "warehouse.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE SCHEMA IF NOT EXISTS commerce")
        db.execute(
            "CREATE TABLE IF NOT EXISTS commerce.orders"
            " (order_id INTEGER, total DECIMAL(10, 2), placed_at TIMESTAMP)"
        )
        for order_id, total in rows:
            db.execute(
                "INSERT INTO commerce.orders VALUES (?, ?, TIMESTAMP '2026-01-02 10:00:00')",
                [order_id, total],
            )


def run(root: Path, workflow: str = "send", params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Loads the project as a user's ``podium run`` would and runs ``workflow`` to its end."""
    project = load_project(root)
    db = open_database(project.store_url)
    try:
        return run_workflow(project, db, workflow, params)
    finally:
        db.close()


def task(shown: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in shown["tasks"] if t["id"] == task_id)


SEND_ORDERS = """
    name: send
    params: {source: shopify}
    tasks:
      - id: send_orders
        http: URL
        headers: {Authorization: "Bearer ${THREEPL_TOKEN}"}
        body: {order: "{{ row }}", source: "{{ params.source }}", run: "{{ run.id }}"}
        for_each:
          query: SELECT order_id, total, placed_at FROM commerce.orders ORDER BY order_id
          key: order_id
        expect: [201]
        retries: 1
"""


# -- per row, each new row once ----------------------------------------------------------


def test_each_new_order_is_sent_once_with_a_stable_idempotency_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    root = project(tmp_path, SEND_ORDERS.replace("URL", receiver.url("/api/orders")))
    duckdb_orders(root, (1001, "59.00"), (1002, "12.50"), (1003, "100.00"))

    first = run(root)
    assert first["status"] == "succeeded", first
    got = receiver.wait_for(3)
    assert [r.method for r in got] == ["POST"] * 3
    assert [r.json()["order"] for r in got] == [
        {"order_id": 1001, "total": 59, "placed_at": "2026-01-02T10:00:00"},
        {"order_id": 1002, "total": 12.5, "placed_at": "2026-01-02T10:00:00"},
        {"order_id": 1003, "total": 100, "placed_at": "2026-01-02T10:00:00"},
    ]
    assert {r.json()["source"] for r in got} == {"shopify"}
    assert {r.json()["run"] for r in got} == {first["run_id"]}
    assert [r.header("Idempotency-Key") for r in got] == [
        "send:send_orders:1001",
        "send:send_orders:1002",
        "send:send_orders:1003",
    ]
    assert {r.header("Authorization") for r in got} == {f"Bearer {TOKEN}"}
    assert task(first, "send_orders")["output"] == {
        "calls": 3,
        "statuses": {"201": 3},
        "rows": 3,
        "sent": 3,
        "skipped": 0,
    }

    duckdb_orders(root, (1004, "5.00"))
    second = run(root)
    assert second["status"] == "succeeded", second
    got = receiver.wait_for(4)
    assert len(got) == 4
    assert got[3].json()["order"]["order_id"] == 1004
    assert got[3].header("Idempotency-Key") == "send:send_orders:1004"
    assert task(second, "send_orders")["output"]["skipped"] == 3

    with duckdb.connect(str(root / ".podium" / "warehouse.duckdb")) as db:
        sent = db.execute(
            "SELECT row_key, run_id, status FROM _podium.http_sent ORDER BY row_key"
        ).fetchall()
    assert sent == [
        ("1001", first["run_id"], 201),
        ("1002", first["run_id"], 201),
        ("1003", first["run_id"], 201),
        ("1004", second["run_id"], 201),
    ]


def test_a_retried_task_resends_rows_with_the_same_idempotency_keys(
    tmp_path: Path, receiver: Receiver
) -> None:
    workflow = """
        name: send
        tasks:
          - id: push
            http: URL
            for_each: {query: "SELECT order_id FROM commerce.orders ORDER BY order_id"}
            retries: 1
    """
    root = project(tmp_path, workflow.replace("URL", receiver.url("/orders")))
    duckdb_orders(root, (1, "1.00"), (2, "2.00"))
    busy = answer(503, {"error": "busy"}, **{"Retry-After": "0"})
    receiver.script("/orders", answer(201), busy, busy, busy)  # row 2 fails all 3 tries

    shown = run(root)
    assert shown["status"] == "succeeded", shown
    assert [(a["attempt"], a["status"]) for a in shown["attempt_rows"]] == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    got = receiver.wait_for(6)
    keys = [(r.json()["order_id"], r.header("Idempotency-Key")) for r in got]
    first_try = dict(keys[:2])  # row 1 once, then row 2's first try
    assert [k for _, k in keys if k == first_try[1]] == [first_try[1]] * 2  # sent twice
    assert {order: key for order, key in keys} == first_try  # the same key every time
    assert first_try[1].startswith(f"{shown['run_id']}:push:")
    assert "failed after 3 attempts" in (shown["attempt_rows"][0]["error"] or "")


# -- statuses -------------------------------------------------------------------------------


PUSH_ONE = """
    name: send
    tasks:
      - id: push
        http: URL
        method: POST
        headers: {Authorization: "Bearer ${THREEPL_TOKEN}"}
        body: {hello: world}
        retries: 2
"""


def test_a_503_is_retried_within_the_attempt_then_succeeds(
    tmp_path: Path, receiver: Receiver
) -> None:
    root = project(tmp_path, PUSH_ONE.replace("URL", receiver.url("/orders")))
    receiver.script("/orders", answer(503, {"error": "warming up"}), answer(202, {"id": "x1"}))
    shown = run(root)
    assert shown["status"] == "succeeded", shown
    assert len(receiver.wait_for(2)) == 2
    out = task(shown, "push")
    assert out["attempts"] == 1
    assert out["output"] == {
        "calls": 1,
        "statuses": {"202": 1},
        "rows": 0,
        "sent": 0,
        "skipped": 0,
        "status": 202,
        "response": {"id": "x1"},
    }
    retry = f"WARNING task 'push': POST {receiver.url('/orders')}: 503 Service Unavailable: warming up; retry 1/2 in "
    assert any(line.startswith(retry) for line in shown["logs"]), shown["logs"]
    assert receiver.requests[0].header("Idempotency-Key") == f"{shown['run_id']}:push"
    assert receiver.requests[1].header("Idempotency-Key") == f"{shown['run_id']}:push"


def test_a_400_fails_the_task_at_once_without_retries(tmp_path: Path, receiver: Receiver) -> None:
    root = project(tmp_path, PUSH_ONE.replace("URL", receiver.url("/orders")))
    receiver.script("/orders", answer(400, {"error": "unknown sku TEE-XL"}))
    shown = run(root)
    assert shown["status"] == "failed"
    out = task(shown, "push")
    assert out["attempts"] == 1  # retries: 2, but a 400 will not heal
    assert len(receiver.requests) == 1
    error = out["error"]
    assert error.startswith(
        f"TerminalTaskError: task 'push': POST {receiver.url('/orders')} returned 400 Bad Request: "
    )
    assert '{"error": "unknown sku TEE-XL"}' in error
    assert "expected 2xx" in error
    assert "Check the body the task sends" in error


def test_an_unexpected_2xx_fails_naming_what_was_expected(
    tmp_path: Path, receiver: Receiver
) -> None:
    workflow = PUSH_ONE.replace("retries: 2", "expect: [201]")
    root = project(tmp_path, workflow.replace("URL", receiver.url("/orders")))
    receiver.script("/orders", answer(200, {"queued": False}))
    shown = run(root)
    error = task(shown, "push")["error"]
    assert "returned 200 OK" in error and "expected 201" in error


def test_secrets_stay_out_of_errors_logs_and_outputs(tmp_path: Path, receiver: Receiver) -> None:
    workflow = PUSH_ONE.replace("URL", "URL?token=${THREEPL_TOKEN}")
    root = project(tmp_path, workflow.replace("URL", receiver.url("/orders")))
    receiver.script("/orders", answer(200), answer(401, {"error": f"token {TOKEN} is revoked"}))
    first = run(root)
    assert first["status"] == "succeeded"
    second = run(root)
    assert second["status"] == "failed"
    assert receiver.wait_for(2)[0].path == f"/orders?token={TOKEN}"  # the real one went out
    text = repr(first) + repr(second)
    assert TOKEN not in text
    error = task(second, "push")["error"]
    assert "token=***" in error and "token *** is revoked" in error
    assert "Check the credentials" in error
    assert any("/orders?token=*** -> 200" in line for line in first["logs"])
    assert not any("Authorization" in line or "Bearer" in line for line in first["logs"])


# -- batches, upstream rows, references ---------------------------------------------------------


STEPS = """
def orders(ctx):
    return {"rows": [{"id": i, "sku": f"SKU-{i}"} for i in range(1, 6)], "count": 5}
"""


def test_batches_of_upstream_rows(tmp_path: Path, receiver: Receiver) -> None:
    workflow = """
        name: send
        tasks:
          - id: orders
            run: steps_http:orders
          - id: push
            http: URL
            depends_on: [orders]
            body: {orders: "{{ rows }}", total: "{{ upstream.orders.count }}"}
            for_each: {rows: "{{ upstream.orders.rows }}", key: id, batch: 2}
    """
    root = project(tmp_path, workflow.replace("URL", receiver.url("/batch")))
    (root / "steps_http.py").write_text(STEPS)
    shown = run(root)
    assert shown["status"] == "succeeded", shown
    got = receiver.wait_for(3)
    assert [[o["id"] for o in r.json()["orders"]] for r in got] == [[1, 2], [3, 4], [5]]
    assert {r.json()["total"] for r in got} == {5}
    keys = [r.header("Idempotency-Key") or "" for r in got]
    assert len(set(keys)) == 3 and all(k.startswith("send:push:batch-") for k in keys)
    assert task(shown, "push")["output"]["sent"] == 5

    again = run(root)  # every id was sent: nothing goes out
    assert task(again, "push")["output"] == {
        "calls": 0,
        "statuses": {},
        "rows": 5,
        "sent": 0,
        "skipped": 5,
    }
    assert len(receiver.requests) == 3


def test_a_reference_that_names_nothing_fails_naming_the_task_and_path(
    tmp_path: Path, receiver: Receiver
) -> None:
    workflow = """
        name: send
        tasks:
          - id: orders
            run: steps_http:orders
          - id: push
            http: URL
            depends_on: [orders]
            body: {first: "{{ upstream.orders.rowz.0 }}"}
            retries: 3
    """
    root = project(tmp_path, workflow.replace("URL", receiver.url("/x")))
    (root / "steps_http.py").write_text(STEPS)
    shown = run(root)
    out = task(shown, "push")
    assert out["attempts"] == 1
    assert out["error"] == (
        "TerminalTaskError: task 'push': body.first: {{ upstream.orders.rowz.0 }} does not "
        "resolve: upstream.orders has no 'rowz' (it has: count, rows); correct the reference "
        "or the task's depends_on/params"
    )
    assert receiver.requests == []


def test_urls_take_row_values_percent_encoded(tmp_path: Path, receiver: Receiver) -> None:
    workflow = """
        name: send
        tasks:
          - id: put
            http: "URL/{{ row.sku }}"
            method: PUT
            body: {sku: "{{ row.sku }}"}
            for_each: {query: "SELECT 'TEE/M L' AS sku"}
    """
    root = project(tmp_path, workflow.replace("URL", receiver.url("/items")))
    duckdb_orders(root)
    shown = run(root)
    assert shown["status"] == "succeeded", shown
    (got,) = receiver.wait_for(1)
    assert (got.method, got.path, got.json()) == ("PUT", "/items/TEE%2FM%20L", {"sku": "TEE/M L"})


def test_a_bad_query_fails_for_good_naming_the_task(tmp_path: Path, receiver: Receiver) -> None:
    workflow = """
        name: send
        tasks:
          - id: push
            http: URL
            for_each: {query: "SELECT * FROM commerce.nope"}
            retries: 2
    """
    root = project(tmp_path, workflow.replace("URL", receiver.url("/x")))
    duckdb_orders(root)
    out = task(run(root), "push")
    assert out["attempts"] == 1
    assert out["error"].startswith(
        "TerminalTaskError: task 'push': the for_each query failed on the duckdb warehouse: "
    )
    assert "nope" in out["error"]


# -- a PostgreSQL warehouse ---------------------------------------------------------------------


@pytest.fixture
def postgres_prefix() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    prefix = f"http_{uuid.uuid4().hex[:8]}_"
    yield prefix
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for schema in ("commerce", "_podium"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{schema}" CASCADE')


@pytest.mark.postgres
def test_rows_from_a_postgres_warehouse_are_sent_once(
    tmp_path: Path, receiver: Receiver, postgres_prefix: str
) -> None:
    import psycopg

    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{postgres_prefix}commerce"')
        conn.execute(
            f'CREATE TABLE "{postgres_prefix}commerce".orders'
            " (order_id INTEGER, total NUMERIC(10, 2), placed_at TIMESTAMP)"
        )
        conn.execute(
            f'INSERT INTO "{postgres_prefix}commerce".orders VALUES'
            " (7, 19.99, '2026-01-02 10:00'), (8, 5, '2026-01-02 11:00')"
        )
    config = (
        f"warehouse: {{type: postgres, url: '{POSTGRES_URL}', schema_prefix: {postgres_prefix}}}\n"
    )
    workflow = SEND_ORDERS.replace("commerce.orders", f"{postgres_prefix}commerce.orders")
    root = project(tmp_path, workflow.replace("URL", receiver.url("/pg")), config)
    first = run(root)
    assert first["status"] == "succeeded", first
    got = receiver.wait_for(2)
    assert [r.json()["order"] for r in got] == [
        {"order_id": 7, "total": 19.99, "placed_at": "2026-01-02T10:00:00"},
        {"order_id": 8, "total": 5, "placed_at": "2026-01-02T11:00:00"},
    ]
    second = run(root)
    assert task(second, "send_orders")["output"]["skipped"] == 2
    assert len(receiver.requests) == 2
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(
            f'SELECT row_key FROM "{postgres_prefix}_podium".http_sent ORDER BY row_key'
        ).fetchall()
    assert rows == [("7",), ("8",)]


def test_rows_sent_before_a_failure_are_remembered(tmp_path: Path, receiver: Receiver) -> None:
    root = project(tmp_path, SEND_ORDERS.replace("URL", receiver.url("/api/orders")))
    duckdb_orders(root, (1, "1.00"), (2, "2.00"), (3, "3.00"))
    receiver.script("/api/orders", answer(201), answer(422, {"error": "order 2 has no address"}))
    failed = run(root)
    assert failed["status"] == "failed"
    error = task(failed, "send_orders")["error"]
    assert "task 'send_orders' (row key 2): POST " in error
    assert "returned 422 Unprocessable Entity" in error
    assert "(1 earlier calls went through)" in error
    assert task(failed, "send_orders")["attempts"] == 1  # retries: 1, but a 422 is terminal

    fixed = run(root)  # the receiver takes everything now
    assert task(fixed, "send_orders")["output"]["skipped"] == 1
    got = receiver.wait_for(4)
    assert [r.json()["order"]["order_id"] for r in got] == [1, 2, 2, 3]
