"""Deadlines: ``SlaMissed`` when a workflow's daily deadline passes without a success.

Checked by the engine that fires schedules (``podium up``), in its dispatch transaction,
with the engine's clock. At each deadline the engine looks for a run of the workflow (not a
catch-up run) that succeeded between that local day's midnight and the deadline; without
one it records ``SlaMissed``. The day checked is kept in ``trigger_state`` under the
workflow's ``sla`` key, read and written while holding the workflow's deadline lock, so
two engines or a restart never record the same day twice.

An engine that was down over several deadlines checks only the latest. The first time a
workflow with a deadline is seen, yesterday's deadline is not checked (today's is, if it
passed already): adding a deadline does not raise an alert about the past.
"""

from __future__ import annotations

from datetime import UTC, datetime

from podium.core.deadline import Deadline
from podium.core.events import SlaMissed
from podium.core.workflow import Project, Workflow
from podium.engine import trigger_state
from podium.engine.journal import Journal

STATE_KEY = "sla"


class SlaWatch:
    """The deadlines of a project's workflows, checked when each comes due."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._due: dict[str, float] = {}  # workflow -> when to look next

    def forget(self) -> None:
        """Look at every deadline again at the next check (a transaction rolled back)."""
        self._due.clear()

    def check(self, j: Journal) -> float | None:
        """Checks the deadlines that passed; returns the next one (epoch seconds)."""
        soonest: float | None = None
        for wf in self.project.workflows.values():
            if wf.deadline is None:
                continue
            due = self._due.get(wf.name)
            if due is None or j.now >= due:
                due = self._due[wf.name] = self._check(j, wf, wf.deadline)
            soonest = due if soonest is None else min(soonest, due)
        return soonest

    def _check(self, j: Journal, wf: Workflow, deadline: Deadline) -> float:
        now = datetime.fromtimestamp(j.now, UTC)
        day = deadline.latest_passed(now)
        j.tx.lock(f"podium.deadline.{wf.name}")
        saved = trigger_state.load(j, wf.name, STATE_KEY)
        first_sight = saved is None and day < deadline.local_day(now)
        if not first_sight and (saved is None or str(saved.get("date")) < day.isoformat()):
            start, at = deadline.day_start(day), deadline.on(day)
            if not _succeeded(j, wf.name, start.timestamp(), at.timestamp()):
                j.add(SlaMissed(wf.name, at.isoformat(), day.isoformat()))
        if saved is None or str(saved.get("date")) < day.isoformat():
            trigger_state.save(j, wf.name, STATE_KEY, {"date": day.isoformat()})
        return deadline.next_after(now).timestamp()


def _succeeded(j: Journal, workflow: str, start: float, end: float) -> bool:
    row = j.tx.fetchone(
        "SELECT 1 FROM runs WHERE workflow = ? AND status = 'succeeded' AND kind <> 'catchup'"
        " AND finished_at >= ? AND finished_at <= ? LIMIT 1",
        (workflow, start, end),
    )
    return row is not None
