"""Turning a claimed attempt into the ``Job`` an executor runs.

The task's kind prepares it once per task for the engine's project (what the worker needs,
resolved and picklable); the run's params (secrets among its defaults read again), logical
time and trigger, and the upstream tasks' outputs (a catch-up run reads those its parent
run produced) complete it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podium.core.masking import Masker
from podium.core.workflow import Project, Task
from podium.engine.journal import unmasked
from podium.engine.state import Claim, Graphs
from podium.errors import is_retryable
from podium.kinds.base import Job, Unprepared
from podium.kinds.registry import kind_of
from podium.store.database import Tx

_RUNS_KEPT = 10_000


@dataclass
class RunInfo:
    params: dict[str, Any]
    logical_time: str
    trigger: dict[str, Any]
    kind: str
    parent_run_id: str | None
    root_id: str


class Jobs:
    """Builds jobs for one engine, remembering each run's settings and each task's
    prepared settings."""

    def __init__(self, project: Project, graphs: Graphs, mask: Masker) -> None:
        self.project, self.graphs, self.mask = project, graphs, mask
        self._runs: dict[str, RunInfo] = {}
        self._prepared: dict[tuple[str, str], Any] = {}

    def job(self, tx: Tx, c: Claim, task: Task) -> Job:
        info = self.run_info(tx, c.run_id)
        return Job(
            key=(c.run_id, c.task_id, c.attempt),
            workflow=c.workflow,
            kind=task.kind,
            target=task.target,
            project_root=self.project.root,
            params={**self._params(c.workflow, info.params), **task.params},
            logical_time=info.logical_time,
            upstream=self._upstream(tx, c.run_id, info, task),
            late_upstreams=c.late_upstreams,
            trigger=info.trigger,
            options=task.options,
            prepared=self.prepared(c.workflow, task),
            pool=task.pool,
            priority=task.priority,
        )

    def prepared(self, workflow: str, task: Task) -> Any:
        """What the task's kind resolved for it, once per task for this engine's project;
        ``Unprepared`` (not kept) when ``prepare`` raised, so the attempt fails with it."""
        key = (workflow, task.id)
        if key in self._prepared:
            return self._prepared[key]
        try:
            kind = kind_of(task.kind)
            prepared = kind.prepare(task, self.graphs.workflow(workflow), self.project)
        except Exception as exc:  # noqa: BLE001 - the attempt fails with it, not the engine
            return Unprepared(f"{type(exc).__name__}: {exc}", is_retryable(exc))
        self._prepared[key] = prepared
        return prepared

    def run_info(self, tx: Tx, run_id: str) -> RunInfo:
        info = self._runs.get(run_id)
        if info is None:
            row = tx.fetchone(
                "SELECT params, logical_time, trigger, kind, parent_run_id, root_id FROM runs"
                " WHERE id = ?",
                (run_id,),
            )
            assert row is not None, run_id
            info = RunInfo(json.loads(row[0]), row[1], json.loads(row[2]), row[3], row[4], row[5])
            if len(self._runs) > _RUNS_KEPT:
                self._runs.clear()
            self._runs[run_id] = info
        return info

    def _params(self, workflow: str, stored: dict[str, Any]) -> dict[str, Any]:
        """The run's params, masked secrets among its declared defaults read again."""
        if not self.mask:
            return stored
        return unmasked(stored, self.graphs.workflow(workflow).params, self.mask)

    def _upstream(self, tx: Tx, run_id: str, info: RunInfo, task: Task) -> dict[str, Any]:
        if not task.depends_on:
            return {}
        outputs = _outputs(tx, run_id, task.depends_on)
        missing = [d for d in task.depends_on if d not in outputs]
        if missing and info.kind == "catchup" and info.parent_run_id:
            outputs.update(_outputs(tx, info.parent_run_id, missing))
        return outputs


def _outputs(tx: Tx, run_id: str, task_ids: tuple[str, ...] | list[str]) -> dict[str, Any]:
    marks = ",".join("?" * len(task_ids))
    rows = tx.fetchall(
        f"SELECT task_id, output FROM task_runs WHERE run_id = ? AND task_id IN ({marks})"
        " AND output IS NOT NULL",
        (run_id, *task_ids),
    )
    return {task_id: json.loads(output) for task_id, output in rows}
