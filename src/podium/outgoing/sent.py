"""Which rows an http task has sent: ``_podium.http_sent`` in the project's warehouse.

One row per (workflow, task, row key) that a call was answered as expected for, with the
run that sent it, the status and when. An http task whose ``for_each`` names a ``key``
reads the keys it sent before and skips those rows, so "send each new order" sends each
order once however often the workflow runs. To send a row again, delete its line::

    DELETE FROM _podium.http_sent WHERE task = 'send_orders' AND row_key = '1001'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium import clock
from podium.connectors.destinations.base import BOOKKEEPING
from podium.transforms.warehouse_sql import WarehouseSql, qualified

TABLE = "http_sent"
_CHUNK = 200  # rows per INSERT statement
FLUSH_EVERY = 200  # sent rows are written at least this often (and at the end)
FLUSH_SECONDS = 2.0


@dataclass(frozen=True)
class SentRow:
    workflow: str
    task: str
    row_key: str
    run_id: str
    status: int


def sent_keys(sql: WarehouseSql, workflow: str, task: str) -> set[str]:
    """The row keys this task has sent in any run (empty before its first send)."""
    if sql.relation_kind(BOOKKEEPING, TABLE) is None:
        return set()
    rows = sql.query(
        f"SELECT row_key FROM {qualified(sql, BOOKKEEPING, TABLE)} WHERE workflow = ? AND task = ?",
        (workflow, task),
    )
    return {str(r[0]) for r in rows}


def record_sent(sql: WarehouseSql, rows: Sequence[SentRow], now: datetime | None = None) -> None:
    """Remembers ``rows`` as sent (a key already remembered keeps its first line)."""
    if not rows:
        return
    _ensure_table(sql)
    at = now or clock.now()
    table = qualified(sql, BOOKKEEPING, TABLE)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in chunk)
        params: list[Any] = []
        for r in chunk:
            params.extend((r.workflow, r.task, r.row_key, r.run_id, r.status, at))
        sql.execute(
            f"INSERT INTO {table} (workflow, task, row_key, run_id, status, sent_at)"
            f" VALUES {values} ON CONFLICT DO NOTHING",
            params,
        )


def _ensure_table(sql: WarehouseSql) -> None:
    if sql.relation_kind(BOOKKEEPING, TABLE) is not None:
        return
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {qualified(sql, BOOKKEEPING, TABLE)} ("
        "workflow TEXT NOT NULL, task TEXT NOT NULL, row_key TEXT NOT NULL,"
        " run_id TEXT NOT NULL, status INTEGER NOT NULL, sent_at TIMESTAMPTZ NOT NULL,"
        " PRIMARY KEY (workflow, task, row_key))"
    )
    sql.ensure_schema(BOOKKEEPING, ddl=[ddl])  # parallel http tasks may create it together


class SentBook:
    """Rows answered as expected, written to the table every ``FLUSH_EVERY`` rows or
    ``FLUSH_SECONDS``, and on ``flush(force=True)``. ``open_sql`` opens the warehouse for
    each write (a DuckDB file is not held open while calls are made)."""

    def __init__(
        self,
        workflow: str,
        task: str,
        run_id: str,
        open_sql: Callable[[], AbstractContextManager[WarehouseSql]],
    ) -> None:
        self.workflow, self.task, self.run_id, self.open_sql = workflow, task, run_id, open_sql
        self.pending: list[SentRow] = []
        self.count = 0
        self._flushed_at = time.monotonic()

    def add(self, keys: Sequence[str], status: int) -> None:
        self.pending.extend(SentRow(self.workflow, self.task, k, self.run_id, status) for k in keys)
        self.count += len(keys)
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        if not self.pending:
            return
        due = time.monotonic() - self._flushed_at >= FLUSH_SECONDS
        if not (force or due or len(self.pending) >= FLUSH_EVERY):
            return
        with self.open_sql() as sql:
            record_sent(sql, self.pending)
        self.pending = []
        self._flushed_at = time.monotonic()
