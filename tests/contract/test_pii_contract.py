"""``pii_email`` and ``pii_phone`` in models: the same HMAC on DuckDB, on PostgreSQL and
in Python, the same person however the value was typed, and no model hashing anything
without a key."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from pathlib import Path

import pytest

from podium.core.workflow import Project
from podium.errors import UsageError
from podium.transforms.materialize import build
from podium.transforms.models import load_models
from podium.transforms.service import run_models
from podium.transforms.warehouse_sql import open_warehouse_sql

from .conftest import sql

KEY = "a-long-enough-secret-key-for-tests"


def digest(key: str, text: str) -> str:
    """The reference: HMAC-SHA256 of the normalised text, in hex."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


PEOPLE = [
    (1, "  Ada.Moss@Example.COM ", "(512) 555-0101"),
    (2, "ada.moss@example.com", "+1 512 555 0101"),
    (3, "", None),
    (4, None, "44 20 7946 0958"),
]
MODEL = (
    "-- materialized: table\n"
    "select id, pii_email(email) as email_hash, pii_phone(phone) as phone_hash "
    "from raw_shop.people"
)


def keyed(project: Project, key: str | None) -> Project:
    warehouse = {k: v for k, v in project.warehouse.items() if k != "pii_key"}
    if key is not None:
        warehouse["pii_key"] = key
    return dataclasses.replace(project, warehouse=warehouse)


def seed(project: Project) -> None:
    sql(project, "CREATE SCHEMA IF NOT EXISTS raw_shop")
    sql(project, "CREATE TABLE raw_shop.people (id BIGINT, email VARCHAR, phone VARCHAR)")
    for id_, email, phone in PEOPLE:
        values = ", ".join("NULL" if v is None else f"'{v}'" for v in (email, phone))
        sql(project, f"INSERT INTO raw_shop.people VALUES ({id_}, {values})")
    path = Path(project.root) / "models/commerce/people.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MODEL)


def test_emails_and_phones_hash_alike_on_both_warehouses(project: Project) -> None:
    project = keyed(project, KEY)
    seed(project)
    result = run_models(project, "commerce")
    assert result.ok, result.failed
    rows = dict((r[0], r[1:]) for r in sql(project, "SELECT * FROM commerce.people ORDER BY id"))
    ada = (digest(KEY, "ada.moss@example.com"), digest(KEY, "15125550101"))
    assert rows[1] == rows[2] == ada  # however it was typed, the same person
    assert rows[3] == (None, None)  # empty is unknown, not a hash of nothing
    assert rows[4] == (None, digest(KEY, "442079460958"))
    assert all(KEY not in str(v) for v in rows.values())


def test_a_model_that_hashes_needs_the_key(project: Project) -> None:
    project = keyed(project, None)
    seed(project)
    root = Path(project.root)
    with (
        open_warehouse_sql(project.warehouse, root) as wh,
        pytest.raises(UsageError, match=r"commerce\.people .*warehouse\.pii_key"),
    ):
        build(wh, load_models(root).models["commerce.people"])
