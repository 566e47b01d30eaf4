"""Live progress of a run on the terminal, driven by the engine's events."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TextIO

from podium.core import events as ev
from podium.engine import queries
from podium.store.database import Database

_MARKS = {
    "succeeded": "✓",
    "failed": "✗",
    "timed_out": "⏱",
    "upstream_failed": "↯",
    "skipped": "-",
    "cancelled": "⊘",
}


class Progress:
    def __init__(self, *, enabled: bool, stream: TextIO, width: int = 24) -> None:
        self.enabled, self.stream = enabled, stream
        self._started = time.perf_counter()
        self._width = width  # task ids are padded to this, so the statuses line up
        self._catchups: set[str] = set()

    def _say(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        self._say(f"  {text}")

    def started(self, run_id: str, workflow: str) -> None:
        self._started = time.perf_counter()
        self._say(f"run {run_id} of {workflow} started")

    def on_events(self, events: Sequence[ev.Event]) -> None:
        if not self.enabled:
            return
        for e in events:
            if isinstance(e, ev.TaskFinished):
                mark = _MARKS.get(e.status, "?")
                again = " (catch-up)" if e.run_id in self._catchups else ""
                self._say(f"  {mark} {e.task_id:<{self._width}} {e.status}{again}")
            elif isinstance(e, ev.AttemptFinished) and e.status not in ("succeeded",):
                self._say(f"    {e.task_id} attempt {e.attempt} {e.status}: {e.error or ''}")
            elif isinstance(e, ev.TaskLate):
                self._say(f"  … {e.task_id:<{self._width}} late (on_late: {e.on_late})")
            elif isinstance(e, ev.CatchupStarted):
                self._catchups.add(e.run_id)
                self._say(
                    f"  ↻ catch-up run {e.run_id}: {e.late_task} landed late;"
                    f" re-running {', '.join(e.tasks)}"
                )

    def finished(self, db: Database, run: dict[str, Any]) -> None:
        if not self.enabled:
            return
        counts: dict[str, int] = {}
        for task in run["tasks"]:
            counts[task["status"]] = counts.get(task["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        took = time.perf_counter() - self._started
        self._say(f"run {run['run_id']} {run['status']} in {took:.2f}s ({summary})")
        for catchup in run.get("catchup_runs", []):
            status = queries.show_run(db, catchup)["status"]
            self._say(f"catch-up run {catchup} {status}")


def follow(db: Database, root_id: str, progress: Progress, poll: float = 0.2) -> None:
    """Prints a run tree's task events from the store until every run in it has ended."""
    seen = 0
    while True:
        rows = db.read().fetchall(
            "SELECT e.seq, e.task_id, e.payload FROM events e JOIN runs r ON r.id = e.run_id"
            " WHERE r.root_id = ? AND e.type = 'TaskFinished' AND e.seq > ? ORDER BY e.seq",
            (root_id, seen),
        )
        for seq, task_id, payload in rows:
            seen = int(seq)
            import json

            status = json.loads(payload).get("status", "")
            progress.on_events([ev.TaskFinished("", task_id, status)])
        if queries.open_runs_in_tree(db, root_id) == 0:
            return
        time.sleep(poll)
