"""``podium init --template commerce-dbt``: the commerce model as a dbt project, run by
the daily workflow's ``dbt:`` task against the simulators. Its daily sales equal the
simulators' ground truth to the cent, and every table it builds equals the one podium's
own models build from the same raw tables (columns, types and every row), on DuckDB and
on PostgreSQL; and, on DuckDB, again three days later through the incremental models (the
PostgreSQL case builds day 0 only, to keep the suite within CI's time)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.postgres_schemas import POSTGRES_URL, SKIP_POSTGRES

from podium.sandbox.brand import BrandConfig
from podium.sandbox.service import SERVED, Sandbox, start_sandbox
from podium.transforms.pii import pads

from .conftest import podium_cli
from .test_commerce_model import BRAND, commerce_project, daily_sales, expected_sales, run_daily

pytest.importorskip("dbt.cli.main", reason="dbt is not installed: pip install 'podium[dbt]'")

#: the tables both templates build
TABLES = [
    *(
        f"commerce.{t}"
        for t in (
            "orders", "order_lines", "refunds", "customers", "identity_map", "products",
            "sku_map", "inventory_snapshots", "payments_fees", "marketing_spend",
            "marketing_events", "sell_through",
        )
    ),
    *(
        f"marts.{t}"
        for t in (
            "daily_sales_by_channel", "customer_orders", "new_vs_returning", "cohort_revenue",
            "marketing_efficiency", "vip_customers",
        )
    ),
]  # fmt: skip


@pytest.fixture(params=["duckdb", "postgres"])
def warehouses(request: pytest.FixtureRequest) -> Iterator[list[dict[str, Any]]]:
    """Two warehouses of one type: podium's models build into one, dbt into the other."""
    if request.param == "duckdb":
        yield [{"type": "duckdb"}, {"type": "duckdb"}]
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    prefix = f"cd{uuid.uuid4().hex[:8]}"
    yield [
        {"type": "postgres", "url": POSTGRES_URL, "schema_prefix": f"{prefix}a_"},
        {"type": "postgres", "url": POSTGRES_URL, "schema_prefix": f"{prefix}b_"},
    ]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(config=BrandConfig(**BRAND), fast=True, apis=SERVED) as running:
        yield running


def test_the_dbt_template_equals_the_ground_truth_and_podiums_own_models(
    tmp_path: Path, sandbox: Sandbox, warehouses: list[dict[str, Any]]
) -> None:
    dbt_root = commerce_project(tmp_path / "dbt", sandbox, warehouses[0], "commerce-dbt")
    podium_root = commerce_project(tmp_path / "podium", sandbox, warehouses[1])
    assert not (dbt_root / "models").exists() and (dbt_root / "dbt/dbt_project.yml").is_file()
    # the incremental models again three days on: on DuckDB (the same SQL runs on both)
    for day in (0, 3) if warehouses[0]["type"] == "duckdb" else (0,):
        sandbox.advance(timedelta(days=day))
        run = run_daily(dbt_root)
        tasks = {t["id"]: t for t in run["tasks"]}
        assert {t["status"] for t in tasks.values()} == {"succeeded"}, tasks
        assert "dbt.daily_sales_by_channel" in tasks and "push_vip" in tasks
        checks = [c for t in tasks.values() for c in (t["output"] or {}).get("checks", [])]
        assert {c["name"] for c in checks} >= {"shopify_net_sales", "no_negative_order_amounts"}
        assert all(c["passed"] for c in checks if c["severity"] == "error"), checks
        assert daily_sales(dbt_root) == expected_sales(sandbox.clock.now(), sandbox)
        # podium's own models, built from the very raw tables dbt read
        copy_raw_tables(warehouses[0], dbt_root, warehouses[1], podium_root)
        built = podium_cli(podium_root, "models", "run", timeout=300)
        assert built.code == 0, built
        for table in TABLES:
            ours, theirs = table_of(podium_root, table), table_of(dbt_root, table)
            assert ours[0] == theirs[0], f"{table}: columns differ"
            assert ours[1] == theirs[1], f"{table}: rows differ"
            assert ours[1], f"{table} is empty"
    # the PII key reached dbt's sessions, not its files: profile, manifest, compiled SQL, log
    secrets = ["test-pii-key", *pads("test-pii-key")]
    for file in (dbt_root / ".podium/dbt").rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert not any(s.encode() in data for s in secrets), file


def copy_raw_tables(
    source: dict[str, Any], source_root: Path, target: dict[str, Any], target_root: Path
) -> None:
    """Every raw_* table of one project's warehouse, copied into the other's."""
    if source["type"] == "duckdb":
        import duckdb

        path = target_root / ".podium/warehouse.duckdb"
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path)) as db:
            db.execute(f"ATTACH '{source_root / '.podium/warehouse.duckdb'}' AS src (READ_ONLY)")
            tables = db.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_catalog = 'src' AND starts_with(table_schema, 'raw_')"
            ).fetchall()
            for schema, name in tables:
                db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                db.execute(
                    f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS'
                    f' SELECT * FROM src."{schema}"."{name}"'
                )
        return
    import psycopg

    given, wanted = source["schema_prefix"] + "raw_", target["schema_prefix"]
    with psycopg.connect(str(source["url"]), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE left(table_schema, %s) = %s",
            (len(given), given),
        ).fetchall()
        for schema, name in tables:
            mine = wanted + schema[len(source["schema_prefix"]) :]
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{mine}"')
            conn.execute(f'DROP TABLE IF EXISTS "{mine}"."{name}"')
            conn.execute(f'CREATE TABLE "{mine}"."{name}" AS SELECT * FROM "{schema}"."{name}"')


def table_of(root: Path, table: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    """A table's columns (name, type) and its rows, sorted."""
    from podium.project import load_project
    from podium.transforms.warehouse_sql import open_warehouse_sql, qualified

    project = load_project(root)
    schema, name = table.split(".")
    with open_warehouse_sql(project.warehouse, root) as db:
        columns = db.columns(schema, name)
        rows = db.query(f"SELECT * FROM {qualified(db, schema, name)}")
    return columns, sorted(rows, key=lambda row: [(v is None, str(v)) for v in row])
