"""Fixtures shared by the contract suites that run on both warehouses."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from podium.core.workflow import EngineSettings, Project
from podium.transforms.warehouse_sql import open_warehouse_sql

SCHEMAS = ("raw_shop", "staging", "commerce", "_podium")


@pytest.fixture
def postgres_url() -> str:
    import os

    url = os.environ.get("PODIUM_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PODIUM_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    return url


@pytest.fixture(params=["duckdb", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    if request.param == "duckdb":
        warehouse: dict[str, Any] = {"type": "duckdb", "path": ".podium/warehouse.duckdb"}
    else:
        url = request.getfixturevalue("postgres_url")
        warehouse = {"type": "postgres", "url": url, "schema_prefix": f"m{uuid.uuid4().hex[:8]}_"}
    yield Project(str(tmp_path), "sqlite://", {}, EngineSettings(), {}, warehouse=warehouse)
    if request.param == "postgres":
        prefix = warehouse["schema_prefix"]
        with psycopg.connect(warehouse["url"], autocommit=True) as conn:
            for schema in SCHEMAS:
                conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{schema}" CASCADE')


def sql(project: Project, statement: str) -> list[tuple[Any, ...]]:
    """Runs ``statement`` on the project's warehouse; the schemas the tests use get the
    warehouse's prefix (``commerce.orders`` → ``"m1a2b_commerce".orders``)."""
    with open_warehouse_sql(project.warehouse, Path(project.root)) as wh:
        prefix = wh.schema_prefix
        if prefix:
            pattern = r"\b(EXISTS |)(" + "|".join(SCHEMAS) + r")(\.|\b)"
            statement = re.sub(pattern, lambda m: f'{m[1]}"{prefix}{m[2]}"{m[3]}', statement)
        return wh.query(statement)
