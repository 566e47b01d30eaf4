"""What triggers and deadlines remember between engine steps: one JSON value per
(workflow, key) in ``trigger_state``, read and written inside the step's transaction."""

from __future__ import annotations

import json
from typing import Any

from podium.engine.journal import Journal


def load(j: Journal, workflow: str, key: str) -> dict[str, Any] | None:
    row = j.tx.fetchone(
        "SELECT value FROM trigger_state WHERE workflow = ? AND trigger_key = ?", (workflow, key)
    )
    return json.loads(row[0]) if row else None


def save(j: Journal, workflow: str, key: str, value: dict[str, Any] | None) -> None:
    """Replaces the value; None forgets it."""
    j.tx.execute(
        "DELETE FROM trigger_state WHERE workflow = ? AND trigger_key = ?", (workflow, key)
    )
    if value is not None:
        j.tx.execute(
            "INSERT INTO trigger_state (workflow, trigger_key, value) VALUES (?, ?, ?)",
            (workflow, key, json.dumps(value)),
        )
