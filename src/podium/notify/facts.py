"""What an alert is about, read from the store: the run, the task, what it produces, what
did not run because of it, rows loaded, revenue where a model declares it (``revenue:``),
failing checks, the error and the run's link.

Read when the alert is sent (and again on each retry), so a message says how things stand
then. Nothing here is masked yet: ``messages`` masks the finished text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from podium.connectors.registry import is_source
from podium.core.graph import downstream
from podium.core.workflow import Project, Task, Workflow
from podium.notify.rules import AlertRef
from podium.store.database import Tx

DEFAULT_URL = "http://127.0.0.1:8642"


@dataclass
class Facts:
    state: str
    workflow: str
    run_id: str | None = None
    link: str | None = None
    run_status: str | None = None
    trigger: str | None = None
    task_id: str | None = None
    task_kind: str | None = None
    task_status: str | None = None
    source: str | None = None  # an extract's connection, with its type
    produces: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)  # "raw_shop.orders: 120 inserted"
    rows_note: str = ""  # says whose rows they are (this run, or the last good update)
    revenue: list[str] = field(default_factory=list)  # "commerce.daily: 45,678.90 (…)"
    error: str | None = None
    attempts: int = 0
    checks: list[dict[str, Any]] = field(default_factory=list)  # the failing ones
    late_after: float | None = None
    on_late: str | None = None
    deadline: str | None = None
    date: str | None = None
    last_run: dict[str, Any] | None = None
    recovered_from: str | None = None


def base_url(project: Project) -> str:
    """Where the UI is served (``server.url`` in podium.yaml), for links to runs."""
    url = project.server.get("url")
    return str(url if isinstance(url, str) and url else DEFAULT_URL).rstrip("/")


def run_link(project: Project, run_id: str) -> str:
    return f"{base_url(project)}/runs/{run_id}"


def previous_failure(tx: Tx, workflow: str, run_id: str) -> str | None:
    """The workflow's finished run before ``run_id`` (catch-up and cancelled runs left
    out), when it failed; None otherwise."""
    row = tx.fetchone("SELECT finished_at, created_at FROM runs WHERE id = ?", (run_id,))
    if row is None or row[0] is None:
        return None
    before = tx.fetchone(
        "SELECT id, status FROM runs WHERE workflow = ? AND id <> ? AND kind <> 'catchup'"
        " AND status IN ('succeeded', 'failed')"
        " AND (finished_at < ? OR (finished_at = ? AND created_at < ?))"
        " ORDER BY finished_at DESC, created_at DESC LIMIT 1",
        (workflow, run_id, row[0], row[0], row[1]),
    )
    return str(before[0]) if before and before[1] == "failed" else None


def load_facts(tx: Tx, project: Project, ref: AlertRef) -> Facts | None:
    """The facts of ``ref``; None when its run is gone from the store."""
    if ref.state == "sla_missed":
        return _sla_facts(tx, project, str(ref.workflow), str(ref.date))
    run = tx.fetchone("SELECT workflow, status, trigger FROM runs WHERE id = ?", (ref.run_id,))
    if run is None or ref.run_id is None:
        return None
    facts = Facts(ref.state, str(run[0]), ref.run_id, run_link(project, ref.run_id))
    facts.run_status, facts.trigger = str(run[1]), json.loads(run[2]).get("type")
    wf = project.workflows.get(facts.workflow)
    if ref.state == "recovered":
        facts.recovered_from = previous_failure(tx, facts.workflow, ref.run_id)
    if ref.task_id is not None:
        _task_facts(tx, project, wf, facts, ref.task_id)
    return facts


def _task_facts(tx: Tx, project: Project, wf: Workflow | None, facts: Facts, task_id: str) -> None:
    facts.task_id = task_id
    row = tx.fetchone(
        "SELECT status, error, attempts FROM task_runs WHERE run_id = ? AND task_id = ?",
        (facts.run_id, task_id),
    )
    if row is not None:
        facts.task_status, facts.error, facts.attempts = row[0], row[1], int(row[2] or 0)
    task = wf.task(task_id) if wf is not None and task_id in wf.task_ids else None
    if task is not None and wf is not None:
        _definition(project, wf, task, facts)
        facts.not_run = _not_run(tx, wf, facts)
    facts.rows, facts.rows_note = _rows(tx, facts)
    facts.revenue = _revenue(tx, facts)
    if facts.state == "check_failed":
        facts.checks = _failing_checks(tx, str(facts.run_id), task_id)


def _definition(project: Project, wf: Workflow, task: Task, facts: Facts) -> None:
    facts.task_kind = task.kind
    facts.late_after, facts.on_late = task.late_after, str(task.on_late)
    facts.produces = list(task.produces)
    settings = project.connections.get(task.target)
    if settings is not None and is_source(settings):  # the task reads this source
        kind = settings.get("type")
        facts.source = f"{task.target} ({kind})" if kind and kind != task.target else task.target


def _not_run(tx: Tx, wf: Workflow, facts: Facts) -> list[str]:
    """Tasks downstream of the alert's task that ended without running."""
    below = downstream({t.id: t.depends_on for t in wf.tasks}, [str(facts.task_id)])
    rows = tx.fetchall(
        "SELECT task_id FROM task_runs WHERE run_id = ? AND status = 'upstream_failed'"
        " ORDER BY position",
        (facts.run_id,),
    )
    return [r[0] for r in rows if r[0] in below]


def _rows(tx: Tx, facts: Facts) -> tuple[list[str], str]:
    """What the task loaded or built: in this run, or else its last good update."""
    found = tx.fetchall(
        "SELECT at, run_id, payload FROM events WHERE run_id = ? AND type = 'AssetUpdated'"
        " AND task_id = ? ORDER BY seq",
        (facts.run_id, facts.task_id),
    )
    note = "in this run"
    if not found:
        found = tx.fetchall(
            "SELECT e.at, e.run_id, e.payload FROM events e JOIN runs r ON r.id = e.run_id"
            " WHERE e.type = 'AssetUpdated' AND e.task_id = ? AND r.workflow = ?"
            " ORDER BY e.seq DESC LIMIT 1",
            (facts.task_id, facts.workflow),
        )
        if not found:
            return [], ""
        at, run_id = found[0][0], found[0][1]
        note = f"last good update, {_when(float(at))} by run {run_id}"
        found = tx.fetchall(
            "SELECT at, run_id, payload FROM events WHERE run_id = ? AND type = 'AssetUpdated'"
            " AND task_id = ? ORDER BY seq",
            (run_id, facts.task_id),
        )
    return [_describe_asset(json.loads(r[2])) for r in found], note


def _revenue(tx: Tx, facts: Facts) -> list[str]:
    """The revenue of what the task builds and of what did not run because of it, as the
    latest update of each that knew it (models with ``revenue:``) left it."""
    found = []
    for task_id in [facts.task_id, *facts.not_run]:
        rows = tx.fetchall(
            "SELECT e.payload, e.at, e.run_id FROM events e JOIN runs r ON r.id = e.run_id"
            " WHERE e.type = 'AssetUpdated' AND e.task_id = ? AND r.workflow = ?"
            " ORDER BY e.seq DESC LIMIT 1",
            (task_id, facts.workflow),
        )
        for payload, at, run_id in rows:
            data = json.loads(payload)
            value = (data.get("stats") or {}).get("revenue")
            if isinstance(value, int | float) and not isinstance(value, bool):
                when = "this run" if run_id == facts.run_id else f"as of {_when(float(at))}"
                found.append(f"{data.get('asset')}: {value:,.2f} ({when})")
    return found


def _describe_asset(data: dict[str, Any]) -> str:
    stats = data.get("stats") or {}
    parts = []
    if isinstance(stats.get("rows"), int):
        parts.append(f"{stats['rows']:,} rows")
    for key in ("inserted", "updated", "deleted", "quarantined"):
        if isinstance(stats.get(key), int) and (stats[key] or key == "inserted"):
            parts.append(f"{stats[key]:,} {key}")
    if data.get("incomplete"):
        parts.append("incomplete")
    return f"{data.get('asset')}: {', '.join(parts)}" if parts else str(data.get("asset"))


def _failing_checks(tx: Tx, run_id: str, task_id: str) -> list[dict[str, Any]]:
    rows = tx.fetchall(
        "SELECT payload FROM events WHERE run_id = ? AND type = 'CheckEvaluated'"
        " AND task_id = ? ORDER BY seq",
        (run_id, task_id),
    )
    results = [json.loads(r[0]) for r in rows]
    return [r for r in results if r.get("passed") is False]


def _sla_facts(tx: Tx, project: Project, workflow: str, day: str) -> Facts:
    facts = Facts("sla_missed", workflow, date=day)
    wf = project.workflows.get(workflow)
    if wf is not None and wf.deadline is not None:
        at = wf.deadline.on(date.fromisoformat(day))
        facts.deadline = f"{wf.deadline} ({at.strftime('%Y-%m-%d %H:%M')} UTC)"
    row = tx.fetchone(
        "SELECT id, status, created_at, finished_at FROM runs WHERE workflow = ?"
        " AND kind <> 'catchup' ORDER BY created_at DESC LIMIT 1",
        (workflow,),
    )
    if row is not None:
        facts.last_run = {
            "id": row[0],
            "status": row[1],
            "created": _when(float(row[2])),
            "link": run_link(project, row[0]),
        }
    return facts


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
