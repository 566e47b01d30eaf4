"""``DuckDBDestination``: the embedded warehouse, one DuckDB file (``.podium/warehouse.duckdb``).

A DuckDB file has one writer process at a time, so the warehouse is opened only for the
short commit: the staging database attaches it, runs the commit in one transaction and
detaches. A commit that finds the file locked by another process waits (up to
``lock_timeout``) and then fails with a retryable error naming the holder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from podium.connectors.destinations.base import BOOKKEEPING, LoadCounts, StagedLoad
from podium.connectors.destinations.sql import Committer, Naming, bookkeeping_ddl
from podium.connectors.normalize import types
from podium.connectors.normalize.names import literal, quote
from podium.errors import TransientTaskError

# DuckDB's file header: three 4 KiB blocks written when the file is created
_HEADER_BYTES = 3 * 4096

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _process_lock(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def process_lock(path: str) -> threading.Lock:
    """The lock this process's writers of the DuckDB file at ``path`` (resolved) share: a
    dbt run in this process holds it while it writes the file."""
    return _process_lock(path)


class DuckDBDestination:
    def __init__(self, path: Path, *, lock_timeout: float = 600.0) -> None:
        self.path = path.resolve()
        self.name = f"duckdb ({path})"
        self.lock_timeout = lock_timeout
        # the in-memory database the reads attach the file to: a new DuckDB database costs
        # ~18 ms of CPU to create, attaching a file to one ~3 ms, and a load reads twice
        self._reader: duckdb.DuckDBPyConnection | None = None

    # -- reads ---------------------------------------------------------------------------

    def schemas(self, dataset: str, tables: Sequence[str]) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        found: dict[str, dict[str, str]] = {}
        with self._attached() as db:
            rows = db.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = 'wh' AND table_schema = ? "
                "ORDER BY table_name, ordinal_position",
                [dataset],
            ).fetchall()
        for table, column, data_type in rows:
            if table in tables and not column.startswith("_"):
                kind = types.from_duckdb(data_type)
                found.setdefault(table, {})[column] = kind or types.TEXT
        return found

    def read_state(self, connection: str, stream: str) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self._attached() as db:
            exists = db.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_catalog = 'wh' "
                "AND table_schema = ? AND table_name = 'state'",
                [BOOKKEEPING],
            ).fetchone()
            if not exists or not exists[0]:
                return None
            row = db.execute(
                f"SELECT state FROM wh.{quote(BOOKKEEPING)}.state "
                "WHERE connection = ? AND stream = ?",
                [connection, stream],
            ).fetchone()
        import json

        return dict(json.loads(row[0])) if row else None

    # -- the commit ----------------------------------------------------------------------

    def commit(self, load: StagedLoad) -> LoadCounts:
        db = load.staging.db
        load.staging.before_commit()
        with _process_lock(str(self.path)):
            self._retry_locked(lambda: db.execute(f"ATTACH {literal(str(self.path))} AS wh"))
            try:
                db.execute("BEGIN")
                try:
                    counts = self._commit(load, db)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            finally:
                db.execute("DETACH wh")
        return counts

    def _commit(self, load: StagedLoad, db: duckdb.DuckDBPyConnection) -> LoadCounts:
        def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            cursor = db.execute(sql, list(params))
            return cursor.fetchall() if cursor.description else []

        naming = Naming(
            target=lambda schema, table: f"wh.{quote(schema)}.{quote(table)}",
            staged=lambda table: f"stage.main.{quote(table)}",
            type_name=types.to_duckdb,
        )
        for schema in (BOOKKEEPING, load.dataset):
            db.execute(f"CREATE SCHEMA IF NOT EXISTS wh.{quote(schema)}")
        for ddl in bookkeeping_ddl(naming):
            db.execute(ddl)
        root = load.staging.root_name
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'wh' "
            "AND table_schema = ? AND (table_name = ? OR starts_with(table_name, ?))",
            [load.dataset, root, root + "__"],
        ).fetchall()
        return Committer(load, run, naming, [r[0] for r in rows]).commit()

    # -- the file ------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse file, opened for the block: waits while another process holds
        it, and holds this process's lock on it (models and checks use it too)."""
        with _process_lock(str(self.path)):
            db = self._retry_locked(lambda: duckdb.connect(str(self.path)))
            try:
                yield db
            finally:
                db.close()

    @contextmanager
    def _attached(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse file attached as ``wh`` to this destination's in-memory reader,
        for the block, under this process's lock on it (so one thread at a time); waits
        while another process holds it, as ``connection`` does."""
        with _process_lock(str(self.path)):
            if self._reader is None:
                self._reader = duckdb.connect(config={"threads": 1})
            reader = self._reader
            self._retry_locked(lambda: reader.execute(f"ATTACH {literal(str(self.path))} AS wh"))
            try:
                yield reader
            finally:
                reader.execute("DETACH wh")

    def _retry_locked(self, action: Any) -> Any:
        """``action()`` once the file is free: waits (with backoff, up to
        ``lock_timeout``) while another process holds it or is still creating it."""
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                return action()
            except duckdb.IOException as exc:
                said = str(exc).splitlines()[0]
                if not ("lock" in said.lower() or self._being_created(said)):
                    raise TransientTaskError(
                        f"the warehouse {self.path} could not be opened ({said}); check "
                        "that warehouse.path names a DuckDB file this user may write"
                    ) from None
                if time.monotonic() > deadline:
                    raise TransientTaskError(
                        f"the warehouse {self.path} is in use by another process and stayed "
                        f"locked for {self.lock_timeout:.0f}s ({said}); stop the other "
                        "process or use a PostgreSQL warehouse for concurrent writers"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _being_created(self, said: str) -> bool:
        """Whether DuckDB refused the file because another process has created it and not
        yet written its header (two first loads at once): it is then shorter than one."""
        if "not a valid DuckDB database file" not in said:
            return False
        try:
            return self.path.stat().st_size < _HEADER_BYTES
        except OSError:
            return True

    def close(self) -> None:
        with _process_lock(str(self.path)):
            if self._reader is not None:
                self._reader.close()
                self._reader = None
