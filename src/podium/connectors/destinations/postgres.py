"""``PostgresDestination``: loads into PostgreSQL with psycopg 3 and bulk ``COPY``.

The commit runs in one PostgreSQL transaction: each staged table is exported by DuckDB as
CSV and streamed with ``COPY … FROM STDIN`` into a temporary table, then the shared commit
statements merge it. A transaction-scoped advisory lock per stream table keeps two loads of
the same table (say an incremental and a backfill) from interleaving.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import psycopg

from podium.connectors.destinations.base import BOOKKEEPING, LoadCounts, StagedLoad
from podium.connectors.destinations.sql import Committer, Naming, bookkeeping_ddl
from podium.connectors.normalize import types
from podium.connectors.normalize.names import quote
from podium.errors import TransientTaskError

_CHUNK = 1 << 20
SCHEMA_LOCK = zlib.crc32(b"podium:schemas")  # advisory lock around schema creation


class PostgresDestination:
    def __init__(self, url: str, *, schema_prefix: str = "") -> None:
        self.url = url
        self.prefix = schema_prefix
        self.name = "postgres"

    def schema(self, name: str) -> str:
        return self.prefix + name

    # -- reads ---------------------------------------------------------------------------

    def schemas(self, dataset: str, tables: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale "
                "FROM information_schema.columns WHERE table_schema = %s "
                "ORDER BY table_name, ordinal_position",
                (self.schema(dataset),),
            ).fetchall()
        for table, column, data_type, precision, scale in rows:
            if table in tables and not column.startswith("_"):
                kind = types.from_postgres(data_type, precision, scale)
                found.setdefault(table, {})[column] = kind
        return found

    def read_state(self, connection: str, stream: str) -> dict[str, Any] | None:
        with self.connect() as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (self._bk("state"),)).fetchone()
            if not exists or exists[0] is None:
                return None
            row = conn.execute(
                f"SELECT state FROM {self._bk('state')} WHERE connection = %s AND stream = %s",
                (connection, stream),
            ).fetchone()
        return dict(json.loads(row[0])) if row else None

    def _bk(self, table: str) -> str:
        return f"{quote(self.schema(BOOKKEEPING))}.{quote(table)}"

    # -- the commit ----------------------------------------------------------------------

    def ensure_schemas(
        self, conn: psycopg.Connection[Any], *schemas: str, ddl: Sequence[str] = ()
    ) -> None:
        """Creates ``schemas`` (prefixed), then runs ``ddl``, in a short transaction of
        their own, one creator at a time: PostgreSQL's ``CREATE SCHEMA``/``CREATE TABLE IF
        NOT EXISTS`` fail with a unique violation when two sessions create the same thing
        at once (parallel loads)."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for schema in schemas:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema(schema))}")
            for statement in ddl:
                conn.execute(statement)

    def commit(self, load: StagedLoad) -> LoadCounts:
        load.staging.before_commit()
        naming = Naming(
            target=lambda schema, table: f"{quote(self.schema(schema))}.{quote(table)}",
            staged=lambda table: f"pg_temp.{quote('_s_' + table)}",
            type_name=types.to_postgres,
        )
        with self.connect() as conn:  # created before, and apart from, the load's commit
            self.ensure_schemas(conn, BOOKKEEPING, load.dataset, ddl=bookkeeping_ddl(naming))
        with self.connect() as conn, conn.transaction(), conn.cursor() as cursor:

            def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                cursor.execute(sql.replace("?", "%s"), tuple(params))
                return cursor.fetchall() if cursor.description else []

            root = load.staging.root_name
            lock_name = f"{load.dataset}.{root}"
            run("SELECT pg_advisory_xact_lock(?)", (zlib.crc32(lock_name.encode()),))
            for table in [*load.staging.tables, "_podium_quarantine", "_podium_deleted"]:
                self._copy_staged(load, cursor, table)
            rows = run(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND (table_name = ? OR left(table_name, ?) = ?)",
                (self.schema(load.dataset), root, len(root) + 2, root + "__"),
            )
            return Committer(load, run, naming, [r[0] for r in rows]).commit()

    def _copy_staged(self, load: StagedLoad, cursor: psycopg.Cursor[Any], table: str) -> None:
        """``table`` from staging into a temporary table of the same shape, by CSV COPY."""
        db = load.staging.db
        described = db.execute(f"DESCRIBE {quote(table)}").fetchall()
        columns = [(row[0], types.from_duckdb(row[1]) or types.TEXT) for row in described]
        spec = ", ".join(f"{quote(name)} {types.to_postgres(kind)}" for name, kind in columns)
        temp = quote("_s_" + table)
        cursor.execute(f"CREATE TEMP TABLE {temp} ({spec}) ON COMMIT DROP")
        path = load.staging.workdir / f"{table}.csv"
        # staging.before_commit turned off preserve_insertion_order, so DuckDB streams a
        # large table to the file instead of buffering it (which ran out of memory under
        # the staging memory limit at a million orders)
        db.execute(f"COPY {quote(table)} TO '{path}' (FORMAT csv, HEADER false)")
        names = ", ".join(quote(name) for name, _ in columns)
        with (
            path.open("rb") as handle,
            cursor.copy(f"COPY {temp} ({names}) FROM STDIN (FORMAT csv)") as copy,
        ):
            while chunk := handle.read(_CHUNK):
                copy.write(chunk)
        path.unlink()

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection; a clear retryable error if the server is down."""
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise TransientTaskError(
                f"cannot connect to the PostgreSQL warehouse: {str(exc).strip().splitlines()[0]}; "
                "check warehouse: url in podium.yaml and that the server is running"
            ) from None

    def close(self) -> None:
        pass
