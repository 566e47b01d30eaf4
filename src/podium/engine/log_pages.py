"""A run's log lines one bounded page at a time, for the API.

Lines come in (task, attempt, time) order. A page holds at most ``limit`` lines and about
``max_bytes`` of line text (always at least one line); a line longer than ``LINE_BYTES`` is
cut, saying how much was left out. ``next_cursor`` names the last line given (its task id in
hex, attempt and time: ``CURSOR_PATTERN``): pass it back to read on; None when nothing is
left. Any text of that pattern is a position, so the API's schema says exactly what it takes. A page never splits lines that
share a time stamp (they go whole to the next page, or all come along when they would
fill a page alone), so the cursor is exact without a line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from podium.engine.queries import iso, require_task
from podium.errors import UsageError
from podium.store.database import Database, Row

PAGE_LINES = 1000
MAX_PAGE_LINES = 5000
PAGE_BYTES = 1024 * 1024
LINE_BYTES = 64 * 1024
CURSOR_PATTERN = r"^(?:[0-9a-f]{2}){1,400}-[0-9]{1,9}-[0-9]{1,12}(?:\.[0-9]{1,17})?$"

_Key = tuple[str, int, float]


@dataclass(frozen=True)
class LogPage:
    lines: list[dict[str, Any]]
    next_cursor: str | None


def log_page(
    db: Database,
    run_id: str,
    task_id: str | None = None,
    *,
    cursor: str | None = None,
    limit: int = PAGE_LINES,
    max_bytes: int = PAGE_BYTES,
) -> LogPage:
    """One page of a run's (or one task's) log lines after ``cursor``."""
    if not 1 <= limit <= MAX_PAGE_LINES:
        raise UsageError(f"limit must be between 1 and {MAX_PAGE_LINES}, got {limit}")
    after = _decode(cursor) if cursor else None
    require_task(db, run_id, task_id)
    rows = _rows(db, run_id, task_id, after, limit=limit + 1)
    taken: list[Row] = []
    size = 0
    for row in rows[:limit]:
        if taken and size + min(len(row[4]), LINE_BYTES) > max_bytes:
            break
        taken.append(row)
        size += min(len(row[4]), LINE_BYTES)
    if len(taken) == len(rows):
        return LogPage([_line(r) for r in taken], None)
    # a page ends between two time stamps, so the cursor (the last line's) stays exact:
    # the lines sharing the last time go to the next page, or all come along when they
    # are the whole page
    last = _key(taken[-1])
    if _key(rows[len(taken)]) == last:
        before = [r for r in taken if _key(r) != last]
        if before:
            taken, last = before, _key(before[-1])
        else:
            taken = _rows(db, run_id, task_id, last, same=True)
    return LogPage([_line(r) for r in taken], _encode(last))


def _rows(
    db: Database,
    run_id: str,
    task_id: str | None,
    after: _Key | None,
    *,
    limit: int | None = None,
    same: bool = False,
) -> list[Row]:
    """Lines after the key ``after`` (``same``: at exactly that key), in order."""
    where: list[str] = ["run_id = ?"]
    args: list[Any] = [run_id]
    if task_id is not None:
        where.append("task_id = ?")
        args.append(task_id)
    if after is not None:
        where.append(f"(task_id, attempt, at) {'=' if same else '>'} (?, ?, ?)")
        args.extend(after)
    sql = (
        f"SELECT task_id, attempt, at, stream, line FROM logs WHERE {' AND '.join(where)}"
        " ORDER BY task_id, attempt, at"
    )
    if same:
        sql += ", stream, line"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return db.read().fetchall(sql, args)


def _line(row: Row) -> dict[str, Any]:
    text: str = row[4]
    if len(text) > LINE_BYTES:
        text = f"{text[:LINE_BYTES]}… ({len(row[4]) - LINE_BYTES} more characters cut)"
    return {"task_id": row[0], "attempt": row[1], "at": iso(row[2]), "stream": row[3], "line": text}


def _key(row: Row) -> _Key:
    return str(row[0]), int(row[1]), float(row[2])


def _encode(key: _Key) -> str:
    task, attempt, at = key
    return f"{task.encode().hex()}-{attempt}-{at!r}"


def _decode(cursor: str) -> _Key:
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise UsageError(
            f"cursor {cursor[:40]!r} is not one this server gave; start again without it"
        )
    task, attempt, at = cursor.split("-")
    name = bytes.fromhex(task).decode("utf-8", "replace").replace("\x00", "\ufffd")
    return name, int(attempt), float(at)
