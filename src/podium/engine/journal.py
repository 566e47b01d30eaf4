"""Collects the events of one transaction and writes them in one statement at its end."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from podium.core.events import Event
from podium.store.database import Tx


@dataclass
class Journal:
    tx: Tx
    now: float
    rows: list[tuple[str, float, str | None, str | None, str, int]] = field(default_factory=list)
    emitted: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> None:
        kind, run_id, task_id, payload = event.to_record()
        self.rows.append((kind, self.now, run_id, task_id, _dumps(payload), int(event.dispatch)))
        self.emitted.append(event)

    def flush(self) -> None:
        self.tx.executemany(
            "INSERT INTO events (type, at, run_id, task_id, payload, pending) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            self.rows,
        )
        if any(row[5] for row in self.rows):
            self.tx.notify = True
        self.rows = []


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, default=str, separators=(",", ":"))
