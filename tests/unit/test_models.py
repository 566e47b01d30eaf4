"""SQL models: discovery, settings, the graph from the tables each query reads, selectors,
and compiling for PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import ProjectError, UsageError
from podium.transforms.compile import CompileError, compile_model
from podium.transforms.models import Materialized, load_models


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_path_names_the_model_and_reads_give_the_graph(tmp_path: Path) -> None:
    models = load_models(
        write(
            tmp_path,
            {
                "models/staging/orders.sql": "select * from raw_shop.orders",
                "models/commerce/orders.sql": (
                    "with recent as (select * from staging.orders) select * from recent"
                ),
                "models/commerce/marts/daily.sql": (
                    "select o.id from commerce.orders o join raw_amazon.orders a on a.id = o.id"
                ),
            },
        )
    )
    assert sorted(models.models) == ["commerce.daily", "commerce.orders", "staging.orders"]
    assert models.upstream("commerce.orders") == ["staging.orders"]  # the CTE is no table
    assert models.inputs("commerce.daily") == ["raw_amazon.orders"]
    assert models.order() == ["staging.orders", "commerce.orders", "commerce.daily"]
    assert models.downstream("staging.orders") == ["commerce.orders"]


def test_settings_come_from_the_leading_comments_or_a_yaml_file_beside(tmp_path: Path) -> None:
    models = load_models(
        write(
            tmp_path,
            {
                "models/c/orders.sql": (
                    "-- materialized: incremental\n-- unique_key: id, source\n"
                    "-- updated_at: updated_at\n-- lookback: 3d\nselect 1 as id"
                ),
                "models/c/days.sql": "-- materialized: view\nselect 1 as d",
                "models/c/days.yaml": "materialized: table\nrevenue: sum_of * 1.0\n",
            },
        )
    )
    orders = models.models["c.orders"]
    assert orders.materialized is Materialized.INCREMENTAL
    assert orders.unique_key == ("id", "source")
    assert (orders.updated_at, orders.lookback) == ("updated_at", 3 * 86400)
    assert models.models["c.days"].materialized is Materialized.TABLE
    assert (models.models["c.days"].revenue, orders.revenue) == ("sum_of * 1.0", "")


def test_every_problem_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "models/loose.sql": "select 1",
            "models/c/bad_sql.sql": "select from where",
            "models/c/two.sql": "select 1; select 2",
            "models/c/kind.sql": "-- materialized: snapshot\nselect 1",
            "models/c/inc.sql": "-- materialized: incremental\nselect 1",
            "models/c/rev.sql": "-- revenue: total; drop table x\nselect 1 as total",
            "models/c/a.sql": "select * from c.b",
            "models/c/b.sql": "select * from c.a",
        },
    )
    with pytest.raises(ProjectError) as raised:
        load_models(tmp_path)
    text = str(raised.value)
    assert "models/loose.sql: a model file must sit in a folder naming its schema" in text
    assert "models/c/bad_sql.sql" in text and "does not parse" in text
    assert "models/c/two.sql: a model is exactly one SELECT" in text
    assert "models/c/kind.sql:1: materialized: expected view, table or incremental" in text
    assert "models/c/inc.sql: unique_key: an incremental model needs" in text
    assert "models/c/rev.sql:1: revenue: expected a column or SQL expression to sum" in text
    assert "cycle: c.a → c.b → c.a" in text or "cycle: c.b → c.a → c.b" in text


def test_selectors(tmp_path: Path) -> None:
    models = load_models(
        write(
            tmp_path,
            {
                "models/s/a.sql": "select 1 as x",
                "models/s/b.sql": "select * from s.a",
                "models/c/c.sql": "select * from s.b",
                "models/c/other/d.sql": "select * from c.c",
            },
        )
    )
    assert models.select("c") == ["c.c", "c.d"]
    assert models.select("models/c/other") == ["c.d"]
    assert models.select("b") == ["s.b"]
    assert models.select("+c.c") == ["s.a", "s.b", "c.c"]
    assert models.select("s.b+") == ["s.b", "c.c", "c.d"]
    assert models.select("*") == ["s.a", "s.b", "c.c", "c.d"]
    with pytest.raises(UsageError, match="no model or folder matches 'nope'"):
        models.select("nope")


def test_compiling_for_postgres_adds_the_schema_prefix(tmp_path: Path) -> None:
    models = load_models(
        write(
            tmp_path,
            {
                "models/c/daily.sql": (
                    "with x as (select * from raw_shop.orders) "
                    "select date_trunc('day', created_at)::date as day, count(*) as n "
                    "from x group by 1"
                )
            },
        )
    )
    sql = compile_model(models.models["c.daily"], "postgres", schema_prefix="t1_")
    assert '"t1_raw_shop".orders' in sql.replace("\n", " ") or "t1_raw_shop.orders" in sql
    assert "CAST(DATE_TRUNC('DAY', created_at) AS DATE)" in sql


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("select * exclude (a) from s.t", "EXCLUDE"),
        ("select a, count(*) from s.t group by all", "GROUP BY ALL"),
        ("select list_transform(xs, x -> x + 1) from s.t", "lambda"),
        ("select {'a': 1} as s", "struct"),
    ],
)
def test_a_model_postgres_cannot_run_is_named_with_the_reason(
    tmp_path: Path, query: str, why: str
) -> None:
    models = load_models(write(tmp_path, {"models/c/m.sql": query}))
    with pytest.raises(CompileError, match=f"model c.m .*cannot be .*{why}"):
        compile_model(models.models["c.m"], "postgres")
    compile_model(models.models["c.m"], "duckdb")  # DuckDB runs it as written
