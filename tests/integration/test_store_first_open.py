"""Several engines opening one new PostgreSQL store at the same moment all get it: the
schema's ``CREATE SCHEMA IF NOT EXISTS`` and the migrations race without an error."""

from __future__ import annotations

import threading

import pytest

from podium.store.database import Database, open_database
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

OPENERS = 6


@pytest.mark.parametrize("round_", range(3))
def test_engines_opening_a_new_store_together_all_get_it(round_: int) -> None:
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url, schema = postgres_url_with_schema("podium_first_open")
    start = threading.Barrier(OPENERS)
    opened: list[Database] = []
    failed: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(open_database(url))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            failed.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(OPENERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert failed == []
        assert {db.schema_version for db in opened} == {opened[0].schema_version}
    finally:
        for db in opened:
            db.close()
        drop_schema(schema)
