"""Reading stored events in order, once per consumer, with a durable cursor.

A consumer (a notifier, an outgoing webhook) reads a batch after its cursor, handles it,
then advances the cursor. A crash between handling and advancing hands the batch out again,
so consumers make their own effects idempotent (``notifications_sent`` keys).
"""

from __future__ import annotations

import json
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


class EventFeed:
    """The events a named ``consumer`` has not handled yet, oldest first."""

    def __init__(self, db: Database, consumer: str) -> None:
        self.db, self.consumer = db, consumer

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
            "SELECT seq, type, at, run_id, task_id, payload FROM events WHERE seq > ?"
            " ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [
            StoredEvent(int(r[0]), r[1], float(r[2]), r[3], r[4], json.loads(r[5])) for r in rows
        ]

    def advance(self, seq: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM event_cursors WHERE consumer = ?", (self.consumer,))
            tx.execute(
                "INSERT INTO event_cursors (consumer, seq) VALUES (?, ?)", (self.consumer, seq)
            )
