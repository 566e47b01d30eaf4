"""Processing the webhook inbox: each due entry fires the ``webhook`` triggers it matches.

Called by the engine inside its step's transaction (``Triggers.dispatch``): the runs an
entry starts, its ``WebhookReceived`` event and its ``processed`` mark commit together, so
an entry is processed exactly once however often it was delivered and whenever the engine
dies. Each run carries ``dedupe_key = webhook:{inbox id}:{workflow}:{trigger index}`` (plus
``:replay{n}`` once replayed), so even two engines could not start it twice.

An entry whose processing fails (a payload its triggers cannot be evaluated on, an error
creating a run) is rolled back to a savepoint, so it never blocks the others: its attempts
grow, its next attempt waits ``retry_delay`` doubled each time, and after ``max_attempts``
it is ``dead`` (``WebhookFailed`` events say so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podium.core.events import WebhookFailed, WebhookReceived
from podium.core.masking import Masker
from podium.core.workflow import Project, WebhookTrigger, Workflow
from podium.engine import state
from podium.engine.journal import Journal
from podium.webhooks.match import matches, run_params
from podium.webhooks.settings import WebhookSettings, all_webhook_settings

#: entries processed per engine step; a full batch makes the engine look again at once
BATCH = 200
_SAVEPOINT = "podium_webhook_entry"
_DEFAULTS = WebhookSettings("", "hmac", ())


@dataclass(frozen=True)
class _Entry:
    id: int
    connection: str
    delivery_id: str
    topic: str | None
    attempts: int
    replays: int


Route = tuple[Workflow, int, WebhookTrigger]


class WebhookProcessor:
    """Turns due inbox entries into runs; one per engine (its project's triggers)."""

    def __init__(self, project: Project) -> None:
        self.settings = all_webhook_settings(project.connections)
        self.mask = Masker(project.secrets)
        self.routes: dict[str, list[Route]] = {}
        for wf in project.workflows.values():
            for index, trig in enumerate(wf.triggers):
                if isinstance(trig, WebhookTrigger):
                    self.routes.setdefault(trig.connection, []).append((wf, index, trig))

    def process(self, j: Journal) -> int:
        """Processes up to BATCH due entries; returns how many it looked at."""
        tx = j.tx
        rows = tx.fetchall(
            "SELECT id, connection, delivery_id, topic, attempts, replays FROM webhook_inbox"
            " WHERE status IN ('pending', 'failed')"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            f" ORDER BY id LIMIT ?{tx.skip_locked}",
            (j.now, BATCH),
        )
        entries = [_Entry(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]
        quiet = [e for e in entries if not self.routes.get(e.connection)]
        for entry in quiet:
            j.add(WebhookReceived(entry.connection, entry.delivery_id, entry.id, entry.topic))
        tx.executemany(
            "UPDATE webhook_inbox SET status = 'processed', processed_at = ?,"
            " attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL WHERE id = ?",
            [(j.now, e.id) for e in quiet],
        )
        for entry in entries:
            if self.routes.get(entry.connection):
                self._guarded(j, entry)
        if len(entries) == BATCH:
            tx.notify = True  # more are due: wake the engine again once this commits
        return len(entries)

    def _guarded(self, j: Journal, entry: _Entry) -> None:
        tx = j.tx
        rows, emitted = len(j.rows), len(j.emitted)
        tx.execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            self._process(j, entry)
        except Exception as exc:  # noqa: BLE001 - any failure is this entry's, recorded
            tx.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            tx.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            del j.rows[rows:], j.emitted[emitted:]
            self._failed(j, entry, exc)
        else:
            tx.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")

    def _process(self, j: Journal, entry: _Entry) -> None:
        row = j.tx.fetchone("SELECT body FROM webhook_inbox WHERE id = ?", (entry.id,))
        payload = json.loads(row[0]) if row else None
        runs: list[str] = []
        for wf, index, trig in self.routes[entry.connection]:
            if not matches(trig, entry.connection, entry.topic, payload):
                continue
            params = run_params(trig, wf, payload)
            key = f"webhook:{entry.id}:{wf.name}:{index}"
            run_id = state.create_run(
                j,
                wf,
                trigger=_trigger_info(entry, payload),
                params=params,
                logical_time=datetime.fromtimestamp(j.now, UTC).isoformat(),
                dedupe_key=f"{key}:replay{entry.replays}" if entry.replays else key,
            )
            if run_id is not None:
                runs.append(run_id)
        j.add(WebhookReceived(entry.connection, entry.delivery_id, entry.id, entry.topic, runs))
        j.tx.execute(
            "UPDATE webhook_inbox SET status = 'processed', processed_at = ?,"
            " attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL WHERE id = ?",
            (j.now, entry.id),
        )

    def _failed(self, j: Journal, entry: _Entry, exc: Exception) -> None:
        settings = self.settings.get(entry.connection, _DEFAULTS)
        attempts = entry.attempts + 1
        dead = attempts >= settings.max_attempts
        error = self.mask(f"{type(exc).__name__}: {exc}")[:2000]
        next_at = None if dead else j.now + settings.delay_after(attempts)
        j.tx.execute(
            "UPDATE webhook_inbox SET status = ?, attempts = ?, next_attempt_at = ?,"
            " last_error = ? WHERE id = ?",
            ("dead" if dead else "failed", attempts, next_at, error, entry.id),
        )
        j.add(WebhookFailed(entry.connection, entry.delivery_id, entry.id, attempts, error, dead))


def _trigger_info(entry: _Entry, payload: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": "webhook",
        "connection": entry.connection,
        "topic": entry.topic,
        "delivery_id": entry.delivery_id,
        "inbox_id": entry.id,
        "payload": payload,
    }
    if entry.replays:
        info["replay"] = entry.replays
    return info
