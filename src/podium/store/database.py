"""One SQL database holding podium's state: SQLite (embedded default) or PostgreSQL.

The engine's state machine speaks plain SQL through a ``Tx``; this module hides what differs
between the two: placeholders, row locks, advisory locks, connections per thread, migrations
and how one process wakes another after a commit (a UNIX datagram for SQLite, LISTEN/NOTIFY
for PostgreSQL).

A store that is away (a lost connection, a restarting server, SQLite's lock held past the
busy timeout, a full disk) raises ``StoreUnavailableError`` from any statement, transaction
or connect; a broken PostgreSQL connection is dropped and the next statement reconnects
(with a connect timeout, TCP keepalives and a statement timeout: see ``PG_DEFAULTS``).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from podium.core.masking import Masker
from podium.errors import StoreError, StoreUnavailableError
from podium.store.outage import Backoff, transient_reason, unavailable
from podium.store.schema import MIGRATIONS, render

Row = tuple[Any, ...]
_NO_LOCK = nullcontext()
WAKE_CHANNEL = "podium_wake"
#: libpq settings added to a PostgreSQL URL that does not set them: a dead server is noticed
#: in seconds (connect timeout; keepalives on an idle LISTEN connection), not hours
PG_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}
#: a store statement running longer than this is cancelled (podium's own ``statement_timeout=``
#: URL parameter, in PostgreSQL's units: ``30s``, ``500ms``, ``0`` for none)
STATEMENT_TIMEOUT = "30s"


class Tx:
    """A transaction: run statements written with ``?`` placeholders."""

    def __init__(self, db: Database, conn: Any, *, autocommit: bool = False) -> None:
        self._db = db
        self._conn = conn
        self.dialect = db.dialect
        self.mask = db.mask
        self.notify = False
        # a read's first SELECT may be sent again on a new connection if the one it found
        # was broken while idle (the server restarted): nothing ran on it
        self._may_reconnect = autocommit and db.dialect == "postgres"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs one statement; returns the number of rows it changed."""
        try:
            return int(self._conn.execute(self._sql(sql), params).rowcount)
        except Exception as exc:
            self._db.raise_if_unavailable(exc, self._conn)
            raise

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            if self.dialect == "postgres":
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)
            else:
                self._conn.executemany(sql, rows)
        except Exception as exc:
            self._db.raise_if_unavailable(exc, self._conn)
            raise

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            rows = self._conn.execute(self._sql(sql), params).fetchall()
        except Exception as exc:
            if self._reconnected(sql):
                return self.fetchall(sql, params)
            self._db.raise_if_unavailable(exc, self._conn)
            raise
        self._may_reconnect = False
        return [tuple(r) for r in rows]

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            row = self._conn.execute(self._sql(sql), params).fetchone()
        except Exception as exc:
            if self._reconnected(sql):
                return self.fetchone(sql, params)
            self._db.raise_if_unavailable(exc, self._conn)
            raise
        self._may_reconnect = False
        return tuple(row) if row is not None else None

    def _reconnected(self, sql: str) -> bool:
        """Whether this read's first SELECT failed on a connection found broken, and a
        new one is now in its place (once: the next failure is the store's)."""
        if not self._may_reconnect:
            return False
        self._may_reconnect = False
        if sql.lstrip()[:6].upper() != "SELECT" or not self._db.is_broken(self._conn):
            return False
        self._conn = self._db.replace_broken(self._conn)
        return True

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
            self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))


class Database:
    """Connections (one per thread), transactions and wake-ups for one store URL.

    ``mask`` hides the project's secrets in what is written: params, outputs, errors, log
    lines and event payloads pass it before they reach a table (``Journal.stored``), so a
    secret is never at rest, even after it is rotated. ``busy_timeout``: how long a SQLite
    write waits for another process's lock before the store counts as unavailable.
    """

    def __init__(
        self, url: str, secrets: Iterable[str] = (), *, busy_timeout: float = 30.0
    ) -> None:
        self.url = url
        self.mask = Masker(secrets)
        self.busy_timeout = busy_timeout
        self.dialect = "postgres" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
        self._local = threading.local()
        self._conns: list[Any] = []
        self._guard = threading.Lock()
        self._shared: Any = None  # the one connection of an in-memory SQLite store
        self._tx_lock = threading.RLock()
        self._memory_listeners: list[Callable[[], None]] = []
        if self.dialect == "sqlite":
            self.path = _sqlite_path(url)
            self._pg_url, self._schema, self._statement_timeout = "", None, ""
        else:
            self.path = ""
            self._pg_url, self._schema, self._statement_timeout = _split_schema(url)
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
        try:
            if self.path != ":memory:":
                _make_private(Path(self.path))
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self.busy_timeout,
            )
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            reason = transient_reason(exc)
            if reason is not None:
                raise unavailable(exc, f"at {self.path}", reason) from exc
            raise StoreError(f"cannot open the SQLite store at {self.path}: {exc}") from exc
        return conn

    def _open_postgres(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(_pg_conninfo(self._pg_url), autocommit=True)
        except psycopg.Error as exc:
            reason = "cannot connect; check that the server runs and the URL is right"
            raise unavailable(exc, redact_url(self.url), reason) from exc
        try:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false)", (self._statement_timeout,)
            )
            if self._schema:
                # another engine may make it at the same moment: IF NOT EXISTS races
                with suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                conn.execute(f'SET search_path TO "{self._schema}"')
        except psycopg.Error as exc:
            with suppress(Exception):
                conn.close()
            self.raise_if_unavailable(exc, None)
            raise
        return conn

    def raise_if_unavailable(self, exc: BaseException, conn: Any) -> None:
        """Raises StoreUnavailableError for a transient driver error ``exc`` (dropping
        ``conn`` if it broke, so the next statement reconnects); returns otherwise."""
        reason = transient_reason(exc)
        if reason is None:
            return
        if conn is not None and self.is_broken(conn):
            self._drop(conn)
        where = f"at {self.path}" if self.dialect == "sqlite" else redact_url(self.url)
        raise unavailable(exc, where, reason) from exc

    def is_broken(self, conn: Any) -> bool:
        """Whether ``conn`` is a PostgreSQL connection that can no longer be used."""
        return self.dialect == "postgres" and bool(conn.closed or conn.broken)

    def replace_broken(self, conn: Any) -> Any:
        """A new connection for this thread in place of the broken ``conn``."""
        self._drop(conn)
        return self._connect()

    def _drop(self, conn: Any) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._guard:
            if conn in self._conns:
                self._conns.remove(conn)
        with suppress(Exception):
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; commits on success, rolls back on any exception."""
        conn = self._connect()
        if self.dialect == "sqlite":
            tx = Tx(self, conn)
            with self._tx_lock if self._shared is not None else _NO_LOCK:
                tx.execute("BEGIN IMMEDIATE")
                try:
                    yield tx
                    tx.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                        with suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
        else:
            conn, begun = self._begin_postgres(conn)
            tx = Tx(self, conn)
            try:
                with ExitStack() as stack:
                    stack.push(begun)  # entered already: commits or rolls back on exit
                    yield tx
            except Exception as exc:
                self.raise_if_unavailable(exc, conn)
                raise
        if tx.notify:
            with suppress(StoreUnavailableError):  # committed; the next poll finds it
                self.notify()

    def _begin_postgres(self, conn: Any) -> tuple[Any, Any]:
        """BEGIN on ``conn``, or on a new connection if ``conn`` is found broken (the
        server restarted while it was idle: nothing ran on it). (connection, transaction)."""
        try:
            begun = conn.transaction()
            begun.__enter__()
            return conn, begun
        except Exception as exc:
            if not self.is_broken(conn):
                self.raise_if_unavailable(exc, conn)
                raise
        conn = self.replace_broken(conn)
        try:
            begun = conn.transaction()
            begun.__enter__()
        except Exception as exc:
            self.raise_if_unavailable(exc, conn)
            raise
        return conn, begun

    def read(self) -> Tx:
        """A Tx for reads outside an explicit transaction (autocommit)."""
        return Tx(self, self._connect(), autocommit=True)

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
        """LISTENs until ``stop``; a lost connection is made again (with backoff) and the
        engine woken once it is, for the notifications sent while it was away."""
        import psycopg

        backoff = Backoff()
        while not stop.is_set():
            try:
                with psycopg.connect(_pg_conninfo(self._pg_url), autocommit=True) as conn:
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    backoff.reset()
                    on_wake()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.2):
                            on_wake()
            except psycopg.Error:
                stop.wait(backoff.next())


def open_database(url: str, secrets: Iterable[str] = ()) -> Database:
    """The store at ``url``; ``secrets`` (a project's) are masked in all it writes."""
    return Database(url, secrets)


def _make_private(path: Path) -> None:
    """The store file, its WAL files and the ``.podium/`` folder holding it readable by
    their owner only (0600 / 0700): they keep runs, params and the webhook inbox."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    elif folder.name == ".podium":
        folder.chmod(0o700)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def wake_socket_path(db_path: str) -> str:
    digest = hashlib.sha1(os.path.abspath(db_path).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"podium-{digest}.wake")


def _sqlite_path(url: str) -> str:
    if url in ("sqlite://", "sqlite:///:memory:", "sqlite://:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise StoreError(f"store URL {url!r} is not sqlite:///PATH or postgresql://…")
    return url[len("sqlite:///") - 1 :] if url.startswith("sqlite:////") else url[10:]


def _split_schema(url: str) -> tuple[str, str | None, str]:
    """Takes podium's own ``schema=NAME`` and ``statement_timeout=T`` query parameters out
    of a PostgreSQL URL: (the URL libpq gets, the schema, the statement timeout)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = query.pop("schema", [None])[0]
    timeout = query.pop("statement_timeout", [STATEMENT_TIMEOUT])[0]
    rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    return rest, schema, timeout


def _pg_conninfo(url: str) -> str:
    """``url`` with the ``PG_DEFAULTS`` it does not set itself."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(url)
    return make_conninfo(url, **{k: v for k, v in PG_DEFAULTS.items() if k not in given})


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
