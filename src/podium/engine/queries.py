"""Read models: runs, a run's tasks and attempts, logs and events, as plain dicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from podium import clock
from podium.errors import NotFoundError, UsageError, did_you_mean
from podium.store.database import Database


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


def list_runs(
    db: Database,
    *,
    workflow: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    where, args = [], []
    if workflow:
        where.append("workflow = ?")
        args.append(workflow)
    if status:
        where.append("status = ?")
        args.append(status)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = db.read().fetchall(
        f"SELECT {_RUN_COLUMNS} FROM runs{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        (*args, limit, offset),
    )
    return [_run(row) for row in rows]


#: a run's columns; ``first_attempt_at`` is when its work began (``started_at`` is when
#: it was admitted, which may be long before an engine claims its first task)
_RUN_COLUMNS = (
    "id, workflow, status, kind, trigger, params, logical_time, created_at, started_at,"
    " finished_at, parent_run_id,"
    " (SELECT min(a.started_at) FROM attempts a WHERE a.run_id = runs.id) AS first_attempt_at"
)


def _run(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        run_id,
        workflow,
        status,
        kind,
        trigger,
        params,
        logical,
        created,
        started,
        finished,
        parent,
        first_attempt,
    ) = row
    return {
        "run_id": run_id,
        "workflow": workflow,
        "status": status,
        "kind": kind,
        "trigger": json.loads(trigger),
        "params": json.loads(params),
        "logical_time": logical,
        "created_at": iso(created),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "parent_run_id": parent,
        "first_attempt_at": iso(first_attempt),
        "took_seconds": _took(first_attempt, finished),
    }


def _took(first_attempt: float | None, finished: float | None) -> float | None:
    """Seconds from the first attempt's start to the run's end: the time queued (waiting
    for an engine or for ``max_active_runs``) does not count."""
    if first_attempt is None or finished is None:
        return None
    return round(max(0.0, finished - first_attempt), 3)


def show_run(db: Database, run_id: str) -> dict[str, Any]:
    """The run with its tasks (``id, status, attempts, started_at, finished_at, late, error``)."""
    tx = db.read()
    row = tx.fetchone(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
    if row is None:
        raise NotFoundError(f"no run {run_id!r}; list runs with `podium runs`")
    run = _run(row)
    tasks = tx.fetchall(
        "SELECT task_id, status, attempts, started_at, finished_at, late, error, incomplete,"
        " late_upstreams, output FROM task_runs WHERE run_id = ? ORDER BY position",
        (run_id,),
    )
    run["tasks"] = [
        {
            "id": t[0],
            "status": t[1],
            "attempts": t[2],
            "started_at": iso(t[3]),
            "finished_at": iso(t[4]),
            "late": bool(t[5]),
            "error": t[6],
            "incomplete": bool(t[7]),
            "late_upstreams": json.loads(t[8]) if t[8] else [],
            "output": json.loads(t[9]) if t[9] else None,
        }
        for t in tasks
    ]
    run["catchup_runs"] = [
        r[0]
        for r in tx.fetchall(
            "SELECT id FROM runs WHERE parent_run_id = ? AND kind = 'catchup' ORDER BY created_at",
            (run_id,),
        )
    ]
    return run


def attempts_of(db: Database, run_id: str) -> list[dict[str, Any]]:
    rows = db.read().fetchall(
        "SELECT task_id, number, status, owner, started_at, finished_at, error FROM attempts"
        " WHERE run_id = ? ORDER BY started_at, task_id, number",
        (run_id,),
    )
    return [
        {
            "task_id": r[0],
            "attempt": r[1],
            "status": r[2],
            "owner": r[3],
            "started_at": iso(r[4]),
            "finished_at": iso(r[5]),
            "error": r[6],
        }
        for r in rows
    ]


def logs_of(
    db: Database, run_id: str, task_id: str | None = None, *, since: float | None = None
) -> list[dict[str, Any]]:
    """A run's (or one task's) log lines in time order; only those at or after ``since``."""
    require_task(db, run_id, task_id)
    args: list[Any] = [run_id, task_id] if task_id else [run_id]
    clause = " AND task_id = ?" if task_id else ""
    if since is not None:
        clause += " AND at >= ?"
        args.append(since)
    rows = db.read().fetchall(
        "SELECT task_id, attempt, at, stream, line FROM logs WHERE run_id = ?"
        f"{clause} ORDER BY at, task_id, attempt",
        tuple(args),
    )
    return [
        {"task_id": r[0], "attempt": r[1], "at": iso(r[2]), "stream": r[3], "line": r[4]}
        for r in rows
    ]


def resolve_run(db: Database, given: str) -> str:
    """The run id ``given`` names: itself, or the only run id that starts with it (as git
    takes a commit's prefix). NotFoundError when none does; UsageError listing the
    matches when several do."""
    tx = db.read()
    if tx.fetchone("SELECT 1 FROM runs WHERE id = ?", (given,)) is not None:
        return given
    pattern = given.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = [
        r[0]
        for r in tx.fetchall(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 11", (pattern,)
        )
    ]
    if len(found) == 1 and given:
        return str(found[0])
    if not found or not given:
        raise NotFoundError(f"no run {given!r}; list runs with `podium runs`")
    shown = ", ".join(found[:10]) + (", …" if len(found) > 10 else "")
    raise UsageError(
        f"run id prefix {given!r} is ambiguous: it starts {len(found)}"
        f"{'+' if len(found) > 10 else ''} run ids ({shown}); type more of it"
    )


def require_task(db: Database, run_id: str, task_id: str | None) -> None:
    """NotFoundError unless the run (and, when given, its task) exists."""
    tx = db.read()
    if tx.fetchone("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is None:
        raise NotFoundError(f"no run {run_id!r}; list runs with `podium runs`")
    if (
        task_id is not None
        and tx.fetchone(
            "SELECT 1 FROM task_runs WHERE run_id = ? AND task_id = ?", (run_id, task_id)
        )
        is None
    ):
        known = [
            r[0] for r in tx.fetchall("SELECT task_id FROM task_runs WHERE run_id = ?", (run_id,))
        ]
        raise NotFoundError(
            f"run {run_id} has no task {task_id!r}{did_you_mean(task_id, known)};"
            f" see `podium show {run_id}`"
        )


def events_of(db: Database, run_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    clause, args = (" WHERE run_id = ?", (run_id, limit)) if run_id else ("", (limit,))
    rows = db.read().fetchall(
        f"SELECT seq, type, at, run_id, task_id, payload FROM events{clause}"
        " ORDER BY seq DESC LIMIT ?",
        args,
    )
    return [
        {
            "seq": r[0],
            "type": r[1],
            "at": iso(r[2]),
            "run_id": r[3],
            "task_id": r[4],
            "payload": json.loads(r[5]),
        }
        for r in reversed(rows)
    ]


#: the trigger types that start a run because of what another run did
_CAUSED = ("workflow", "event", "asset")


def triggered_runs(db: Database, since: float, *, exclude: list[str]) -> list[dict[str, Any]]:
    """Runs created at or after ``since`` by a workflow, event or asset trigger that no
    engine has started yet (oldest first), but those in ``exclude``: what a ``podium run``
    that ended would otherwise leave waiting for ``podium up``."""
    rows = db.read().fetchall(
        f"SELECT {_RUN_COLUMNS} FROM runs WHERE created_at >= ? AND status = 'queued'"
        " AND parent_run_id IS NULL AND NOT EXISTS"
        " (SELECT 1 FROM attempts a WHERE a.run_id = runs.id) ORDER BY created_at, id",
        (since,),
    )
    runs = [_run(row) for row in rows]
    return [r for r in runs if r["trigger"].get("type") in _CAUSED and r["run_id"] not in exclude]


def open_runs_in_tree(db: Database, root_id: str) -> int:
    row = db.read().fetchone(
        "SELECT COUNT(*) FROM runs WHERE root_id = ? AND status IN ('queued', 'running')",
        (root_id,),
    )
    return int(row[0]) if row else 0


def blocking_run(db: Database, root_id: str) -> dict[str, Any] | None:
    """When run ``root_id`` is held back by its workflow's ``max_active_runs``, the oldest
    active run of that workflow (the one it waits for); else None."""
    tx = db.read()
    row = tx.fetchone(
        "SELECT workflow FROM runs WHERE id = ? AND status = 'queued' AND started_at IS NULL",
        (root_id,),
    )
    if row is None:
        return None
    active = tx.fetchall(
        "SELECT id FROM runs WHERE workflow = ? AND status IN ('queued', 'running')"
        " AND started_at IS NOT NULL ORDER BY started_at",
        (row[0],),
    )
    if not active:
        return None
    return {"workflow": row[0], "run_id": active[0][0], "limit": len(active)}


def assets(db: Database, *, now: float | None = None) -> list[dict[str, Any]]:
    """Every asset ever updated, with its latest update: when, by which run and task,
    whether it was built from late (incomplete) inputs — which late task, and until when
    its data was complete — and what changed."""

    asset = (
        "json_extract(payload, '$.asset')"
        if db.dialect == "sqlite"
        else "(payload::json ->> 'asset')"
    )
    rows = db.read().fetchall(
        "SELECT e.at, e.run_id, e.task_id, e.payload FROM events e JOIN ("
        f"  SELECT max(seq) AS seq FROM events WHERE type = 'AssetUpdated' GROUP BY {asset}"
        ") latest ON latest.seq = e.seq ORDER BY e.seq",
        (),
    )
    current = clock.time() if now is None else now
    found = []
    for at, run_id, task_id, payload in rows:
        data = json.loads(payload)
        found.append(
            {
                "asset": data.get("asset"),
                "updated_at": iso(at),
                "age_seconds": round(current - at, 1),
                "run_id": run_id,
                "task_id": task_id,
                "complete": not data.get("incomplete", False),
                "late_sources": (data.get("stats") or {}).get("late_sources") or {},
                "stats": data.get("stats") or {},
            }
        )
    return sorted(found, key=lambda a: str(a["asset"]))
