"""Holding staged tables to the warehouse's schema, as the stream's policy says.

``apply_contract`` compares every staged table with what the warehouse already has and
returns the schema changes the destination must make before the rows go in:

- ``evolve``: a new field adds a nullable column (a new list, a table); a wider type widens
  the column, or, with ``type_conflict: variant``, values that do not fit the column's type
  go to ``<column>__v_<type>`` and the column keeps its type.
- ``freeze``: any change fails the load before anything is written (``SchemaFrozenError``,
  naming the stream, the field and both types).
- ``discard_row``: records with a value in a new field, or a value the column's type cannot
  hold, go to quarantine with the reason; the rest load into the unchanged schema.

The first load of a stream creates its tables under every policy: that is the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podium.connectors.normalize import names, types
from podium.connectors.normalize.names import quote
from podium.connectors.normalize.staging import StagedTable, Staging
from podium.connectors.source import SchemaPolicy, TypeConflict
from podium.errors import TerminalTaskError

Schemas = Mapping[str, Mapping[str, str]]  # table → column → type (what the warehouse has)


class SchemaFrozenError(TerminalTaskError):
    """A frozen stream's data no longer fits its tables."""


@dataclass(frozen=True)
class SchemaChange:
    """``create`` (column None), ``add``, ``widen`` (old → new type) or ``variant``."""

    action: str
    table: str
    column: str | None = None
    old: str | None = None
    new: str | None = None

    def describe(self) -> str:
        if self.action == "create":
            return f"new table {self.table}"
        if self.action in ("add", "variant"):
            return f"new column {self.table}.{self.column} ({self.new})"
        return f"{self.table}.{self.column} widened from {self.old} to {self.new}"


def apply_contract(staging: Staging, existing: Schemas) -> list[SchemaChange]:
    """The changes the warehouse needs; adjusts staging tables to the policy (see module)."""
    stream = staging.stream
    first_load = not existing
    changes: list[SchemaChange] = []
    for staged in list(staging.tables.values()):
        have = existing.get(staged.name)
        if have is None:
            if not first_load and stream.schema is SchemaPolicy.FREEZE:
                _frozen(staging, f"would create table {staged.name}", staged, None)
            if not first_load and stream.schema is SchemaPolicy.DISCARD_ROW:
                _discard(staging, staged, "true", f"a new list stored as table {staged.name}")
                continue
            changes.append(SchemaChange("create", staged.name))
            continue
        changes.extend(_compare(staging, staged, have))
    _drop_discarded(staging)
    return changes


def _compare(staging: Staging, staged: StagedTable, have: Mapping[str, str]) -> list[SchemaChange]:
    stream = staging.stream
    changes: list[SchemaChange] = []
    for column, kind in list(staged.columns.items()):
        old = have.get(column)
        if old is not None and types.holds(old, kind):
            continue
        if stream.schema is SchemaPolicy.FREEZE:
            _frozen(staging, "", staged, (column, old, kind))
        if stream.schema is SchemaPolicy.DISCARD_ROW:
            _discard_column(staging, staged, column, old, kind)
        elif old is None:
            changes.append(SchemaChange("add", staged.name, column, None, kind))
        elif stream.type_conflict is TypeConflict.VARIANT:
            changes.extend(_to_variant(staging, staged, column, old, kind, have))
        else:
            wide = types.supertype(old, kind)
            changes.append(SchemaChange("widen", staged.name, column, old, wide))
    return changes


def _frozen(
    staging: Staging, what: str, staged: StagedTable, conflict: tuple[str, str | None, str] | None
) -> None:
    stream = staging.stream.name
    if conflict is not None:
        column, old, new = conflict
        what = (
            f"field {column!r} is new ({new})"
            if old is None
            else f"field {column!r} has type {new} but table {staged.name} has {old}"
        )
    raise SchemaFrozenError(
        f"stream {stream!r} has schema: freeze and its data changed: {what}; nothing was "
        "written. Fix the source, or set schema: evolve (or discard_row) for this stream"
    )


def _discard_column(
    staging: Staging, staged: StagedTable, column: str, old: str | None, kind: str
) -> None:
    name = quote(column)
    if old is None:
        _discard(staging, staged, f"{name} IS NOT NULL", f"field {column} is not in the schema")
    else:
        cast = f"TRY_CAST({name} AS {types.to_duckdb(old)})"
        reason = f"field {column} holds a {kind}, the column is {old}"
        _discard(staging, staged, f"{name} IS NOT NULL AND {cast} IS NULL", reason)
        staging.db.execute(
            f"ALTER TABLE {quote(staged.name)} ALTER {name} TYPE {types.to_duckdb(old)} "
            f"USING {cast}"
        )
        staged.columns[column] = old
        return
    staging.db.execute(f"ALTER TABLE {quote(staged.name)} DROP COLUMN {name}")
    del staged.columns[column]


def _discard(staging: Staging, staged: StagedTable, where: str, reason: str) -> None:
    """Marks the records (by root ``_seq``) that have a row in ``staged`` matching ``where``."""
    staging.db.execute("CREATE TABLE IF NOT EXISTS _podium_discard (_seq BIGINT, reason VARCHAR)")
    staging.db.execute(
        f"INSERT INTO _podium_discard SELECT DISTINCT _seq, ? FROM {quote(staged.name)} "
        f"WHERE {where}",
        [reason],
    )
    if where == "true":
        staging.db.execute(f"DROP TABLE {quote(staged.name)}")
        del staging.tables[staged.name]


def _drop_discarded(staging: Staging) -> None:
    """Moves discarded records to quarantine and out of every staging table."""
    found = staging.db.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_podium_discard'"
    ).fetchone()
    if not found or not found[0]:
        return
    root = staging.root
    if root is not None:
        document = "_document::VARCHAR" if "_document" in _system_columns(staging, root) else "NULL"
        staging.db.execute(
            "INSERT INTO _podium_quarantine SELECT 'staged record ' || r._key, d.reason, "
            f"{document} FROM {quote(root.name)} r JOIN (SELECT _seq, min(reason) AS reason "
            "FROM _podium_discard GROUP BY _seq) d ON d._seq = r._seq"
        )
        count = staging.db.execute("SELECT count(DISTINCT _seq) FROM _podium_discard").fetchone()
        staging.counts.quarantined += int(count[0]) if count else 0
    for staged in staging.tables.values():
        staging.db.execute(
            f"DELETE FROM {quote(staged.name)} WHERE _seq IN (SELECT _seq FROM _podium_discard)"
        )
    staging.db.execute("DROP TABLE _podium_discard")


def _system_columns(staging: Staging, staged: StagedTable) -> list[str]:
    columns = staging.db.sql(f"SELECT * FROM {quote(staged.name)}").columns
    return [c for c in columns if c.startswith("_")]


def _to_variant(
    staging: Staging,
    staged: StagedTable,
    column: str,
    old: str,
    kind: str,
    have: Mapping[str, str],
) -> list[SchemaChange]:
    """Values of ``column`` that ``old`` cannot hold move to ``<column>__v_<kind>``."""
    variant = names.shorten(f"{column}__v_{kind.split('(')[0]}")
    table, name = quote(staged.name), quote(column)
    cast = f"TRY_CAST({name} AS {types.to_duckdb(old)})"
    staging.db.execute(f"ALTER TABLE {table} ADD COLUMN {quote(variant)} {types.to_duckdb(kind)}")
    staging.db.execute(
        f"UPDATE {table} SET {quote(variant)} = {name} WHERE {name} IS NOT NULL AND {cast} IS NULL"
    )
    staging.db.execute(f"ALTER TABLE {table} ALTER {name} TYPE {types.to_duckdb(old)} USING {cast}")
    staged.columns[column] = old
    staged.columns[variant] = kind
    if variant in have:
        return []
    return [SchemaChange("variant", staged.name, variant, None, kind)]
