"""``podium models list | graph | compile | run`` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from .conftest import podium_cli


def project(tmp_path: Path) -> Path:
    (tmp_path / "podium.yaml").write_text("warehouse:\n  type: duckdb\n")
    files = {
        "models/staging/numbers.sql": "select range as n from range(5)",
        "models/marts/total.sql": "-- materialized: table\nselect sum(n) as total from staging.numbers",
        "models/marts/broken.sql": "select missing_column from staging.numbers",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_list_graph_and_compile(tmp_path: Path) -> None:
    root = project(tmp_path)
    listed = podium_cli(root, "models", "list", "--json")
    assert listed.code == 0, listed.err
    assert [m["name"] for m in json.loads(listed.out)] == [
        "staging.numbers",
        "marts.broken",
        "marts.total",
    ]
    graph = podium_cli(root, "models", "graph")
    assert "marts.total <- staging.numbers" in graph.out
    compiled = podium_cli(root, "models", "compile", "total", "--dialect", "postgres")
    assert compiled.code == 0 and "SUM(n)" in compiled.out


def test_run_builds_what_it_can_and_says_what_failed(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = podium_cli(root, "models", "run", "+marts")
    assert done.code == 1
    assert "marts.total: table, 1 rows" in done.out
    assert "marts.broken: FAILED:" in done.out and "missing_column" in done.out
    assert "Traceback" not in done.out + done.err
    with duckdb.connect(str(root / ".podium/warehouse.duckdb")) as db:
        assert db.execute("select total from marts.total").fetchall() == [(10,)]


def test_a_bad_model_file_is_a_clear_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "models/marts/bad.sql").write_text("-- materialized: sometimes\nselect 1")
    done = podium_cli(root, "models", "list")
    assert done.code == 2
    assert "models/marts/bad.sql:1: materialized: expected view, table or incremental" in (
        done.err + done.out
    )


def test_models_run_runs_each_models_checks_and_podium_checks_runs_them_alone(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    (root / "models/marts/broken.sql").unlink()
    (root / "checks").mkdir()
    (root / "checks/numbers.yaml").write_text(
        "checks:\n"
        "  - {kind: row_count, model: staging.numbers, min: 5}\n"
        "  - {kind: sql, name: small_numbers, model: staging.numbers, severity: warn,\n"
        "     sql: 'select n from staging.numbers where n > 2'}\n"
        "  - {kind: accepted_values, model: marts.total, column: total, values: [11]}\n"
    )
    done = podium_cli(root, "models", "run")
    assert done.code == 1, done
    assert "check staging_numbers_row_count: passed" in done.out
    assert "check small_numbers: warning: " in done.out
    assert "marts.total: FAILED: 1 check(s) failed" in done.out
    alone = podium_cli(root, "checks", "small_numbers", "--json")
    assert alone.code == 0, alone  # a warning does not fail the command
    [result] = json.loads(alone.out)
    assert result["failing"] == 2 and result["sample"]
    every = podium_cli(root, "checks")
    assert every.code == 1 and "1 passed, 1 failed, 1 warning" in every.out, every  # apart
    assert "Traceback" not in every.out + every.err


def test_a_model_reading_a_table_never_loaded_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "podium.yaml").write_text(
        "connections:\n  shop:\n    type: files\n    path: inbox\n"
        "    streams: {orders: {format: csv}}\n"
    )
    (tmp_path / "inbox").mkdir()
    (tmp_path / "models/commerce").mkdir(parents=True)
    (tmp_path / "models/commerce/orders.sql").write_text("select * from raw_shop.orders")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows/daily.yaml").write_text(
        "name: daily\ntasks:\n  - {id: models, transform: commerce}\n"
    )
    done = podium_cli(tmp_path, "run", "daily", "--json")
    assert done.code == 1
    [task] = json.loads(done.out)["tasks"]
    assert "reads raw_shop.orders, which does not exist yet" in task["error"]
    assert "podium extract" in task["error"]


def test_models_run_builds_what_a_models_checks_read_first(tmp_path: Path) -> None:
    (tmp_path / "podium.yaml").write_text("warehouse:\n  type: duckdb\n")
    (tmp_path / "models/shop").mkdir(parents=True)
    # a_lines reads no model, but its check reads z_orders: z_orders must exist first
    (tmp_path / "models/shop/a_lines.sql").write_text("select range as order_id from range(3)")
    (tmp_path / "models/shop/z_orders.sql").write_text("select range as id from range(5)")
    (tmp_path / "models/shop/a_lines.yaml").write_text(
        "checks:\n  - {kind: relationships, column: order_id, to: shop.z_orders, field: id}\n"
    )
    done = podium_cli(tmp_path, "models", "run")
    assert done.code == 0, done
    assert done.out.index("shop.z_orders:") < done.out.index("shop.a_lines:")
