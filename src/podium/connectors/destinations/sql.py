"""The statements of one commit, written once for every SQL destination.

A destination supplies how to run a statement, how to name a target and a staged table,
and how to spell a type; ``Committer.commit`` then does, inside the destination's open
transaction: bookkeeping tables, schema changes, the rows (by write mode), deletions,
quarantine, the stream's state and the load record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podium import clock
from podium.connectors.destinations.base import BOOKKEEPING, LoadCounts, StagedLoad
from podium.connectors.normalize.names import quote
from podium.connectors.normalize.staging import StagedTable
from podium.connectors.source import WriteMode

Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
ROOT_SYSTEM = {"_key": "text", "_load_id": "text", "_extracted_at": "timestamptz"}
CHILD_SYSTEM = {
    "_root_key": "text",
    "_parent_key": "text",
    "_pos": "bigint",
    "_load_id": "text",
    "_extracted_at": "timestamptz",
}


@dataclass(frozen=True)
class Naming:
    target: Callable[[str, str], str]  # (schema, table) → qualified name
    staged: Callable[[str], str]  # staged table → qualified name
    type_name: Callable[[str], str]  # podium type → this warehouse's type


def bookkeeping_ddl(naming: Naming) -> list[str]:
    loads, state, quarantine = (
        naming.target(BOOKKEEPING, t) for t in ("loads", "state", "quarantine")
    )
    text, ts, big = naming.type_name("text"), naming.type_name("timestamptz"), "BIGINT"
    return [
        f"CREATE TABLE IF NOT EXISTS {loads} (load_id {text} PRIMARY KEY, connection {text}, "
        f"stream {text}, status {text}, started_at {ts}, finished_at {ts}, received {big}, "
        f"loaded {big}, quarantined {big}, inserted {big}, updated {big}, deleted {big}, "
        f"unchanged {big}, schema_changes {text}, state {text})",
        f"CREATE TABLE IF NOT EXISTS {state} (connection {text}, stream {text}, state {text}, "
        f"load_id {text}, updated_at {ts}, PRIMARY KEY (connection, stream))",
        f"CREATE TABLE IF NOT EXISTS {quarantine} (load_id {text}, connection {text}, "
        f"stream {text}, location {text}, reason {text}, record {text}, quarantined_at {ts})",
    ]


class Committer:
    """Runs one load's statements through ``run`` (already inside a transaction)."""

    def __init__(self, load: StagedLoad, run: Run, naming: Naming, tables: Sequence[str]) -> None:
        """``tables``: the stream's root and child tables the warehouse already has."""
        self.load, self.run, self.naming = load, run, naming
        self.stream = load.staging.stream
        root = load.staging.root_name
        self.has_root = root in tables
        self.existing_children = [t for t in tables if t != root]
        self.now = clock.now()

    def target(self, table: str) -> str:
        return self.naming.target(self.load.dataset, table)

    def commit(self) -> LoadCounts:
        self._schema_changes()
        counts = self._rows()
        deleted = self._deletions()
        self._bookkeeping(counts, deleted)
        return LoadCounts(counts[0], counts[1], deleted, counts[2], self._table_rows())

    def _table_rows(self) -> dict[str, int]:
        """Each table this load wrote, counted after it (what the UI shows as rows)."""
        root = self.load.staging.root_name
        return {
            table: self._count(
                f"SELECT count(*) FROM {self.target(table)}"
                + (" WHERE NOT _deleted" if table == root else "")
            )
            for table in self.load.staging.tables
        }

    # -- schema ------------------------------------------------------------------------

    def _schema_changes(self) -> None:
        tables = self.load.staging.tables
        for change in self.load.changes:
            if change.action == "create":
                self._create(tables[change.table])
            elif change.action in ("add", "variant"):
                assert change.column is not None and change.new is not None
                self.run(
                    f"ALTER TABLE {self.target(change.table)} ADD COLUMN {quote(change.column)} "
                    f"{self.naming.type_name(change.new)}",
                    (),
                )
            elif change.action == "widen":
                assert change.column is not None and change.new is not None
                self._widen(change.table, change.column, change.new)

    def _create(self, staged: StagedTable) -> None:
        columns = dict(staged.columns)
        if staged.is_root:
            columns.update(ROOT_SYSTEM)
            columns["_deleted"] = "boolean"
            columns.update(
                {
                    c: k
                    for c, k in (("_record_hash", "text"), ("_document", "json"))
                    if self._staged_has(staged, c)
                }
            )
        else:
            columns.update(CHILD_SYSTEM)
        spec = ", ".join(f"{quote(c)} {self.naming.type_name(k)}" for c, k in columns.items())
        self.run(f"CREATE TABLE IF NOT EXISTS {self.target(staged.name)} ({spec})", ())

    def _staged_has(self, staged: StagedTable, column: str) -> bool:
        return column in self.load.staging.db.sql(f"SELECT * FROM {quote(staged.name)}").columns

    def _widen(self, table: str, column: str, kind: str) -> None:
        type_name = self.naming.type_name(kind)
        self.run(
            f"ALTER TABLE {self.target(table)} ALTER COLUMN {quote(column)} TYPE {type_name} "
            f"USING CAST({quote(column)} AS {type_name})",
            (),
        )

    # -- rows --------------------------------------------------------------------------

    def _rows(self) -> tuple[int, int, int]:
        """(inserted, updated, unchanged) for the root table; children follow their root."""
        root = self.load.staging.root
        if root is None:
            return 0, 0, 0
        staged, target = self.naming.staged(root.name), self.target(root.name)
        total = self._count(f"SELECT count(*) FROM {staged}")
        mode = self.stream.write_mode
        if mode is WriteMode.REPLACE:
            self.run(f"DELETE FROM {target}", ())
            for child in self.existing_children:
                self.run(f"DELETE FROM {self.target(child)}", ())
            self._insert_all(None)
            return total, 0, 0
        empty = not self.run(f"SELECT 1 FROM {target} LIMIT 1", ())
        if empty or (mode is WriteMode.APPEND and not self.stream.primary_key):
            self._insert_all(None)
            return total, 0, 0
        self._apply_set(staged, target, mode)
        inserted = self._count("SELECT count(*) FROM _podium_apply WHERE NOT _exists")
        updated = self._count("SELECT count(*) FROM _podium_apply WHERE _exists")
        if updated:
            replaced = "SELECT _key FROM _podium_apply WHERE _exists"
            self.run(f"DELETE FROM {target} WHERE _key IN ({replaced})", ())
            for child in self.existing_children:
                self.run(f"DELETE FROM {self.target(child)} WHERE _root_key IN ({replaced})", ())
        self._insert_all("SELECT _key FROM _podium_apply")
        self.run("DROP TABLE _podium_apply", ())
        return inserted, updated, total - inserted - updated

    def _apply_set(self, staged: str, target: str, mode: WriteMode) -> None:
        if mode is WriteMode.APPEND:
            where = "t._key IS NULL"
        elif self.stream.cursor:
            cursor = quote(self.load.staging.cursor_column or "")
            where = (
                f"t._key IS NULL OR s.{cursor} IS NULL OR t.{cursor} IS NULL "
                f"OR s.{cursor} > t.{cursor} OR t._deleted"
            )
        else:
            where = "t._key IS NULL OR s._record_hash IS DISTINCT FROM t._record_hash OR t._deleted"
        self.run(
            "CREATE TEMP TABLE _podium_apply AS SELECT s._key AS _key, t._key IS NOT NULL AS "
            f"_exists FROM {staged} s LEFT JOIN {target} t ON t._key = s._key WHERE {where}",
            (),
        )

    def _insert_all(self, keys: str | None) -> None:
        for staged in self.load.staging.tables.values():
            columns = list(staged.columns)
            if staged.is_root:
                system = ["_key", "_extracted_at"] + [
                    c for c in ("_record_hash", "_document") if self._staged_has(staged, c)
                ]
                filter_on = "_key"
            else:
                system = ["_root_key", "_parent_key", "_pos", "_extracted_at"]
                filter_on = "_root_key"
            names = [quote(c) for c in columns + system]
            into = names + ["_load_id"] + (["_deleted"] if staged.is_root else [])
            values = names + ["?"] + (["false"] if staged.is_root else [])
            where = f" WHERE {filter_on} IN ({keys})" if keys else ""
            self.run(
                f"INSERT INTO {self.target(staged.name)} ({', '.join(into)}) SELECT "
                f"{', '.join(values)} FROM {self.naming.staged(staged.name)}{where}",
                (self.load.load_id,),
            )

    def _deletions(self) -> int:
        """Marks deleted keys, also in a load that staged no rows (only deletions)."""
        staging = self.load.staging
        if not staging.counts.deleted or not (self.has_root or staging.root is not None):
            return 0
        target = self.target(staging.root_name)
        deleted = f"SELECT _key FROM {self.naming.staged('_podium_deleted')}"
        found = self._count(
            f"SELECT count(*) FROM {target} WHERE _key IN ({deleted}) AND NOT _deleted"
        )
        self.run(
            f"UPDATE {target} SET _deleted = true, _load_id = ? WHERE _key IN ({deleted}) "
            "AND NOT _deleted",
            (self.load.load_id,),
        )
        return found

    # -- bookkeeping -------------------------------------------------------------------

    def _bookkeeping(self, counts: tuple[int, int, int], deleted: int) -> None:
        load, bk = self.load, BOOKKEEPING
        quarantine = self.naming.target(bk, "quarantine")
        self.run(
            f"INSERT INTO {quarantine} SELECT ?, ?, ?, location, reason, record, ? "
            f"FROM {self.naming.staged('_podium_quarantine')}",
            (load.load_id, load.connection, load.stream, self.now),
        )
        state_text = json.dumps(load.state, default=str)
        self.run(
            f"INSERT INTO {self.naming.target(bk, 'state')} VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (connection, stream) DO UPDATE SET state = excluded.state, "
            "load_id = excluded.load_id, updated_at = excluded.updated_at",
            (load.connection, load.stream, state_text, load.load_id, self.now),
        )
        record = load.record
        changes = json.dumps([c.describe() for c in load.changes])
        self.run(
            f"INSERT INTO {self.naming.target(bk, 'loads')} VALUES "
            "(?, ?, ?, 'committed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                load.load_id,
                load.connection,
                load.stream,
                record.get("started_at", self.now),
                self.now,
                record.get("received", 0),
                record.get("loaded", 0),
                record.get("quarantined", 0),
                counts[0],
                counts[1],
                deleted,
                counts[2],
                changes,
                state_text,
            ),
        )

    def _count(self, sql: str) -> int:
        rows = self.run(sql, ())
        return int(rows[0][0]) if rows else 0
