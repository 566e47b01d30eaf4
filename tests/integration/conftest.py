"""Integration fixtures: the end-to-end helpers of ``tests/e2e/conftest.py`` and a
PostgreSQL schema per test when ``PODIUM_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

from e2e.conftest import make_project, pid_alive, wait_until
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

__all__ = [
    "POSTGRES_URL",
    "SKIP_POSTGRES",
    "drop_postgres_schema",
    "make_project",
    "pid_alive",
    "postgres_schema_url",
    "wait_until",
]


def postgres_schema_url() -> tuple[str, str]:
    return postgres_url_with_schema("podium_kill")


drop_postgres_schema = drop_schema
