"""One SQL database holding podium's state: SQLite (embedded default) or PostgreSQL.

The engine's state machine speaks plain SQL through a ``Tx``; this module hides what differs
between the two: placeholders, row locks, advisory locks, connections per thread, migrations
and how one process wakes another after a commit (a UNIX datagram for SQLite, LISTEN/NOTIFY
for PostgreSQL).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from podium.errors import StoreError
from podium.store.schema import MIGRATIONS, render

Row = tuple[Any, ...]
_NO_LOCK = nullcontext()
WAKE_CHANNEL = "podium_wake"


class Tx:
    """A transaction: run statements written with ``?`` placeholders."""

    def __init__(self, db: Database, conn: Any) -> None:
        self._db = db
        self._conn = conn
        self.dialect = db.dialect
        self.notify = False

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs one statement; returns the number of rows it changed."""
        cur = self._conn.execute(self._sql(sql), params)
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.dialect == "postgres":
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self._conn.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(self._sql(sql), params).fetchall()]

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._conn.execute(self._sql(sql), params).fetchone()
        return tuple(row) if row is not None else None

    @property
    def skip_locked(self) -> str:
        """Appended to a SELECT that claims rows other engines may be claiming too."""
        return " FOR UPDATE SKIP LOCKED" if self.dialect == "postgres" else ""

    @property
    def for_update(self) -> str:
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    def lock(self, key: str) -> None:
        """Serialises this transaction with any other taking the same key.

        SQLite needs nothing: its write transactions (BEGIN IMMEDIATE) are already serial.
        """
        if self.dialect == "postgres":
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))


class Database:
    """Connections (one per thread), transactions and wake-ups for one store URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "postgres" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
        self._local = threading.local()
        self._conns: list[Any] = []
        self._guard = threading.Lock()
        self._shared: Any = None  # the one connection of an in-memory SQLite store
        self._tx_lock = threading.RLock()
        self._memory_listeners: list[Callable[[], None]] = []
        if self.dialect == "sqlite":
            self.path = _sqlite_path(url)
            self._pg_url, self._schema = "", None
        else:
            self.path = ""
            self._pg_url, self._schema = _split_schema(url)
        self._migrate()

    # -- connections ---------------------------------------------------------------
    def _connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self.dialect == "sqlite" and self.path == ":memory:":
            with self._guard:
                if self._shared is None:
                    self._shared = self._open_sqlite()
                    self._conns.append(self._shared)
            self._local.conn = self._shared
            return self._shared
        conn = self._open_sqlite() if self.dialect == "sqlite" else self._open_postgres()
        self._local.conn = conn
        with self._guard:
            self._conns.append(conn)
        return conn

    def _open_sqlite(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store at {self.path}: {exc}") from exc
        return conn

    def _open_postgres(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self._pg_url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the PostgreSQL store at {redact_url(self.url)}: "
                f"{str(exc).strip()}; check that the server runs and the URL is right"
            ) from exc
        if self._schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            conn.execute(f'SET search_path TO "{self._schema}"')
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; commits on success, rolls back on any exception."""
        conn = self._connect()
        tx = Tx(self, conn)
        if self.dialect == "sqlite":
            with self._tx_lock if self._shared is not None else _NO_LOCK:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield tx
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        else:
            with conn.transaction():
                yield tx
        if tx.notify:
            self.notify()

    def read(self) -> Tx:
        """A Tx for reads outside an explicit transaction (autocommit)."""
        return Tx(self, self._connect())

    def close(self) -> None:
        with self._guard:
            conns, self._conns = self._conns, []
        for conn in conns:
            with suppress(Exception):
                conn.close()
        self._local = threading.local()
        self._shared = None

    # -- migrations ----------------------------------------------------------------
    def _migrate(self) -> None:
        with self.transaction() as tx:
            tx.lock("podium.migrate")
            tx.execute("CREATE TABLE IF NOT EXISTS podium_meta (key TEXT PRIMARY KEY, value TEXT)")
            row = tx.fetchone("SELECT value FROM podium_meta WHERE key = 'schema_version'")
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"the store at {redact_url(self.url)} has schema version {version}, newer "
                    f"than this podium ({len(MIGRATIONS)}); upgrade podium"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    tx.execute(render(statement, self.dialect))
            tx.execute("DELETE FROM podium_meta WHERE key = 'schema_version'")
            tx.execute(
                "INSERT INTO podium_meta (key, value) VALUES ('schema_version', ?)",
                (str(len(MIGRATIONS)),),
            )

    @property
    def schema_version(self) -> int:
        row = self.read().fetchone("SELECT value FROM podium_meta WHERE key = 'schema_version'")
        return int(row[0]) if row else 0

    # -- wake-ups ------------------------------------------------------------------
    def notify(self) -> None:
        """Wakes every engine listening on this store (no-op if none listens)."""
        if self.dialect == "postgres":
            self.read().execute(f"NOTIFY {WAKE_CHANNEL}")
            return
        if self.path == ":memory:":
            for on_wake in list(self._memory_listeners):
                on_wake()
            return
        with (
            suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        ):
            sock.setblocking(False)
            sock.sendto(b"w", wake_socket_path(self.path))

    def listen(self, on_wake: Callable[[], None]) -> Callable[[], None]:
        """Calls ``on_wake`` (from a background thread) whenever another process notifies.

        Returns a function that stops listening.
        """
        stop = threading.Event()
        if self.dialect == "postgres":
            target = self._listen_postgres
        elif self.path == ":memory:":
            self._memory_listeners.append(on_wake)
            return lambda: self._memory_listeners.remove(on_wake)
        else:
            target = self._listen_sqlite
        thread = threading.Thread(target=target, args=(on_wake, stop), daemon=True)
        thread.start()
        return stop.set

    def _listen_sqlite(self, on_wake: Callable[[], None], stop: threading.Event) -> None:
        path = wake_socket_path(self.path)
        with suppress(FileNotFoundError):
            os.unlink(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    sock.recv(64)
                except TimeoutError:
                    continue
                on_wake()
        with suppress(FileNotFoundError):
            os.unlink(path)

    def _listen_postgres(self, on_wake: Callable[[], None], stop: threading.Event) -> None:
        import psycopg

        with psycopg.connect(self._pg_url, autocommit=True) as conn:
            conn.execute(f"LISTEN {WAKE_CHANNEL}")
            while not stop.is_set():
                for _ in conn.notifies(timeout=0.2):
                    on_wake()


def open_database(url: str) -> Database:
    return Database(url)


def wake_socket_path(db_path: str) -> str:
    digest = hashlib.sha1(os.path.abspath(db_path).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"podium-{digest}.wake")


def _sqlite_path(url: str) -> str:
    if url in ("sqlite://", "sqlite:///:memory:", "sqlite://:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise StoreError(f"store URL {url!r} is not sqlite:///PATH or postgresql://…")
    return url[len("sqlite:///") - 1 :] if url.startswith("sqlite:////") else url[10:]


def _split_schema(url: str) -> tuple[str, str | None]:
    """Takes podium's own ``schema=NAME`` query parameter out of a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = query.pop("schema", [None])[0]
    rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    return rest, schema


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
