"""Pausing a workflow's schedules: ``podium pause`` / ``resume``, the API and the UI.

A paused workflow's schedule triggers do not tick, on every engine of the store (the row
in ``paused_workflows`` is read in the step that would fire them). Its other triggers,
runs started by hand and runs already going are not affected. Its schedules keep their
last fired tick, so on resume the ticks missed meanwhile are treated like any missed tick:
the schedule's ``catchup`` decides (``none``: skipped; ``latest``: the last one runs;
``all``: each runs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podium import clock
from podium.core.workflow import Project, ScheduleTrigger, Workflow
from podium.errors import ConflictError
from podium.store.database import Database, Tx


def _scheduled(project: Project, name: str) -> Workflow:
    from podium.engine.services import workflow_named

    wf = workflow_named(project, name)
    if not any(isinstance(t, ScheduleTrigger) for t in wf.triggers):
        raise ConflictError(
            f"workflow {wf.name!r} has no schedule trigger, so there is nothing to pause;"
            " its other triggers keep starting runs"
        )
    return wf


def pause_workflow(
    db: Database, project: Project, name: str, *, by: str, now: float | None = None
) -> bool:
    """Stops the workflow's schedules ticking; False when it was paused already."""
    wf = _scheduled(project, name)
    at = clock.time() if now is None else now
    with db.transaction() as tx:
        added = tx.execute(
            "INSERT INTO paused_workflows (workflow, paused_at, paused_by) VALUES (?, ?, ?)"
            " ON CONFLICT (workflow) DO NOTHING",
            (wf.name, at, by),
        )
    return added > 0


def resume_workflow(db: Database, project: Project, name: str) -> bool:
    """Lets the workflow's schedules tick again; False when it was not paused."""
    wf = _scheduled(project, name)
    with db.transaction() as tx:
        removed = tx.execute("DELETE FROM paused_workflows WHERE workflow = ?", (wf.name,))
    return removed > 0


def paused_workflows(db: Database) -> dict[str, dict[str, Any]]:
    """Every paused workflow: when (ISO, UTC) and by whom."""
    return _paused(db.read())


def paused_in(tx: Tx) -> set[str]:
    """The paused workflows' names, read inside an engine step's transaction."""
    return {str(row[0]) for row in tx.fetchall("SELECT workflow FROM paused_workflows", ())}


def _paused(tx: Tx) -> dict[str, dict[str, Any]]:
    rows = tx.fetchall("SELECT workflow, paused_at, paused_by FROM paused_workflows", ())
    return {
        str(w): {"paused_at": datetime.fromtimestamp(float(at), UTC).isoformat(), "by": by}
        for w, at, by in rows
    }
