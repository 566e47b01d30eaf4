"""A PostgreSQL schema of its own for each test that uses the real server."""

from __future__ import annotations

import os
import uuid

POSTGRES_URL = os.environ.get("PODIUM_TEST_POSTGRES_URL")
SKIP_POSTGRES = (
    "PODIUM_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test); "
    "this test needs a real PostgreSQL server"
)


def postgres_url_with_schema(prefix: str = "podium_test") -> tuple[str, str]:
    """The test server's URL with a fresh ``schema=`` of its own, and that schema."""
    assert POSTGRES_URL
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema={schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
