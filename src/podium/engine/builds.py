"""Building one asset and what it needs: a run of only the task that produces (or loads)
it and the tasks it depends on, directly or not. The UI's *Build* button on an asset page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from podium import clock
from podium.core.workflow import Project, Task, Workflow
from podium.engine import state
from podium.engine.journal import Journal
from podium.errors import UsageError
from podium.kinds.base import LoadsConnection
from podium.kinds.registry import kind_of
from podium.store.database import Database


def producers(project: Project, asset: str) -> list[tuple[Workflow, Task]]:
    """Every (workflow, task) whose task produces ``asset`` or loads its raw table."""
    dataset = asset.split(".", 1)[0]
    return [
        (wf, task)
        for wf in project.workflows.values()
        for task in wf.tasks
        if asset in task.produces or _loads(task, dataset)
    ]


def _loads(task: Task, dataset: str) -> bool:
    connection = loaded_connection(task)
    return connection is not None and dataset == f"raw_{connection}"


def loaded_connection(task: Task) -> str | None:
    """The connection whose raw tables ``task`` loads (its kind says), if any."""
    kind = kind_of(task.kind)
    return kind.connection_of(task) if isinstance(kind, LoadsConnection) else None


def needed(wf: Workflow, task_id: str) -> set[str]:
    """``task_id`` and every task it depends on, directly or not."""
    found, todo = set(), [task_id]
    while todo:
        current = todo.pop()
        if current in found or current not in wf.task_ids:
            continue
        found.add(current)
        todo.extend(wf.task(current).depends_on)
    return found


def build_asset(db: Database, project: Project, asset: str, *, trigger: Mapping[str, Any]) -> str:
    """Starts a run of the first workflow that produces ``asset``, limited to its task and
    the tasks it needs; returns the run's id."""
    found = producers(project, asset)
    if not found:
        raise UsageError(
            f"no workflow task produces or loads {asset!r}, so podium cannot build it;"
            " add it to a task's produces, or load its connection in an extract task"
        )
    wf, task = found[0]
    now = clock.time()
    with db.transaction() as tx:
        j = Journal(tx, now)
        run_id = state.create_run(
            j,
            wf,
            trigger={**trigger, "asset": asset, "task": task.id},
            params=dict(wf.params),
            logical_time=datetime.fromtimestamp(now, UTC).isoformat(),
            only_tasks=needed(wf, task.id),
        )
        j.flush()
        tx.notify = True
    assert run_id is not None
    return run_id
