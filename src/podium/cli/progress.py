"""Live progress of a run on the terminal, driven by the engine's events."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from podium.cli import colour
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


#: how often the "running: …" line of a terminal is redrawn
TICK = 1.0


class Progress:
    """Prints a line per task that ends. On a terminal it also keeps a last line saying
    which tasks run and for how long, redrawn every ``TICK`` seconds (``live``), and
    colours the statuses (unless ``NO_COLOR`` is set)."""

    def __init__(
        self, *, enabled: bool, stream: TextIO, width: int = 24, live: bool | None = None
    ) -> None:
        self.enabled, self.stream = enabled, stream
        self._started = time.perf_counter()
        self._width = width  # task ids are padded to this, so the statuses line up
        self._catchups: set[str] = set()
        tty = bool(getattr(stream, "isatty", None) and stream.isatty())
        self.live = enabled and (tty if live is None else live)
        self.colour = enabled and colour.wanted(stream)
        self._running: dict[tuple[str, str], float] = {}  # (run, task): when it started
        self._shown = False  # the "running: …" line is on the screen
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _say(self, text: str) -> None:
        if not self.enabled:
            return
        with self._guard:
            self._clear()
            print(text, file=self.stream, flush=True)
            self._draw()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self._shown = False

    def _draw(self) -> None:
        if not self.live or not self._running:
            return
        now = time.perf_counter()
        parts = [f"{task} {now - at:.0f}s" for (_, task), at in sorted(self._running.items())]
        self.stream.write(f"  … running: {', '.join(parts)}"[:200])
        self.stream.flush()
        self._shown = True

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._guard:
                self._clear()
                self._draw()

    def stop(self) -> None:
        """Ends the "running: …" line (the run ended or the command is leaving)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None
        with self._guard:
            self._running.clear()
            self._clear()
        if self.live:
            self.stream.flush()

    def note(self, text: str) -> None:
        self._say(f"  {text}")

    def started(self, run_id: str, workflow: str) -> None:
        self._started = time.perf_counter()
        self._say(f"run {run_id} of {workflow} started")
        if self.live and self._ticker is None:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def on_events(self, events: Sequence[ev.Event]) -> None:
        if not self.enabled:
            return
        for e in events:
            if isinstance(e, ev.AttemptStarted):
                with self._guard:
                    self._running[(e.run_id, e.task_id)] = time.perf_counter()
                    self._clear()
                    self._draw()
            elif isinstance(e, ev.AttemptFinished):
                with self._guard:
                    self._running.pop((e.run_id, e.task_id), None)
            if isinstance(e, ev.TaskFinished):
                mark = _MARKS.get(e.status, "?")
                again = " (catch-up)" if e.run_id in self._catchups else ""
                shown = colour.status(e.status, e.status, on=self.colour)
                self._say(f"  {mark} {e.task_id:<{self._width}} {shown}{again}")
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
        self.stop()
        counts: dict[str, int] = {}
        for task in run["tasks"]:
            counts[task["status"]] = counts.get(task["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        took = time.perf_counter() - self._started
        shown = colour.status(run["status"], run["status"], on=self.colour)
        self._say(f"run {run['run_id']} {shown} in {took:.2f}s ({summary})")
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
