"""``transform:`` tasks in a workflow: one task per model, wired to the extracts whose
tables it reads, each retried alone."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import duckdb

from .conftest import podium_cli

PODIUM_YAML = """
warehouse: {type: duckdb}
connections:
  shop:
    type: files
    path: inbox/shop
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
  retail:
    type: files
    path: inbox/retail
    streams:
      sales: {pattern: "sales*.csv", primary_key: [store, day]}
"""
WORKFLOW = """
name: daily
tasks:
  - id: shop
    extract: shop
  - id: retail
    extract: retail
  - id: models
    transform: commerce
    depends_on: [shop, retail]
  - id: report
    shell: echo done
    depends_on: [models]
"""
MODELS = {
    "models/commerce/orders.sql": "select id, total from raw_shop.orders",
    "models/commerce/revenue.sql": (
        "-- materialized: table\nselect sum(total) as revenue from commerce.orders"
    ),
    "models/commerce/store_sales.sql": "select store, sum(units) as units from raw_retail.sales group by store",
}


def project(root: Path) -> Path:
    files = {
        "podium.yaml": PODIUM_YAML,
        "workflows/daily.yaml": WORKFLOW,
        "inbox/shop/orders1.csv": "id,total\n1,10.50\n2,4.25\n",
        "inbox/retail/sales1.csv": "store,day,units\nA,2026-11-01,3\nB,2026-11-01,5\n",
        **MODELS,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_each_model_is_a_task_wired_to_the_extracts_it_reads(tmp_path: Path) -> None:
    root = project(tmp_path)
    graph = podium_cli(root, "graph", "daily", "--format", "dot")
    assert graph.code == 0, graph
    edges = set(re.findall(r'"([^"]+)" -> "([^"]+)"', graph.out))
    assert edges == {
        ("shop", "models.commerce.orders"),
        ("retail", "models.commerce.store_sales"),
        ("models.commerce.orders", "models.commerce.revenue"),
        ("models.commerce.orders", "report"),
        ("models.commerce.revenue", "report"),
        ("models.commerce.store_sales", "report"),
    }
    done = podium_cli(root, "run", "daily", "--json")
    assert done.code == 0, done
    tasks = {t["id"]: t for t in json.loads(done.out)["tasks"]}
    assert all(t["status"] == "succeeded" for t in tasks.values())
    assert tasks["models.commerce.revenue"]["output"]["rows"] == 1
    with duckdb.connect(str(root / ".podium/warehouse.duckdb")) as db:
        assert db.execute("select revenue from commerce.revenue").fetchall()[0][0] == 14.75


def test_a_failed_model_is_retried_alone(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "models/commerce/store_sales.sql").write_text("select nope from raw_retail.sales")
    done = podium_cli(root, "run", "daily", "--json")
    assert done.code == 1
    run = json.loads(done.out)
    statuses = {t["id"]: t["status"] for t in run["tasks"]}
    assert statuses["models.commerce.store_sales"] == "failed"
    assert statuses["models.commerce.revenue"] == "succeeded"
    assert statuses["report"] == "upstream_failed"
    (root / "models/commerce/store_sales.sql").write_text(MODELS["models/commerce/store_sales.sql"])
    again = podium_cli(root, "retry", run["run_id"], "--failed-only", "--wait")
    assert again.code == 0, again
    shown = json.loads(podium_cli(root, "show", run["run_id"], "--json").out)
    attempts = {t["id"]: t["attempts"] for t in shown["tasks"]}
    assert attempts["models.commerce.orders"] == 1  # not run again
    assert attempts["models.commerce.store_sales"] == 2


def test_an_unknown_selector_is_a_project_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "workflows/daily.yaml").write_text(
        WORKFLOW.replace("transform: commerce", "transform: nope")
    )
    done = podium_cli(root, "validate")
    assert done.code == 2
    assert "workflows/daily.yaml" in done.err + done.out
    assert "no model or folder matches 'nope'" in done.err + done.out


def test_checks_beside_a_model_run_after_it_and_an_error_blocks_downstream(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    (root / "models/commerce/orders.yaml").write_text(
        "checks:\n"
        "  - {kind: not_null, column: total}\n"
        "  - {kind: row_count, min: 5, severity: warn}\n"
        "  - {kind: accepted_values, column: id, values: [1]}\n"
    )
    (root / "checks").mkdir()
    (root / "checks/sales.yaml").write_text(
        "checks:\n  - {kind: unique, model: commerce.store_sales, column: store}\n"
    )
    (root / "workflows/daily.yaml").write_text(
        WORKFLOW + "  - id: sales_checks\n    check: checks/sales.yaml\n    depends_on: [models]\n"
    )
    done = podium_cli(root, "run", "daily", "--json")
    assert done.code == 1, done
    tasks = {t["id"]: t for t in json.loads(done.out)["tasks"]}
    orders = tasks["models.commerce.orders"]
    assert orders["status"] == "failed"
    assert "commerce_orders_accepted_values_id" in orders["error"]
    assert "1 unexpected values of id (allowed: 1)" in orders["error"]
    assert tasks["models.commerce.revenue"]["status"] == "upstream_failed"
    assert tasks["models.commerce.store_sales"]["status"] == "succeeded"
    logs = podium_cli(root, "logs", json.loads(done.out)["run_id"], "models.commerce.orders")
    assert "commerce.orders has 2 rows, expected ≥ 5" in logs.out  # the warning, logged
    (root / "models/commerce/orders.yaml").write_text(
        "checks:\n  - {kind: not_null, column: total}\n"
    )
    again = podium_cli(root, "run", "daily", "--json")
    assert again.code == 0, again
    tasks = {t["id"]: t for t in json.loads(again.out)["tasks"]}
    assert [c["passed"] for c in tasks["sales_checks"]["output"]["checks"]] == [True]


def test_assets_lists_every_table_with_its_rows_and_completeness(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert podium_cli(root, "run", "daily").code == 0
    listed = podium_cli(root, "assets", "--json")
    assert listed.code == 0, listed
    found = {a["asset"]: a for a in json.loads(listed.out)}
    assert set(found) == {
        "raw_shop.orders",
        "raw_retail.sales",
        "commerce.orders",
        "commerce.revenue",
        "commerce.store_sales",
    }
    assert found["raw_shop.orders"]["rows"] == 2
    assert found["commerce.revenue"]["rows"] == 1
    assert found["commerce.orders"]["task_id"] == "models.commerce.orders"
    assert all(a["complete"] for a in found.values())
    text = podium_cli(root, "assets").out
    assert "commerce.revenue" in text and "complete" in text


def test_a_model_whose_checks_read_another_model_waits_for_it(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "checks").mkdir()
    (root / "checks/links.yaml").write_text(
        # store_sales reads no model, but its checks read commerce.orders and revenue;
        # revenue's check reads store_sales, which would close a cycle: that edge is dropped
        "checks:\n"
        "  - {kind: relationships, model: commerce.store_sales, column: store,\n"
        "     to: commerce.orders, field: id, severity: warn}\n"
        "  - {kind: sql, name: revenue_vs_units, model: commerce.store_sales, severity: warn,\n"
        "     sql: 'select * from commerce.revenue where revenue < 0'}\n"
        "  - {kind: sql, name: units_vs_revenue, model: commerce.revenue, severity: warn,\n"
        "     sql: 'select * from commerce.store_sales where units < 0'}\n"
    )
    graph = podium_cli(root, "graph", "daily", "--format", "dot")
    assert graph.code == 0, graph
    edges = set(re.findall(r'"([^"]+)" -> "([^"]+)"', graph.out))
    assert ("models.commerce.orders", "models.commerce.store_sales") in edges
    assert ("models.commerce.revenue", "models.commerce.store_sales") in edges
    assert ("models.commerce.store_sales", "models.commerce.revenue") not in edges
    done = podium_cli(root, "run", "daily", "--json")
    assert done.code == 0, done


def test_check_results_are_events(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "models/commerce/orders.yaml").write_text(
        "checks:\n  - {kind: row_count, min: 5, severity: warn}\n"
        "  - {kind: not_null, column: total}\n"
    )
    done = podium_cli(root, "run", "daily", "--json")
    assert done.code == 0, done
    with sqlite3.connect(root / ".podium/state.db") as db:
        rows = db.execute(
            "SELECT task_id, payload FROM events WHERE type = 'CheckEvaluated' ORDER BY seq"
        ).fetchall()
    results = {json.loads(p)["check"]: (t, json.loads(p)) for t, p in rows}
    task, warned = results["commerce_orders_row_count"]
    assert task == "models.commerce.orders" and warned["passed"] is False
    assert warned["severity"] == "warn" and "expected ≥ 5" in warned["message"]
    assert results["commerce_orders_not_null_total"][1]["passed"] is True
