"""Shared fixtures: stores for every backend, PostgreSQL schemas per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from podium.store.database import Database, open_database

POSTGRES_URL = os.environ.get("PODIUM_TEST_POSTGRES_URL")
SKIP_POSTGRES = (
    "PODIUM_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
)


def postgres_url_with_schema() -> tuple[str, str]:
    """A URL of the test PostgreSQL with a fresh schema of its own, and that schema."""
    assert POSTGRES_URL
    schema = f"podium_test_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema={schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A store URL for each backend; PostgreSQL skips visibly without its URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url, schema = postgres_url_with_schema()
    yield url
    drop_schema(schema)


@pytest.fixture
def database(store_url: str) -> Iterator[Database]:
    db = open_database(store_url)
    yield db
    db.close()
