"""Shared fixtures: stores for every backend, PostgreSQL schemas per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from podium.store.database import Database, open_database
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema


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
