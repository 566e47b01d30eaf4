"""Every check kind, passing and failing, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from podium.core.workflow import Project
from podium.errors import ProjectError
from podium.transforms.checks import Check, CheckResult, load_checks, run_check
from podium.transforms.warehouse_sql import open_warehouse_sql

from .conftest import sql

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def seed(project: Project) -> None:
    sql(project, "CREATE SCHEMA IF NOT EXISTS commerce")
    sql(
        project,
        "CREATE TABLE commerce.orders (order_id BIGINT, channel VARCHAR, total DECIMAL(18,2), "
        "ordered_at TIMESTAMPTZ)",
    )
    sql(project, "CREATE TABLE commerce.order_lines (order_id BIGINT, sku VARCHAR)")
    sql(
        project,
        "INSERT INTO commerce.orders VALUES "
        "(1, 'dtc', 10.00, TIMESTAMPTZ '2026-11-22 10:00:00+00'), "
        "(2, 'marketplace', 20.00, TIMESTAMPTZ '2026-11-22 11:00:00+00'), "
        "(3, 'marketplace', 5.00, TIMESTAMPTZ '2026-11-23 09:00:00+00')",
    )
    sql(project, "INSERT INTO commerce.order_lines VALUES (1, 'A'), (2, 'B'), (3, 'C')")


def check(project: Project, kind: str, **settings: object) -> CheckResult:
    item = Check(str(settings.pop("name", kind)), kind, "error", settings, "checks/x.yaml:1")
    with open_warehouse_sql(project.warehouse, Path(project.root)) as wh:
        return run_check(wh, item, now=NOW)


GOOD_AND_BAD = {
    "not_null": (
        {"model": "commerce.orders", "columns": ["order_id", "channel"]},
        "INSERT INTO commerce.orders VALUES (4, NULL, 1, NULL)",
        "1 rows of commerce.orders have no order_id, channel",
    ),
    "unique": (
        {"model": "commerce.orders", "columns": ["order_id"]},
        "INSERT INTO commerce.orders VALUES (1, 'dtc', 1, NULL)",
        "1 values of order_id in commerce.orders appear more than once",
    ),
    "accepted_values": (
        {"model": "commerce.orders", "column": "channel", "values": ["dtc", "marketplace"]},
        "INSERT INTO commerce.orders VALUES (5, 'retial', 1, NULL)",
        "1 unexpected values of channel (allowed: dtc, marketplace)",
    ),
    "relationships": (
        {
            "model": "commerce.order_lines",
            "column": "order_id",
            "to": "commerce.orders",
            "field": "order_id",
        },
        "INSERT INTO commerce.order_lines VALUES (9, 'Z')",
        "1 rows of commerce.order_lines point to a commerce.orders that does not exist",
    ),
    "row_count": (
        {"model": "commerce.orders", "min": 1, "max": 3},
        "INSERT INTO commerce.orders VALUES (6, 'dtc', 1, NULL)",
        "commerce.orders has 4 rows, expected 1–3",
    ),
    "freshness": (
        {"model": "commerce.orders", "column": "ordered_at", "max_age": "6h"},
        "DELETE FROM commerce.orders WHERE order_id = 3",
        "the newest commerce.orders row is 25.0 hours old",
    ),
    "sql": (
        {"sql": "select * from commerce.orders where total < 0"},
        "INSERT INTO commerce.orders VALUES (7, 'dtc', -3, NULL)",
        "sql: 1 rows break it",
    ),
    "reconciliation": (
        {
            "left": "select cast(ordered_at as date) as day, sum(total) as value "
            "from commerce.orders where channel = 'marketplace' group by 1",
            "right": "select cast(ordered_at as date) as day, sum(total) as value "
            "from commerce.orders where channel = 'marketplace' and order_id < 100 group by 1",
            "on": "day",
            "tolerance_pct": 1,
            "subject": "Amazon revenue",
        },
        "INSERT INTO commerce.orders VALUES (100, 'marketplace', 12.50, "
        "TIMESTAMPTZ '2026-11-22 12:00:00+00')",
        "Amazon revenue for 2026-11-22 is 62% above the raw total (32.50 vs 20.00)",
    ),
}


@pytest.mark.parametrize("kind", list(GOOD_AND_BAD))
def test_every_check_kind_passes_then_fails_with_a_clear_message(
    project: Project, kind: str
) -> None:
    settings, breaking, message = GOOD_AND_BAD[kind]
    seed(project)
    passing = check(project, kind, **dict(settings))
    assert passing.passed, passing.message
    sql(project, breaking)
    failing = check(project, kind, **dict(settings))
    assert not failing.passed
    assert message in failing.message
    if kind not in ("row_count", "freshness"):
        assert failing.failing >= 1 and failing.sample


def test_a_check_that_cannot_run_fails_naming_where_it_is(project: Project) -> None:
    seed(project)
    result = check(project, "not_null", model="commerce.nope", columns=["x"])
    assert not result.passed
    assert "could not run" in result.message and "checks/x.yaml:1" in result.message


def test_checks_files_are_read_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks/orders.yaml").write_text(
        "checks:\n"
        "  - {kind: unique, model: commerce.orders, column: order_id}\n"
        "  - {kind: nonsense, model: commerce.orders}\n"
        "  - {kind: freshness, model: commerce.orders, column: at}\n"
    )
    with pytest.raises(ProjectError) as raised:
        load_checks(tmp_path)
    text = str(raised.value)
    assert "checks/orders.yaml:3: kind: expected one of not_null" in text
    assert "checks/orders.yaml:4: a freshness check needs max_age" in text
    (tmp_path / "checks/orders.yaml").write_text(
        "checks:\n  - {kind: unique, model: commerce.orders, column: order_id}\n"
    )
    (tmp_path / "models/commerce").mkdir(parents=True)
    (tmp_path / "models/commerce/orders.yaml").write_text(
        "materialized: table\nchecks:\n  - {kind: not_null, column: channel, severity: warn}\n"
    )
    found = {c.name: c for c in load_checks(tmp_path)}
    assert set(found) == {"commerce_orders_unique_order_id", "commerce_orders_not_null_channel"}
    assert found["commerce_orders_not_null_channel"].model == "commerce.orders"
    assert found["commerce_orders_not_null_channel"].severity == "warn"


def test_a_reconciliation_check_reads_its_on_key_from_yaml(tmp_path: Path) -> None:
    # YAML 1.1 reads a bare ``on`` as true; the check must still find its keys
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks/revenue.yaml").write_text(
        "checks:\n"
        "  - kind: reconciliation\n"
        "    name: revenue\n"
        "    on: day\n"
        "    left: select 1 as day, 1 as value\n"
        "    right: select 1 as day, 1 as value\n"
    )
    [found] = load_checks(tmp_path)
    assert found.settings["on"] == "day"
    assert found.where == "checks/revenue.yaml:2"
