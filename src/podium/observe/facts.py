"""What an observer asks the store about a run: its workflow and what triggered it.

Events name a run by id only; observers (metrics, lineage) read the rest once per run, off
the engine's thread, and keep the last few hundred answers.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from podium.core.workflow import Project, Task
from podium.store.database import Database

_KEEP = 512


@dataclass(frozen=True)
class RunFacts:
    workflow: str
    trigger: dict[str, Any]


class RunLookup:
    """``facts(run_id)``: a run's workflow and trigger, cached (thread-confined)."""

    def __init__(self, db: Database, project: Project) -> None:
        self.db, self.project = db, project
        self._cache: OrderedDict[str, RunFacts | None] = OrderedDict()

    def facts(self, run_id: str) -> RunFacts | None:
        if run_id in self._cache:
            self._cache.move_to_end(run_id)
            return self._cache[run_id]
        row = self.db.read().fetchone("SELECT workflow, trigger FROM runs WHERE id = ?", (run_id,))
        found = None
        if row is not None:
            trigger = json.loads(row[1]) if row[1] else {}
            found = RunFacts(str(row[0]), trigger if isinstance(trigger, dict) else {})
        self._cache[run_id] = found
        while len(self._cache) > _KEEP:
            self._cache.popitem(last=False)
        return found

    def task(self, run_id: str, task_id: str) -> tuple[str, Task | None]:
        """The run's workflow name and the task as the project declares it (None: unknown)."""
        facts = self.facts(run_id)
        if facts is None:
            return "unknown", None
        workflow = self.project.workflows.get(facts.workflow)
        if workflow is None:
            return facts.workflow, None
        try:
            return facts.workflow, workflow.task(task_id)
        except KeyError:
            return facts.workflow, None
