"""Building one model in the warehouse, as its ``materialized`` setting says.

- ``view``: ``CREATE OR REPLACE VIEW`` (on PostgreSQL a view whose columns changed is
  dropped and created again, in one transaction).
- ``table``: the query lands in a new table first, then replaces the old one in a short
  transaction, so readers see the old rows until the new ones are complete.
- ``incremental``: the first run builds the table. Later runs select only rows whose
  ``updated_at`` is at least the stored maximum minus ``lookback`` (every row without
  ``updated_at``), delete the stored rows with the same ``unique_key`` and insert the new
  versions, in one transaction: late updates within the window are merged again, and a
  failure leaves the table as it was. New columns are added; a column the query stopped
  returning is kept (null in new rows).

A model whose relation changes kind (a view that becomes a table) replaces the old one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from podium.connectors.normalize.names import quote
from podium.errors import UsageError
from podium.transforms.compile import compile_model, uses_pii
from podium.transforms.models import Materialized, Model
from podium.transforms.pii import MISSING_KEY
from podium.transforms.warehouse_sql import WarehouseSql, qualified

_NEW = "__podium_new_"


@dataclass(frozen=True)
class Built:
    """What building a model did: rows in the relation afterwards and rows (re)written."""

    model: str
    materialized: str
    rows: int
    written: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "materialized": self.materialized,
            "rows": self.rows,
            "written": self.written,
            "seconds": round(self.seconds, 3),
        }


def build(sql: WarehouseSql, model: Model) -> Built:
    started = time.monotonic()
    if uses_pii(model):
        if not sql.has_pii_key:
            raise UsageError(
                f"model {model.name} ({model.path}) hashes personal data: {MISSING_KEY}"
            )
        sql.use_pii()
    query = compile_model(model, sql.dialect, schema_prefix=sql.schema_prefix)
    target = qualified(sql, model.schema, model.table)
    sql.ensure_schema(model.schema)
    kind = sql.relation_kind(model.schema, model.table)
    if model.materialized is Materialized.VIEW:
        written = _view(sql, model, query, target, kind)
    elif model.materialized is Materialized.INCREMENTAL and kind == "table":
        written = _merge(sql, model, query, target)
    else:
        written = _table(sql, model, query, target, kind)
    if sql.dialect == "postgres" and model.materialized is not Materialized.VIEW:
        sql.execute(f"ANALYZE {target}")  # fresh statistics, or checks plan nested loops
    rows = int(sql.query(f"SELECT count(*) FROM {target}")[0][0])
    seconds = time.monotonic() - started
    return Built(model.name, str(model.materialized), rows, written, seconds)


def _drop(sql: WarehouseSql, kind: str | None, target: str) -> None:
    cascade = " CASCADE" if sql.dialect == "postgres" else ""
    if kind == "view":
        sql.execute(f"DROP VIEW IF EXISTS {target}{cascade}")
    elif kind == "table":
        sql.execute(f"DROP TABLE IF EXISTS {target}{cascade}")


def _view(sql: WarehouseSql, model: Model, query: str, target: str, kind: str | None) -> int:
    with sql.transaction():
        if kind == "table":
            _drop(sql, kind, target)
        if sql.dialect == "postgres" and kind == "view":
            sql.execute(f"DROP VIEW IF EXISTS {target} CASCADE")
        sql.execute(f"CREATE OR REPLACE VIEW {target} AS\n{query}")
    return 0


def _table(sql: WarehouseSql, model: Model, query: str, target: str, kind: str | None) -> int:
    staged = qualified(sql, model.schema, _NEW + model.table)
    sql.execute(f"DROP TABLE IF EXISTS {staged}")
    sql.execute(f"CREATE TABLE {staged} AS\n{query}")
    written = int(sql.query(f"SELECT count(*) FROM {staged}")[0][0])
    with sql.transaction():
        _drop(sql, kind, target)
        sql.execute(f"ALTER TABLE {staged} RENAME TO {quote(model.table)}")
    return written


def _merge(sql: WarehouseSql, model: Model, query: str, target: str) -> int:
    staged = qualified(sql, model.schema, _NEW + model.table)
    where = ""
    if model.updated_at:
        column = quote(model.updated_at)
        since = f"(SELECT max({column}) FROM {target})"
        if model.lookback:
            since = f"{since} - INTERVAL '{int(model.lookback)} seconds'"
        where = f" WHERE m.{column} >= {since} OR {since} IS NULL"
    sql.execute(f"DROP TABLE IF EXISTS {staged}")
    sql.execute(f"CREATE TABLE {staged} AS SELECT * FROM (\n{query}\n) AS m{where}")
    try:
        written = int(sql.query(f"SELECT count(*) FROM {staged}")[0][0])
        new_columns = sql.columns(model.schema, _NEW + model.table)
        stored = {name for name, _ in sql.columns(model.schema, model.table)}
        # ``=`` lets the warehouse hash-join the keys (PostgreSQL cannot with IS NOT
        # DISTINCT FROM: it compares every stored row with every new one); stored rows
        # with a null in their key are matched by a second, small statement.
        keys = " AND ".join(f"n.{quote(k)} = t.{quote(k)}" for k in model.unique_key)
        null_keys = " AND ".join(
            f"n.{quote(k)} IS NOT DISTINCT FROM t.{quote(k)}" for k in model.unique_key
        )
        any_null = " OR ".join(f"t.{quote(k)} IS NULL" for k in model.unique_key)
        names = ", ".join(quote(name) for name, _ in new_columns)
        with sql.transaction():
            for name, kind in new_columns:
                if name not in stored:
                    sql.execute(f"ALTER TABLE {target} ADD COLUMN {quote(name)} {kind}")
            sql.execute(
                f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM {staged} n WHERE {keys})"
            )
            sql.execute(
                f"DELETE FROM {target} t WHERE ({any_null})"
                f" AND EXISTS (SELECT 1 FROM {staged} n WHERE {null_keys})"
            )
            sql.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {staged}")
    finally:
        sql.execute(f"DROP TABLE IF EXISTS {staged}")
    return written
