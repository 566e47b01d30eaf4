"""Running SQL on the project's warehouse, for models and checks: DuckDB or PostgreSQL (or a
plugin's warehouse, whose ``open_sql`` gives its own ``WarehouseSql``).

One small interface over both: ``query`` (rows), ``execute`` (no rows), ``transaction``,
``relation_kind`` (table, view or None) and ``columns``. Names passed in are a model's
``schema``/``table`` as written; ``qualified`` adds PostgreSQL's ``schema_prefix``. A
DuckDB warehouse file is opened for the length of the ``with`` block, under the same
process lock and wait as the loader's commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from podium.connectors.destinations.base import BOOKKEEPING
from podium.connectors.normalize.names import quote
from podium.connectors.warehouse import open_destination, plugin_settings, warehouse_plugin
from podium.transforms import pii

if TYPE_CHECKING:
    from podium.connectors.destinations.postgres import PostgresDestination


class WarehouseSql(Protocol):
    dialect: str
    schema_prefix: str
    has_pii_key: bool

    def use_pii(self) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def ensure_schema(self, schema: str, ddl: Sequence[str] = ()) -> None:
        """Creates ``schema`` (prefixed) if missing, then runs ``ddl``; safe when tasks
        running in parallel create the same schema at once."""
        ...

    def described(self, sql: str) -> tuple[list[tuple[Any, ...]], list[str]]: ...

    def transaction(self) -> Any: ...

    def relation_kind(self, schema: str, table: str) -> str | None: ...

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]: ...

    def close(self) -> None: ...


def qualified(sql: WarehouseSql, schema: str, table: str) -> str:
    return f"{quote(sql.schema_prefix + schema)}.{quote(table)}"


def count_rows(sql: WarehouseSql, schema: str, table: str) -> int:
    return int(sql.query(f"SELECT count(*) FROM {qualified(sql, schema, table)}")[0][0])


@contextmanager
def open_warehouse_sql(settings: Mapping[str, Any], root: Path) -> Iterator[WarehouseSql]:
    """The warehouse ``podium.yaml`` names, open for the block (the loader's destination
    opens it: the same file path, lock and wait; the same PostgreSQL URL and prefix)."""
    from podium.connectors.destinations.duckdb import DuckDBDestination
    from podium.connectors.destinations.postgres import PostgresDestination

    plugin = warehouse_plugin(settings)
    if plugin is not None:  # a plugin's warehouse (podium.warehouses)
        with plugin.open_sql(plugin_settings(settings), root) as sql:
            yield sql
        return
    destination = open_destination(settings, root)
    key = settings.get("pii_key") or None
    if isinstance(destination, PostgresDestination):
        pg = PostgresSql(destination, key)
        try:
            yield pg
        finally:
            pg.close()
        return
    assert isinstance(destination, DuckDBDestination)
    destination.path.parent.mkdir(parents=True, exist_ok=True)
    with destination.connection() as db:
        yield DuckDBSql(db, key)


class _Catalog:
    """What both warehouses answer from ``information_schema`` (with the schema prefix)."""

    schema_prefix: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def relation_kind(self, schema: str, table: str) -> str | None:
        rows = self.query(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            (self.schema_prefix + schema, table),
        )
        if not rows:
            return None
        return "view" if rows[0][0] == "VIEW" else "table"

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            (self.schema_prefix + schema, table),
        )
        return [(str(r[0]), str(r[1])) for r in rows]


class DuckDBSql(_Catalog):
    dialect = "duckdb"
    schema_prefix = ""

    def __init__(self, db: Any, pii_key: str | None = None) -> None:
        self.db = db
        self.has_pii_key = pii_key is not None
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET enable_progress_bar = false")
        pii.register_duckdb(db, pii_key)  # temporary macros: nothing is written

    def use_pii(self) -> None:
        """The macros were added when the connection opened."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.db.execute(sql, list(params)).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.db.execute(sql, list(params))

    def ensure_schema(self, schema: str, ddl: Sequence[str] = ()) -> None:
        """One writer holds the file, so nobody else can be creating it."""
        self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for statement in ddl:
            self.db.execute(statement)

    def described(self, sql: str) -> tuple[list[tuple[Any, ...]], list[str]]:
        """Rows and column names."""
        cursor = self.db.execute(sql)
        return [tuple(r) for r in cursor.fetchall()], [d[0] for d in cursor.description]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class PostgresSql(_Catalog):
    dialect = "postgres"

    def __init__(self, destination: PostgresDestination, pii_key: str | None = None) -> None:
        self.destination = destination
        self.schema_prefix = destination.prefix
        self.has_pii_key = pii_key is not None
        self._pii_key, self._pii_ready = pii_key, False
        self.conn = destination.connect()
        self.conn.execute("SET TIME ZONE 'UTC'")

    def use_pii(self) -> None:
        """Readies ``pii_email``/``pii_phone`` on this connection, once: the key's pads as
        session settings, and the functions (created if the warehouse lacks them). Only a
        model that hashes asks, so no other use of the warehouse writes to its catalog."""
        if self._pii_ready or self._pii_key is None:
            return
        inner, outer = pii.pads(self._pii_key)  # bound parameters: never in the query text
        self.conn.execute("SELECT set_config('podium.pii_ipad', %s, false)", (inner,))
        self.conn.execute("SELECT set_config('podium.pii_opad', %s, false)", (outer,))
        self._create_pii_functions()
        self._pii_ready = True

    def _create_pii_functions(self) -> None:
        schema = quote(self.schema_prefix + BOOKKEEPING)
        exists = self.query("SELECT to_regprocedure(%s)", (f"{schema}.pii_phone(text)",))
        if exists and exists[0][0] is not None:
            return
        self.ensure_schema(BOOKKEEPING)
        with self.conn.transaction():  # one creator at a time: model tasks run in parallel
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('podium.pii'))")
            for statement in pii.postgres_functions(schema):
                self.conn.execute(statement)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s") if params else sql, tuple(params))
            return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.query(sql, params)

    def ensure_schema(self, schema: str, ddl: Sequence[str] = ()) -> None:
        """Under the loader's schema lock: two sessions' ``CREATE SCHEMA IF NOT EXISTS``
        at once fail with a unique violation (two models of one schema, run in parallel)."""
        self.destination.ensure_schemas(self.conn, schema, ddl=ddl)

    def described(self, sql: str) -> tuple[list[tuple[Any, ...]], list[str]]:
        """Rows and column names."""
        with self.conn.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()], [d.name for d in cursor.description or []]

    def transaction(self) -> Any:
        return self.conn.transaction()

    def close(self) -> None:
        self.conn.close()
