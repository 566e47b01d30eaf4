"""Models built on both warehouses: views, tables, incremental merges with a lookback, and
a failed model that stops only what reads it. DuckDB (a file per test) and the real local
PostgreSQL (a schema prefix per test; skipped with the reason when unset)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from podium.core.workflow import Project
from podium.transforms.service import run_models

from .conftest import sql


def write(project: Project, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = Path(project.root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def seed(project: Project) -> None:
    sql(project, "CREATE SCHEMA IF NOT EXISTS raw_shop")
    sql(
        project,
        "CREATE TABLE raw_shop.orders (id BIGINT, total DECIMAL(18,2), "
        "updated_at TIMESTAMPTZ, status VARCHAR)",
    )
    rows = [(1, "10.00", 1, "paid"), (2, "20.50", 2, "paid"), (3, "5.25", 3, "refunded")]
    for id_, total, day, status in rows:
        sql(
            project,
            f"INSERT INTO raw_shop.orders VALUES ({id_}, {total}, "
            f"TIMESTAMPTZ '2026-11-0{day} 10:00:00+00', '{status}')",
        )


MODELS = {
    "models/commerce/orders.sql": (
        "-- materialized: incremental\n-- unique_key: order_id\n-- updated_at: updated_at\n"
        "-- lookback: 1d\n"
        "select id as order_id, total, updated_at, status from raw_shop.orders"
    ),
    "models/commerce/daily.sql": (
        "-- materialized: table\n"
        "select cast(updated_at as date) as day, sum(total) as revenue, count(*) as orders "
        "from commerce.orders where status = 'paid' group by 1"
    ),
    "models/commerce/paid.sql": "select order_id from commerce.orders where status = 'paid'",
}


def test_models_build_in_order_on_the_warehouse(project: Project) -> None:
    seed(project)
    write(project, MODELS)
    result = run_models(project, "commerce")
    assert result.ok, result.failed
    assert [b.model for b in result.built] == ["commerce.orders", "commerce.daily", "commerce.paid"]
    assert sql(project, "SELECT day, revenue, orders FROM commerce.daily ORDER BY 1") == [
        (datetime(2026, 11, 1).date(), Decimal("10.00"), 1),
        (datetime(2026, 11, 2).date(), Decimal("20.50"), 1),
    ]
    assert sql(project, "SELECT order_id FROM commerce.paid ORDER BY 1") == [(1,), (2,)]


def test_an_incremental_model_merges_rows_within_its_lookback(project: Project) -> None:
    seed(project)
    write(project, MODELS)
    assert run_models(project, "commerce.orders").ok
    # a late update inside the window, one outside it, and a new order
    sql(
        project,
        "UPDATE raw_shop.orders SET status = 'refunded', updated_at = "
        "TIMESTAMPTZ '2026-11-02 12:00:00+00' WHERE id = 2",
    )
    sql(project, "UPDATE raw_shop.orders SET total = 99 WHERE id = 1")
    sql(
        project,
        "INSERT INTO raw_shop.orders VALUES (4, 7.00, "
        "TIMESTAMPTZ '2026-11-04 09:00:00+00', 'paid')",
    )
    result = run_models(project, "commerce.orders")
    assert result.ok
    assert result.built[0].written == 3  # ids 2, 3 (within a day of the max) and 4
    rows = sql(project, "SELECT order_id, total, status FROM commerce.orders ORDER BY 1")
    assert rows == [
        (1, Decimal("10.00"), "paid"),  # older than the window: kept as stored
        (2, Decimal("20.50"), "refunded"),
        (3, Decimal("5.25"), "refunded"),
        (4, Decimal("7.00"), "paid"),
    ]


def test_an_incremental_merge_replaces_rows_whose_key_is_null_too(project: Project) -> None:
    seed(project)
    sql(project, "UPDATE raw_shop.orders SET status = NULL WHERE id = 3")
    write(
        project,
        {
            "models/commerce/by_status.sql": (
                "-- materialized: incremental\n-- unique_key: [status, day]\n"
                "-- updated_at: updated_at\n"
                "select status, cast(updated_at as date) as day, max(updated_at) as updated_at,"
                " sum(total) as total from raw_shop.orders group by 1, 2"
            )
        },
    )
    assert run_models(project, "commerce.by_status").ok
    sql(project, "UPDATE raw_shop.orders SET total = 6.25 WHERE id = 3")
    assert run_models(project, "commerce.by_status").ok
    rows = sql(project, "SELECT status, total FROM commerce.by_status ORDER BY day")
    assert rows == [("paid", Decimal("10.00")), ("paid", Decimal("20.50")), (None, Decimal("6.25"))]


def test_a_failed_model_stops_only_the_models_reading_it(project: Project) -> None:
    seed(project)
    write(project, MODELS)
    write(
        project,
        {"models/commerce/orders.sql": "select id as order_id, nope from raw_shop.orders"},
    )
    write(project, {"models/commerce/other.sql": "select count(*) as n from raw_shop.orders"})
    result = run_models(project, "*")
    assert list(result.failed) == ["commerce.orders"]
    assert result.skipped == {
        "commerce.daily": "commerce.orders",
        "commerce.paid": "commerce.orders",
    }
    assert [b.model for b in result.built] == ["commerce.other"]


def test_a_model_can_change_from_view_to_table(project: Project) -> None:
    seed(project)
    write(project, {"models/commerce/n.sql": "select count(*) as n from raw_shop.orders"})
    assert run_models(project, "n").ok
    write(project, {"models/commerce/n.sql": "-- materialized: table\nselect 1 as n"})
    assert run_models(project, "n").ok
    assert sql(project, "SELECT n FROM commerce.n") == [(1,)]


def test_tasks_running_at_once_create_one_schema_without_failing(project: Project) -> None:
    """Two models of one schema built in parallel both create the schema; on PostgreSQL
    two sessions' CREATE SCHEMA IF NOT EXISTS at once fail with a unique violation, which
    failed a model of the commerce e2e test now and then. (A DuckDB file has one user at a
    time: there the tasks take turns.)"""
    import threading

    from podium.transforms.warehouse_sql import open_warehouse_sql

    together = project.warehouse["type"] == "postgres"
    errors: list[BaseException] = []

    def create(start: threading.Barrier) -> None:
        try:
            if not together:
                start.wait(timeout=30)
            with open_warehouse_sql(project.warehouse, Path(project.root)) as wh:
                if together:
                    start.wait(timeout=30)
                wh.ensure_schema("commerce")
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    for _ in range(5):
        sql(project, "DROP SCHEMA IF EXISTS commerce CASCADE")
        start = threading.Barrier(6)
        threads = [threading.Thread(target=create, args=(start,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    with open_warehouse_sql(project.warehouse, Path(project.root)) as wh:
        found = wh.query(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?",
            (wh.schema_prefix + "commerce",),
        )
    assert found == [(1,)]
