"""A dbt project run as podium tasks, model by model, with real dbt-core on DuckDB.

The project under ``tests/dbt_projects/shop`` has staging models over the raw tables two
``files`` extracts load (source ``shop`` by name, source ``marketplace`` by
``meta: {podium: {connection: amazon}}``), marts, a seed, a snapshot, generic tests
(unique, not_null, relationships, accepted_values) and a singular test.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from podium.project import load_project
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES

from .conftest import podium_cli

pytest.importorskip("dbt.cli.main", reason="dbt is not installed: pip install 'podium[dbt]'")

SHOP = Path(__file__).resolve().parents[1] / "dbt_projects" / "shop"
CONNECTIONS = """
connections:
  shop:
    type: files
    path: inbox/shop
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
      customers: {pattern: "customers*.csv", primary_key: id}
  amazon:
    type: files
    path: inbox/amazon
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
"""
WORKFLOW = """
name: daily
tasks:
  - {id: shop, extract: shop}
  - {id: amazon, extract: amazon}
  - id: dbt
    dbt: analytics
    select: +orders +shop_revenue +customers_snapshot
"""
NODES = [
    "dbt.channels",
    "dbt.customers_snapshot",
    "dbt.orders",
    "dbt.shop_revenue",
    "dbt.stg_amazon_orders",
    "dbt.stg_customers",
    "dbt.stg_shop_orders",
]


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """DuckDB, or PostgreSQL with a schema prefix of the test's own (dropped after)."""
    if request.param == "duckdb":
        yield {"type": "duckdb"}
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    prefix = f"dbt{uuid.uuid4().hex[:8]}_"
    yield {"type": "postgres", "url": POSTGRES_URL, "schema_prefix": prefix}
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def write_project(
    root: Path, workflow: str = WORKFLOW, warehouse: Mapping[str, Any] | None = None
) -> None:
    shutil.copytree(SHOP, root / "analytics")
    config = yaml.safe_dump({"warehouse": dict(warehouse or {"type": "duckdb"})})
    files = {
        "podium.yaml": config + CONNECTIONS,
        "workflows/daily.yaml": workflow,
        "inbox/shop/orders1.csv": "id,customer_id,total\n1,1,10.50\n2,2,4.25\n",
        "inbox/shop/customers1.csv": "id,email\n1,a@example.com\n2,b@example.com\n",
        "inbox/amazon/orders1.csv": "id,customer_id,total\n3,1,7.00\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def run_daily(root: Path) -> dict:
    done = podium_cli(root, "run", "daily", "--json", timeout=240)
    return {"code": done.code, **json.loads(done.out or "{}"), "_result": str(done)}


def tasks_of(run: dict) -> dict[str, dict]:
    return {t["id"]: t for t in run["tasks"]}


def test_every_node_is_a_task_waiting_only_for_the_extracts_it_reads(tmp_path: Path) -> None:
    write_project(tmp_path)
    workflow = load_project(tmp_path, environ={}).workflows["daily"]
    graph = {t.id: {"depends_on": list(t.depends_on)} for t in workflow.tasks}
    assert sorted(t for t in graph if t.startswith("dbt.")) == NODES
    assert graph["dbt.stg_amazon_orders"]["depends_on"] == ["amazon"]  # by meta mapping
    assert graph["dbt.stg_customers"]["depends_on"] == ["shop"]
    assert graph["dbt.channels"]["depends_on"] == []
    assert set(graph["dbt.orders"]["depends_on"]) == {
        "dbt.stg_shop_orders", "dbt.stg_amazon_orders", "dbt.channels"
    }  # fmt: skip
    # the relationships test reads stg_customers: the task running it waits for that one
    assert "dbt.stg_customers" in graph["dbt.stg_shop_orders"]["depends_on"]
    shown = podium_cli(tmp_path, "graph", "daily")
    assert shown.code == 0, shown
    assert "dbt.orders" in shown.out and "[dbt_node]" in shown.out


def test_a_workflow_builds_the_dbt_project_and_reports_tests_as_checks(
    tmp_path: Path, warehouse: dict[str, Any]
) -> None:
    write_project(tmp_path, warehouse=warehouse)
    started = time.monotonic()
    run = run_daily(tmp_path)
    seconds = time.monotonic() - started
    assert run["code"] == 0, run["_result"]
    tasks = tasks_of(run)
    assert all(tasks[n]["status"] == "succeeded" for n in NODES), tasks
    # batched: not one dbt process per node (7), but one invocation per wave of ready nodes:
    # the seed at once, what each extract lets through, and, when the two extracts' waves
    # reach dbt in the other order, the mart reading both on its own
    invocations = {tasks[n]["output"]["invocation"]["number"] for n in NODES}
    assert len(invocations) <= 4, invocations
    assets = {a["asset"]: a for a in json.loads(podium_cli(tmp_path, "assets", "--json").out)}
    assert "dbt_marts.orders" in assets and "dbt.stg_shop_orders" in assets
    checks = json.loads(podium_cli(tmp_path, "show", run["run_id"], "--json").out)
    text = json.dumps(checks)
    assert "accepted_values_orders_channel" in text and "no_negative_totals" in text
    print(f"podium run daily with dbt on {warehouse['type']}: {seconds:.2f}s")  # noqa: T201 - the report's figure


def test_a_dbt_task_with_nothing_to_wait_for_is_one_dbt_invocation(tmp_path: Path) -> None:
    only_dbt = (
        "name: daily\ntasks:\n  - {id: dbt, dbt: analytics, select: 'channels stg_customers+'}\n"
    )
    write_project(tmp_path, only_dbt)
    assert podium_cli(tmp_path, "extract", "shop", timeout=120).code == 0
    run = run_daily(tmp_path)
    assert run["code"] == 0, run["_result"]
    nodes = [t for t in run["tasks"] if t["id"].startswith("dbt.")]
    assert {t["id"] for t in nodes} == {
        "dbt.channels",
        "dbt.stg_customers",
        "dbt.customers_snapshot",
    }
    assert {(t["output"]["invocation"]["nodes"]) for t in nodes} == {3}
    assert len({t["output"]["invocation"]["number"] for t in nodes}) == 1


def test_with_the_processes_executor_each_node_is_built_alone(tmp_path: Path) -> None:
    """Worker processes do not share a session: each node is one dbt invocation, and
    dbt in one process waits while another holds the DuckDB file."""
    write_project(tmp_path)
    config = tmp_path / "podium.yaml"
    config.write_text(config.read_text() + "engine: {executor: processes}\n")
    run = run_daily(tmp_path)
    assert run["code"] == 0, run["_result"]
    tasks = tasks_of(run)
    assert all(tasks[n]["status"] == "succeeded" for n in NODES), tasks
    assert {tasks[n]["output"]["invocation"]["nodes"] for n in NODES} == {1}


def test_a_failing_model_fails_its_dependants_only_and_retry_fixes_it(
    tmp_path: Path, warehouse: dict[str, Any]
) -> None:
    write_project(tmp_path, warehouse=warehouse)
    model = tmp_path / "analytics/models/staging/stg_amazon_orders.sql"
    good = model.read_text()
    model.write_text(good.replace("customer_id,", "no_such_column,"))
    run = run_daily(tmp_path)
    assert run["code"] != 0
    tasks = tasks_of(run)
    assert tasks["dbt.stg_amazon_orders"]["status"] == "failed"
    assert "stg_amazon_orders.sql" in (tasks["dbt.stg_amazon_orders"].get("error") or "")
    assert tasks["dbt.orders"]["status"] == "upstream_failed"
    for built in ("dbt.stg_shop_orders", "dbt.shop_revenue", "dbt.customers_snapshot"):
        assert tasks[built]["status"] == "succeeded", tasks[built]
    model.write_text(good)
    again = podium_cli(tmp_path, "retry", run["run_id"], "--failed-only", "--wait", timeout=240)
    assert again.code == 0, again
    shown = json.loads(podium_cli(tmp_path, "show", run["run_id"], "--json").out)
    statuses = {t["id"]: t["status"] for t in shown["tasks"]}
    assert all(statuses[n] == "succeeded" for n in NODES), statuses
    attempts = {t["id"]: t["attempts"] for t in shown["tasks"]}
    # only the failed node and what depends on it ran again
    assert attempts["dbt.stg_amazon_orders"] == 2 and attempts["dbt.orders"] == 1
    assert attempts["dbt.stg_shop_orders"] == 1 and attempts["shop"] == 1


def test_a_compile_error_in_one_model_fails_that_node_and_its_dependants_only(
    tmp_path: Path,
) -> None:
    """An unknown macro passes dbt's parse (it captures macro calls) and fails when dbt
    compiles that model: its task fails with dbt's message and the file."""
    write_project(tmp_path)
    model = tmp_path / "analytics/models/staging/stg_amazon_orders.sql"
    model.write_text(model.read_text().replace("customer_id,", "{{ no_such_macro() }} as x,"))
    run = run_daily(tmp_path)
    assert run["code"] != 0
    tasks = tasks_of(run)
    error = tasks["dbt.stg_amazon_orders"].get("error") or ""
    assert tasks["dbt.stg_amazon_orders"]["status"] == "failed", tasks
    assert "models/staging/stg_amazon_orders.sql" in error and "no_such_macro" in error, error
    assert "Compilation Error" in error, error
    assert tasks["dbt.orders"]["status"] == "upstream_failed"
    for built in ("dbt.stg_shop_orders", "dbt.shop_revenue", "dbt.customers_snapshot"):
        assert tasks[built]["status"] == "succeeded", tasks[built]


def test_a_parse_error_names_the_file_and_dbts_message(tmp_path: Path) -> None:
    """Errors dbt finds while parsing (an unknown ref) stop the whole dbt task, as they
    stop dbt itself: a validate problem at the task's line, naming the model's file."""
    write_project(tmp_path)
    model = tmp_path / "analytics/models/staging/stg_amazon_orders.sql"
    model.write_text(model.read_text() + "\n-- {{ ref('no_such_model') }}\n")
    done = podium_cli(tmp_path, "validate", timeout=120)
    assert done.code != 0
    said = done.err + done.out
    assert "workflows/daily.yaml" in said and "no_such_model" in said, said
    assert "stg_amazon_orders" in said, said


def test_a_failing_dbt_test_fails_its_check_with_failing_rows(
    tmp_path: Path, warehouse: dict[str, Any]
) -> None:
    write_project(tmp_path, warehouse=warehouse)
    (tmp_path / "inbox/amazon/orders1.csv").write_text(
        "id,customer_id,total\n3,1,-7.00\n4,1,5000.00\n"
    )
    run = run_daily(tmp_path)
    assert run["code"] != 0
    tasks = tasks_of(run)
    assert tasks["dbt.orders"]["status"] == "failed"
    assert "no_negative_totals" in (tasks["dbt.orders"].get("error") or "")
    logs = podium_cli(tmp_path, "logs", run["run_id"], "dbt.orders").out
    assert "check no_negative_totals: Got 1 result" in logs
    assert "'order_id': 3" in logs  # the failing row's sample
    with sqlite3.connect(tmp_path / ".podium/state.db") as store:
        rows = store.execute(
            "SELECT payload FROM events WHERE type = 'CheckEvaluated' AND task_id = 'dbt.orders'"
        ).fetchall()
    checks = {c["check"]: c for c in (json.loads(r[0]) for r in rows)}
    assert checks["no_negative_totals"]["passed"] is False
    assert checks["no_negative_totals"]["failing"] == 1
    assert checks["no_negative_totals"]["severity"] == "error"
    assert checks["accepted_values_orders_channel__shop__amazon"]["passed"] is True
    # a warn-severity test that fails is reported, and alone would not fail the task
    assert checks["large_orders"]["passed"] is False
    assert checks["large_orders"]["severity"] == "warn"


def test_a_failing_warn_test_is_reported_and_the_node_succeeds(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "inbox/amazon/orders1.csv").write_text("id,customer_id,total\n3,1,5000.00\n")
    run = run_daily(tmp_path)
    assert run["code"] == 0, run["_result"]
    orders = tasks_of(run)["dbt.orders"]
    assert orders["status"] == "succeeded"
    checks = {c["name"]: c for c in orders["output"]["checks"]}
    assert checks["large_orders"]["passed"] is False
    assert checks["large_orders"]["severity"] == "warn" and checks["large_orders"]["failing"] == 1
    assert checks["large_orders"]["sample"][0]["order_id"] == 3


def test_a_missing_dbt_project_is_a_validate_problem(tmp_path: Path) -> None:
    write_project(tmp_path, WORKFLOW.replace("dbt: analytics", "dbt: nowhere"))
    done = podium_cli(tmp_path, "validate", timeout=120)
    assert done.code != 0
    assert "workflows/daily.yaml" in done.err + done.out
    assert "nowhere" in done.err + done.out and "does not exist" in done.err + done.out


def test_a_bad_selection_is_a_validate_problem(tmp_path: Path) -> None:
    write_project(tmp_path, WORKFLOW.replace("+orders +shop_revenue +customers_snapshot", "nope"))
    done = podium_cli(tmp_path, "validate", timeout=120)
    assert done.code != 0
    assert "chooses no dbt model" in done.err + done.out


LATE_WORKFLOW = """
name: daily
tasks:
  - {id: shop, extract: shop}
  - id: amazon
    extract: amazon
    late_after: 1s
    on_late: continue
  - id: dbt
    dbt: analytics
    select: +orders +shop_revenue
"""


def test_a_late_source_marks_its_dbt_models_incomplete_and_the_catchup_rebuilds_them(
    tmp_path: Path, warehouse: dict[str, Any]
) -> None:
    from podium.sandbox import Faults
    from podium.sandbox.faults import ALWAYS
    from podium.sandbox.pages import PageServer

    records = [
        {"id": 200 + n, "customer_id": 1, "total": n + 0.5, "updated_at": f"2026-11-2{n}T10:00:00Z"}
        for n in range(3)
    ]
    with PageServer(records, faults=Faults(slow=ALWAYS, slow_seconds=2.5)) as amazon:
        write_project(tmp_path, LATE_WORKFLOW, warehouse)
        config = (tmp_path / "podium.yaml").read_text()
        rest = (
            f"  amazon:\n    type: rest\n    base_url: {amazon.url}\n"
            "    pagination: {style: link}\n    streams:\n      orders:\n"
            "        path: /orders.json\n        records: orders\n        primary_key: id\n"
            "        cursor: updated_at\n"
        )
        files_amazon = config[config.index("  amazon:\n") :]
        (tmp_path / "podium.yaml").write_text(config.replace(files_amazon, rest))
        # yesterday's load: the raw table exists, as it does on every day but the first
        assert podium_cli(tmp_path, "extract", "amazon", timeout=120).code == 0
        run = run_daily(tmp_path)
    assert run["code"] == 0, run["_result"]
    tasks = tasks_of(run)
    assert tasks["amazon"]["late"]
    assert tasks["dbt.stg_shop_orders"]["incomplete"] is False
    assert tasks["dbt.shop_revenue"]["incomplete"] is False
    assert tasks["dbt.stg_amazon_orders"]["incomplete"] is True
    assert tasks["dbt.orders"]["incomplete"] is True
    [catchup_id] = run["catchup_runs"]
    catchup = json.loads(podium_cli(tmp_path, "show", catchup_id, "--json").out)
    rerun = sorted(t["id"] for t in catchup["tasks"] if t["status"] == "succeeded")
    assert rerun == ["dbt.orders", "dbt.stg_amazon_orders"]
    assets = {a["asset"]: a for a in json.loads(podium_cli(tmp_path, "assets", "--json").out)}
    assert assets["dbt_marts.orders"]["complete"]
