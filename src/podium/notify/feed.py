"""Reading stored events in order, once per consumer, with a durable cursor.

A consumer (a notifier, an outgoing webhook) reads a batch after its cursor, handles it,
then advances the cursor. A crash between handling and advancing hands the batch out again,
so consumers make their own effects idempotent (``notifications_sent`` keys).

**No event is skipped.** On PostgreSQL an event's number is drawn when it is inserted, not
when its transaction commits: while one engine's transaction holding event 10 is still
open, another's event 11 may already be visible. A cursor that moved to 11 would never see
10. So a batch ends before the first *gap* in the numbers until the gap is settled: every
transaction that was running when the gap was first seen has ended (the store's oldest
running transaction, ``xmin``, has passed the ``xmax`` of that first look). By then the
missing event is visible (and read, in order) or will never exist (rolled back). On SQLite
one writer commits at a time, so numbers become visible in order and a gap is always
settled (a pruned or rolled-back number).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podium.store.database import Database


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    type: str
    at: float
    run_id: str | None
    task_id: str | None
    payload: dict[str, Any]


_COLUMNS = "seq, type, at, run_id, task_id, payload"


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(int(row[0]), row[1], float(row[2]), row[3], row[4], json.loads(row[5]))


def event_at(db: Database, seq: int) -> StoredEvent | None:
    """The stored event numbered ``seq``, if it is still there."""
    row = db.read().fetchone(f"SELECT {_COLUMNS} FROM events WHERE seq = ?", (seq,))
    return _stored(row) if row else None


class RunWorkflows:
    """Which workflow a run belongs to, looked up once per run (a bounded cache)."""

    LIMIT = 10_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[str, str | None] = {}

    def __call__(self, run_id: str | None) -> str | None:
        if run_id is None:
            return None
        if run_id not in self._known:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            row = self.db.read().fetchone("SELECT workflow FROM runs WHERE id = ?", (run_id,))
            self._known[run_id] = str(row[0]) if row else None
        return self._known[run_id]


def record_pending(db: Database, notifier: str, due: Sequence[tuple[str, float]]) -> None:
    """A ``pending`` row of ``notifications_sent`` per (key, when due) not recorded yet:
    what a subscriber will deliver, once, whatever replays its events."""
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO notifications_sent (key, notifier, at, status, attempts)"
            " VALUES (?, ?, ?, 'pending', 0) ON CONFLICT (key) DO NOTHING",
            [(key, notifier, at) for key, at in due],
        )


class EventFeed:
    """The events a named ``consumer`` has not handled yet, oldest first, never past an
    event that may still commit (see the module docstring)."""

    def __init__(self, db: Database, consumer: str) -> None:
        self.db, self.consumer = db, consumer
        #: first missing number of each gap seen → the store's xmax when first seen
        self._gaps: dict[int, int] = {}

    def position(self) -> int | None:
        row = self.db.read().fetchone(
            "SELECT seq FROM event_cursors WHERE consumer = ?", (self.consumer,)
        )
        return int(row[0]) if row else None

    def start_at_end(self) -> None:
        """A new consumer starts after the newest event instead of replaying history."""
        if self.position() is not None:
            return
        with self.db.transaction() as tx:
            row = tx.fetchone("SELECT COALESCE(MAX(seq), 0) FROM events")
            tx.execute(
                "INSERT INTO event_cursors (consumer, seq) VALUES (?, ?)"
                " ON CONFLICT (consumer) DO NOTHING",
                (self.consumer, int(row[0]) if row else 0),
            )

    def next_batch(self, limit: int = 500) -> list[StoredEvent]:
        after = self.position() or 0
        rows = self.db.read().fetchall(
            f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        events = [_stored(r) for r in rows]
        self._gaps = {seq: xmax for seq, xmax in self._gaps.items() if seq > after}
        expected = after + 1
        for n, event in enumerate(events):
            if event.seq != expected and not self._settled(expected):
                return events[:n]  # the gap may still fill: stop before it
            expected = event.seq + 1
        return events

    def _settled(self, missing: int) -> bool:
        """Whether no transaction that was running when the gap at ``missing`` was first
        seen is running still (always, on SQLite)."""
        if self.db.dialect != "postgres":
            return True
        row = self.db.read().fetchone(
            "SELECT txid_snapshot_xmin(s), txid_snapshot_xmax(s)"
            " FROM (SELECT txid_current_snapshot() AS s) AS now"
        )
        if row is None:  # a snapshot always has one row; be safe, not stuck
            return True
        xmin, xmax = int(row[0]), int(row[1])
        first_seen = self._gaps.setdefault(missing, xmax)
        return xmin >= first_seen

    def advance(self, seq: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM event_cursors WHERE consumer = ?", (self.consumer,))
            tx.execute(
                "INSERT INTO event_cursors (consumer, seq) VALUES (?, ?)", (self.consumer, seq)
            )
