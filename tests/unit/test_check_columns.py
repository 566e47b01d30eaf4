"""A check that names a column its model does not have fails validation (file:line, the
check, the column), where the model's SELECT names its columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import ProjectError
from podium.project import load_project

MODELS = {
    "models/staging/orders.sql": "select id, cast(total as double) as total, channel from raw.o",
    "models/staging/lines.sql": "select id as line_id, order_id from raw.l",
    "models/staging/everything.sql": "select * from raw.o",
}


def project(tmp_path: Path, checks: str) -> Path:
    files = {"podium.yaml": "warehouse:\n  type: duckdb\n", **MODELS, "checks/c.yaml": checks}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_check_on_a_missing_column_is_a_problem_with_file_line_and_column(
    tmp_path: Path,
) -> None:
    root = project(
        tmp_path,
        "checks:\n"
        "  - {kind: not_null, model: staging.orders, columns: [id, totl]}\n"
        "  - {kind: accepted_values, model: staging.orders, column: Channel, values: [dtc]}\n"
        "  - {kind: relationships, model: staging.lines, column: order_id,\n"
        "     to: staging.orders, field: order_no}\n"
        "  - {kind: not_null, model: staging.everything, columns: [whatever]}\n"
        "  - {kind: freshness, model: staging.orders, column: at, max_age: 1d, name: fresh}\n",
    )
    with pytest.raises(ProjectError) as raised:
        load_project(root, environ={})
    problems = [str(p) for p in raised.value.problems]
    assert problems == [
        "checks/c.yaml:2: check 'staging_orders_not_null_id_totl': model staging.orders has no"
        " column 'totl'; did you mean 'total'? (its columns: id, total, channel;"
        " models/staging/orders.sql)",
        "checks/c.yaml:4: check 'staging_lines_relationships_order_id': model staging.orders"
        " has no column 'order_no' (its columns: id, total, channel; models/staging/orders.sql)",
        "checks/c.yaml:7: check 'fresh': model staging.orders has no column 'at' (its columns:"
        " id, total, channel; models/staging/orders.sql)",
    ]  # a column of another case is the same column; a SELECT * model's are not known


def test_checks_on_columns_that_exist_load(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "checks:\n  - {kind: unique, model: staging.lines, column: line_id}\n",
    )
    assert load_project(root, environ={}).root
