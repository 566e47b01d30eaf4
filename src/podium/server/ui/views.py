"""Read models the UI needs beyond ``engine.queries``: pages of workflows, runs, events,
assets and log lines, each one bounded LIMIT/OFFSET query on an index.

A page knows whether a next page exists (one row more is fetched) and the total, counted up
to ``COUNT_CAP`` rows only: "10,000+" is all a person needs, and counting millions of runs
on every page view is not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podium.core.workflow import Project
from podium.engine import pauses, queries
from podium.server.ui.describe import describe_trigger, next_ticks
from podium.store.database import Database

PAGE_SIZE = 50
COUNT_CAP = 10_000
LOG_LINES = 5_000


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    number: int  # 1-based
    size: int
    total: int | None  # None when there are more than COUNT_CAP
    has_next: bool

    @property
    def last(self) -> int | None:
        """The last page's number, when the total is known."""
        return None if self.total is None else max(1, -(-self.total // self.size))

    @property
    def first_item(self) -> int:
        return (self.number - 1) * self.size + 1 if self.items else 0


def offset_of(number: int, size: int) -> int:
    return (max(number, 1) - 1) * size


def _count(db: Database, table: str, where: str, args: Sequence[Any]) -> int | None:
    row = db.read().fetchone(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {table}{where} LIMIT ?) capped",
        (*args, COUNT_CAP + 1),
    )
    total = int(row[0]) if row else 0
    return None if total > COUNT_CAP else total


def _where(filters: Sequence[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND b = ?`` for the filters whose value is set."""
    used = [(column, value) for column, value in filters if value not in (None, "")]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{c} = ?" for c, _ in used), [v for _, v in used]


# -- workflows ------------------------------------------------------------------------------


def workflows_page(
    db: Database, project: Project, *, name: str, number: int, now: datetime
) -> Page:
    """The workflows whose name contains ``name``, sorted, with their last run, run counts
    by state, triggers and next scheduled time; two queries for the whole page."""
    wanted = name.strip().casefold()
    names = sorted(n for n in project.workflows if wanted in n.casefold())
    start = offset_of(number, PAGE_SIZE)
    shown = names[start : start + PAGE_SIZE]
    last, counts = _last_runs(db, shown), _run_counts(db, shown)
    paused = pauses.paused_workflows(db)
    items = []
    for n in shown:
        wf = project.workflows[n]
        ticks = next_ticks(wf, now)
        items.append(
            {
                "name": n,
                "tasks": len(wf.tasks),
                "triggers": [describe_trigger(t) for t in wf.triggers],
                "last_run": last.get(n),
                "counts": counts.get(n, {}),
                "next": ticks[0] if ticks else None,
                "paused": n in paused,
            }
        )
    return Page(items, max(number, 1), PAGE_SIZE, len(names), start + PAGE_SIZE < len(names))


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _last_runs(db: Database, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    rows = db.read().fetchall(
        "SELECT r.workflow, r.id, r.status, r.created_at, r.finished_at FROM runs r"
        f" WHERE r.workflow IN ({_placeholders(names)}) AND r.created_at ="
        " (SELECT MAX(m.created_at) FROM runs m WHERE m.workflow = r.workflow)",
        tuple(names),
    )
    return {
        w: {"run_id": i, "status": s, "created_at": c, "finished_at": f}
        for w, i, s, c, f in sorted(rows, key=lambda r: str(r[1]), reverse=True)
    }


def _run_counts(db: Database, names: Sequence[str]) -> dict[str, dict[str, int]]:
    if not names:
        return {}
    rows = db.read().fetchall(
        "SELECT workflow, status, COUNT(*) FROM runs"
        f" WHERE workflow IN ({_placeholders(names)}) GROUP BY workflow, status",
        tuple(names),
    )
    found: dict[str, dict[str, int]] = {}
    for workflow, status, count in rows:
        found.setdefault(workflow, {})[status] = int(count)
    return found


# -- runs -----------------------------------------------------------------------------------


def runs_page(
    db: Database, *, workflow: str | None, status: str | None, number: int, size: int = PAGE_SIZE
) -> Page:
    offset = offset_of(number, size)
    found = queries.list_runs(db, workflow=workflow, status=status, limit=size + 1, offset=offset)
    where, args = _where([("workflow", workflow), ("status", status)])
    total = _count(db, "runs", where, args)
    return Page(found[:size], max(number, 1), size, total, len(found) > size)


def parent_of(db: Database, run_id: str) -> dict[str, Any] | None:
    """The run a catch-up run restates (id and workflow), if it is one."""
    row = db.read().fetchone(
        "SELECT p.id, p.workflow, p.status FROM runs r JOIN runs p ON p.id = r.parent_run_id"
        " WHERE r.id = ?",
        (run_id,),
    )
    return {"run_id": row[0], "workflow": row[1], "status": row[2]} if row else None


def checks_of(
    db: Database, run_id: str, tasks: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The check results recorded for a run (``CheckEvaluated`` events), oldest first, each
    with the sample of failing rows its task's output kept (``sample``, maybe empty)."""
    rows = db.read().fetchall(
        "SELECT task_id, payload FROM events WHERE run_id = ? AND type = 'CheckEvaluated'"
        " ORDER BY seq",
        (run_id,),
    )
    samples = failing_samples(tasks)
    found = []
    for task, payload in rows:
        data = json.loads(payload)
        sample = data.get("sample") or samples.get((task, str(data.get("check"))), [])
        sample = [row for row in sample if isinstance(row, dict)]
        columns = list(sample[0]) if sample else []
        found.append({"task_id": task, **data, "sample": sample, "columns": columns})
    return found


def failing_samples(
    tasks: Sequence[Mapping[str, Any]],
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(task, check) → the failing rows a check task's or model task's output kept."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for task in tasks:
        output = task.get("output")
        listed = output.get("checks") if isinstance(output, dict) else None
        for check in listed if isinstance(listed, list) else ():
            sample = check.get("sample") if isinstance(check, dict) else None
            if sample and isinstance(sample, list) and all(isinstance(r, dict) for r in sample):
                found[(str(task["id"]), str(check.get("name")))] = sample
    return found


def runs_of_delivery(db: Database, inbox_id: int) -> list[dict[str, Any]]:
    """The runs one webhook inbox entry started (its first processing and each replay),
    found by their ``dedupe_key`` (``webhook:ID:…``: a range on its unique index)."""
    prefix = f"webhook:{int(inbox_id)}:"
    rows = db.read().fetchall(
        "SELECT id, workflow, status FROM runs WHERE dedupe_key >= ? AND dedupe_key < ?"
        " ORDER BY created_at, id",
        (prefix, prefix[:-1] + ";"),
    )
    return [{"run_id": r[0], "workflow": r[1], "status": r[2]} for r in rows]


# -- events ---------------------------------------------------------------------------------


def events_page(db: Database, *, kind: str | None, run_id: str | None, number: int) -> Page:
    """Events of one type and/or one run (an index on each), newest first."""
    where, args = _where([("type", kind), ("run_id", run_id)])
    rows = db.read().fetchall(
        f"SELECT seq, type, at, run_id, task_id, payload FROM events{where}"
        " ORDER BY seq DESC LIMIT ? OFFSET ?",
        (*args, PAGE_SIZE + 1, offset_of(number, PAGE_SIZE)),
    )
    items = [
        {
            "seq": r[0],
            "type": r[1],
            "at": r[2],
            "run_id": r[3],
            "task_id": r[4],
            "payload": json.loads(r[5]),
        }
        for r in rows[:PAGE_SIZE]
    ]
    total = _count(db, "events", where, args)
    return Page(items, max(number, 1), PAGE_SIZE, total, len(rows) > PAGE_SIZE)


# -- assets ---------------------------------------------------------------------------------


def assets_page(db: Database, *, name: str, number: int, now: float) -> Page:
    """Assets whose name contains ``name``, with freshness and completeness; row counts
    from what their last update reported (a model's ``rows``; an extract's changes)."""
    wanted = name.strip().casefold()
    found = [a for a in queries.assets(db, now=now) if wanted in str(a["asset"]).casefold()]
    start = offset_of(number, PAGE_SIZE)
    shown = found[start : start + PAGE_SIZE]
    for asset in shown:
        stats = asset["stats"]
        asset["rows"] = stats.get("rows")
        asset["changes"] = {
            k: stats[k] for k in ("inserted", "updated", "deleted", "quarantined") if stats.get(k)
        }
    return Page(shown, max(number, 1), PAGE_SIZE, len(found), start + PAGE_SIZE < len(found))


# -- logs -----------------------------------------------------------------------------------


def attempt_logs(
    db: Database, run_id: str, task_id: str, attempt: int, *, limit: int = LOG_LINES
) -> tuple[list[dict[str, Any]], bool]:
    """The first ``limit`` log lines of one attempt, and whether there were more."""
    rows = db.read().fetchall(
        "SELECT at, stream, line FROM logs WHERE run_id = ? AND task_id = ? AND attempt = ?"
        " ORDER BY at LIMIT ?",
        (run_id, task_id, attempt, limit + 1),
    )
    lines = [
        {"at": datetime.fromtimestamp(at, UTC).isoformat(), "stream": stream, "line": line}
        for at, stream, line in rows[:limit]
    ]
    return lines, len(rows) > limit
