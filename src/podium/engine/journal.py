"""Collects the events of one transaction and writes them in one statement at its end.

It is also where what a run says is sealed before the store keeps it: ``stored`` masks the
project's secrets (``Database.mask``) out of params, triggers, outputs, errors and event
payloads. Masking when written, not when read, means a secret is never at rest and a
rotated secret's old value cannot come back through the API or the UI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.core.events import Event
from podium.core.masking import Masker
from podium.store.database import Tx


@dataclass
class Journal:
    tx: Tx
    now: float
    rows: list[tuple[str, float, str | None, str | None, str, int]] = field(default_factory=list)
    emitted: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> None:
        kind, run_id, task_id, payload = event.to_record()
        row = (kind, self.now, run_id, task_id, self.stored(payload), int(event.dispatch))
        self.rows.append(row)
        self.emitted.append(event)

    def flush(self) -> None:
        self.tx.executemany(_INSERT, self.rows)
        if any(row[5] for row in self.rows):
            self.tx.notify = True
        self.rows = []

    def record(self, event: Event) -> int:
        """Writes ``event`` now (after any added before it) and returns its ``seq``, as the
        insert itself assigned it: not read back later, when another writer's may be newer."""
        self.add(event)
        row = self.rows.pop()
        self.flush()
        written = self.tx.fetchone(f"{_INSERT} RETURNING seq", row)
        assert written is not None  # an INSERT … RETURNING answers its row
        if row[5]:
            self.tx.notify = True
        return int(written[0])

    def stored(self, value: Any) -> str:
        """``value`` as the JSON text a table keeps, every secret masked."""
        return _dumps(self.tx.mask.data(value))

    def stored_json(self, text: str | None) -> str | None:
        """JSON text (a task's output) with every secret masked inside its values."""
        if not text or not self.tx.mask:
            return text
        return _dumps(self.tx.mask.data(json.loads(text)))

    def text(self, value: str | None) -> str | None:
        """A free text (an error) as a table keeps it, every secret masked."""
        return self.tx.mask(value) if value else value


_INSERT = (
    "INSERT INTO events (type, at, run_id, task_id, payload, pending) VALUES (?, ?, ?, ?, ?, ?)"
)


def _dumps(payload: Any) -> str:
    return json.dumps(payload, default=str, separators=(",", ":"))


def unmasked(
    stored: Mapping[str, Any], declared: Mapping[str, Any], mask: Masker
) -> dict[str, Any]:
    """A run's stored params with each masked declared default read again from the project.

    A param whose default is a secret (``${SHOPIFY_TOKEN}``) is stored masked; the task gets
    the project's current value back. A secret given as a run's own param stays masked:
    pass secrets through connections or declared defaults, not at run time.
    """
    restored = dict(stored)
    for name, value in stored.items():
        if name in declared and value != declared[name] and value == mask.data(declared[name]):
            restored[name] = declared[name]
    return restored
