"""Integration fixtures: the end-to-end helpers of ``tests/e2e/conftest.py`` and a
PostgreSQL schema per test when ``PODIUM_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import os
import uuid

from e2e.conftest import make_project, pid_alive, wait_until

__all__ = ["make_project", "pid_alive", "wait_until"]

POSTGRES_URL = os.environ.get("PODIUM_TEST_POSTGRES_URL")
SKIP_POSTGRES = (
    "PODIUM_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test); "
    "the PostgreSQL kill test needs a server"
)


def postgres_schema_url() -> tuple[str, str]:
    """The test server's URL with a fresh ``schema=`` of its own, and that schema."""
    assert POSTGRES_URL
    schema = f"podium_kill_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema={schema}", schema


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
