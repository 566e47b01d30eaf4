"""What a user can ask of podium, as functions the CLI and the HTTP API both call.

Each takes the project and an open store, checks its input (raising UsageError with a
message that says what to do), changes the store in one transaction, and wakes any engine
listening on the store.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from podium import clock
from podium.core.events import CustomEvent, custom_name_problem
from podium.core.nesting import MAX_DEPTH, is_too_deep
from podium.core.workflow import Project, ScheduleTrigger, Workflow
from podium.engine import state
from podium.engine.journal import Journal
from podium.engine.state import Graphs
from podium.engine.triggers import Triggers, iso
from podium.errors import ConflictError, NotFoundError, UsageError
from podium.store.database import Database


def workflow_named(project: Project, name: str) -> Workflow:
    if name in project.workflows:
        return project.workflows[name]
    close = difflib.get_close_matches(name, list(project.workflows), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(project.workflows)) or "none"
    raise NotFoundError(f"no workflow named {name!r}{hint} (workflows: {known})")


def check_params(wf: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's params: declared defaults, replaced by ``given``; unknown names refused."""
    unknown = [k for k in given if k not in wf.params]
    if unknown:
        declared = ", ".join(sorted(wf.params)) or "none"
        close = difflib.get_close_matches(unknown[0], list(wf.params), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"workflow {wf.name!r} has no param {unknown[0]!r}{hint} (declared: {declared}); "
            "declare it under params: in the workflow"
        )
    deep = next((k for k, v in given.items() if is_too_deep(v, MAX_DEPTH - 1)), None)
    if deep is not None:
        raise UsageError(
            f"param {deep!r} of workflow {wf.name!r} nests more than {MAX_DEPTH} levels deep;"
            " flatten it"
        )
    return {**wf.params, **given}


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v`` from the command line; ``v`` is read as JSON when it parses, else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param {text!r} is not NAME=VALUE, e.g. --param days=7")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def start_run(
    db: Database,
    project: Project,
    workflow: str,
    params: Mapping[str, Any] | None = None,
    *,
    trigger: Mapping[str, Any] | None = None,
    logical_time: datetime | None = None,
) -> str:
    wf = workflow_named(project, workflow)
    merged = check_params(wf, params or {})
    now = clock.time()
    when = logical_time or datetime.fromtimestamp(now, UTC)
    with db.transaction() as tx:
        j = Journal(tx, now)
        run_id = state.create_run(
            j,
            wf,
            trigger=trigger or {"type": "manual"},
            params=merged,
            logical_time=when.isoformat(),
        )
        j.flush()
        tx.notify = True
    assert run_id is not None
    return run_id


def emit_event(db: Database, name: str, payload: Mapping[str, Any] | None = None) -> int:
    """Stores a named event; it starts the workflows whose event triggers match. Returns
    the stored event's number (its ``seq``)."""
    if not name or not isinstance(name, str):
        raise UsageError("an event needs a name, e.g. podium emit orders_dropped")
    taken = custom_name_problem(name)
    if taken:
        raise UsageError(f"event name {taken}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UsageError(f"event name {name!r} has a control character; remove it")
    if not isinstance(payload, Mapping | None):
        raise UsageError('an event\'s payload must be a JSON object, e.g. \'{"store": "us"}\'')
    if is_too_deep(dict(payload or {})):
        raise UsageError(f"the event's payload nests more than {MAX_DEPTH} levels deep; flatten it")
    with db.transaction() as tx:
        seq = Journal(tx, clock.time()).record(CustomEvent(name, dict(payload or {})))
    return seq


def cancel_run(db: Database, project: Project, run_id: str) -> bool:
    """Cancels a run that has not finished; False if it had finished already."""
    _require_run(db, run_id)
    with db.transaction() as tx:
        j = Journal(tx, clock.time())
        changed = state.request_cancel(j, run_id, Graphs(project.workflows))
        j.flush()
    return changed


def retry_run(db: Database, project: Project, run_id: str, *, failed_only: bool) -> list[str]:
    """Re-runs a finished run's failed tasks (or all of them); returns the task ids."""
    row = _require_run(db, run_id)
    if row[1] not in ("succeeded", "failed", "cancelled"):
        raise ConflictError(
            f"run {run_id} is still {row[1]}; wait for it to finish or cancel it "
            f"(podium cancel {run_id}) before retrying"
        )
    workflow_named(project, row[0])
    with db.transaction() as tx:
        j = Journal(tx, clock.time())
        tasks = state.retry_run(
            j, run_id, failed_only=failed_only, graphs=Graphs(project.workflows)
        )
        j.flush()
    if not tasks:
        raise ConflictError(
            f"run {run_id} has no failed tasks to retry; to re-run all its tasks, retry"
            " without --failed-only (API: failed_only false)"
        )
    return tasks


def backfill(
    db: Database, project: Project, workflow: str, start: datetime, end: datetime
) -> tuple[list[str], int]:
    """One run per schedule tick in [start, end], each with the tick as its logical time.

    Ticks that already have a run (scheduled or backfilled) are left alone; returns the new
    run ids and how many ticks were skipped that way."""
    wf = workflow_named(project, workflow)
    schedules = [t for t in wf.triggers if isinstance(t, ScheduleTrigger)]
    if not schedules:
        raise UsageError(
            f"workflow {wf.name!r} has no schedule trigger, so it has no ticks to backfill"
        )
    if end < start:
        raise UsageError("--end is before --start")
    triggers = Triggers(project, Graphs(project.workflows), fire_schedules=False)
    created: list[str] = []
    skipped = 0
    with db.transaction() as tx:
        j = Journal(tx, clock.time())
        for trig in schedules:
            for tick in triggers.cron(trig).ticks_between(start - timedelta(microseconds=1), end):
                run_id = triggers.start_tick(j, wf, trig, tick, kind="backfill")
                if run_id:
                    created.append(run_id)
                else:
                    skipped += 1
        j.flush()
        tx.notify = True
    return created, skipped


def dispatch_pending(db: Database, project: Project) -> None:
    """Starts the runs that stored events trigger (a run's end, a custom event, an asset
    update) now, as an engine's next step would: what ``podium run`` does once its own run
    ended, since its engine stops then. Schedules are left to ``podium up``."""
    triggers = Triggers(project, Graphs(project.workflows), fire_schedules=False)
    with db.transaction() as tx:
        j = Journal(tx, clock.time())
        triggers.dispatch(j)
        j.flush()
        tx.notify = True


def _require_run(db: Database, run_id: str) -> tuple[Any, ...]:
    row = db.read().fetchone("SELECT workflow, status FROM runs WHERE id = ?", (run_id,))
    if row is None:
        raise NotFoundError(f"no run {run_id!r}; list runs with `podium runs`")
    return row


def parse_date(text: str, flag: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise). A bare date given as an
    end means the whole of that day."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a date; write e.g. 2026-11-01 or 2026-11-01T05:00"
        ) from None
    if end_of_day and len(text.strip()) == 10:
        value += timedelta(days=1, microseconds=-1)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = [
    "backfill",
    "cancel_run",
    "check_params",
    "dispatch_pending",
    "emit_event",
    "iso",
    "parse_date",
    "parse_param",
    "retry_run",
    "start_run",
    "workflow_named",
]
