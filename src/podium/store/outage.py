"""Telling a store that is away from a store that is wrong, and waiting for it to come back.

A driver error is *transient* when the same statement may succeed later without anyone
changing podium or the project: the connection was lost or refused (a PostgreSQL restart,
a network cut), the server is shutting down or starting up, a statement timed out, another
process holds SQLite's write lock past the busy timeout, the disk is full or failing.
Those become ``StoreUnavailableError``; every other driver error (bad SQL, a constraint)
stays what it was: a bug or a broken store is not waited for.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable

from podium.errors import StoreUnavailableError, first_line

# SQLite's primary result codes (the low byte of an extended code) that pass by themselves.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_FULL = 5, 6, 10, 13
_SQLITE_CANTOPEN, _SQLITE_PROTOCOL = 14, 15
_SQLITE_TRANSIENT = {
    _SQLITE_BUSY: "another process holds its write lock (busy timeout passed)",
    _SQLITE_LOCKED: "another process holds its write lock (busy timeout passed)",
    _SQLITE_IOERR: "a disk I/O error",
    _SQLITE_FULL: "the disk holding it is full; free space on it",
    _SQLITE_CANTOPEN: "its file cannot be opened",
    _SQLITE_PROTOCOL: "a locking protocol error",
}


def transient_reason(exc: BaseException) -> str | None:
    """Why ``exc`` (a driver error) means the store is away for now; None if it is not."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return None
        return _SQLITE_TRANSIENT.get(code & 0xFF)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    if isinstance(exc, psycopg.Error) and (exc.sqlstate or "").startswith("40"):
        return "the server rolled the transaction back (deadlock or serialization failure)"
    if isinstance(exc, psycopg.OperationalError):
        return "the server cannot be reached or is restarting"
    return None


def unavailable(exc: BaseException, where: str, reason: str) -> StoreUnavailableError:
    """The error podium raises for a transient driver error ``exc`` at store ``where``."""
    return StoreUnavailableError(
        f"the store {where} is unavailable: {reason} ({type(exc).__name__}: "
        f"{first_line(exc, 200)}); nothing is lost: try again once it is back (a running"
        " podium up waits for it)"
    )


class Backoff:
    """Delays between tries while the store is away: doubling from ``first`` up to ``cap``
    seconds, each drawn at random between half and all of it (so engines sharing a
    restarted server do not all come back at the same instant)."""

    def __init__(
        self, first: float = 0.1, cap: float = 5.0, *, draw: Callable[[], float] | None = None
    ) -> None:
        self.first, self.cap = first, cap
        self._draw = draw or random.random
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * (0.5 + self._draw() / 2)

    def reset(self) -> None:
        self._next = self.first
