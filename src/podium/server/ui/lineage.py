"""The lineage of a project's data for the UI: sources → the raw tables their streams load
→ models → marts → syncs, each coloured by what the store knows of it (fresh, incomplete
because a source was late, stale, never built), and one asset's page: its updates, checks
and the runs that built it.

The graph comes from the project (connections, models' reads, syncs' ``from``) and from
the assets the store has seen (``AssetUpdated``); the server never opens the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from podium.core.workflow import Project
from podium.engine import builds, queries
from podium.server.ui import dag
from podium.server.ui.render import segment
from podium.store.database import Database

#: an asset not updated for this long is drawn as stale
STALE_AFTER = 36 * 3600.0
HISTORY = 50
SOURCE, SYNC = "source:", "sync:"


def _graph(project: Project, seen: Mapping[str, Any]) -> dict[str, list[str]]:
    """Node → the nodes it is built from, in source → raw → model → sync order."""
    models = project.models.models if project.models is not None else {}
    edges: dict[str, list[str]] = {}
    raw = sorted(
        {r for m in models.values() for r in m.reads if r not in models}
        | {a for a in seen if a.startswith("raw_")}
    )
    for table in raw:
        connection = table.split(".", 1)[0].removeprefix("raw_")
        if connection in project.connections:
            edges.setdefault(SOURCE + connection, [])
            edges[table] = [SOURCE + connection]
        else:
            edges[table] = []
    for name in sorted(models, key=lambda n: (n.startswith("marts."), n)):
        edges[name] = sorted(models[name].reads)
    for name, sync in sorted(project.syncs.items()):
        source = str(getattr(sync, "source", "")).lower()
        edges[SYNC + name] = [source] if source in edges else []
    for asset in seen:
        edges.setdefault(asset, [])
    return {node: [d for d in deps if d in edges] for node, deps in edges.items()}


#: how far back a late source and a restated asset stay marked on the graph
RECENT = 48 * 3600.0


def _recently_late(db: Database, now: float) -> tuple[set[str], set[str]]:
    """The tasks that ran late, and the assets built incomplete, in the last ``RECENT``."""
    rows = db.read().fetchall(
        "SELECT type, task_id, payload FROM events WHERE type IN ('TaskLate', 'AssetUpdated')"
        " AND at >= ? ORDER BY seq DESC LIMIT 20000",
        (now - RECENT,),
    )
    tasks, assets = set(), set()
    for kind, task_id, payload in rows:
        if kind == "TaskLate":
            tasks.add(str(task_id))
        elif '"incomplete": true' in payload or '"incomplete":true' in payload:
            assets.add(str(json.loads(payload).get("asset")))
    return tasks, assets


def late_connections(project: Project, late_tasks: set[str]) -> set[str]:
    """The connections loaded by extract tasks among ``late_tasks``."""
    found = set()
    for wf in project.workflows.values():
        for task in wf.tasks:
            connection = builds.loaded_connection(task) if task.id in late_tasks else None
            if connection is not None:
                found.add(connection)
    return found


def lineage_drawing(db: Database, project: Project, *, now: float) -> dag.Drawing:
    assets = queries.assets(db, now=now)
    seen = {str(a["asset"]): a for a in assets}
    edges = _graph(project, seen)
    late_tasks, restated = _recently_late(db, now)
    late_tasks |= {t for a in assets if not a["complete"] for t in a["late_sources"]}
    late = late_connections(project, late_tasks)
    marks = {node: _mark(node, seen.get(node), late, restated) for node in edges}
    return dag.draw(edges, marks)


def _mark(
    node: str, asset: Mapping[str, Any] | None, late: set[str], restated: set[str]
) -> dag.TaskMark:
    if node.startswith(SOURCE):
        name = node.removeprefix(SOURCE)
        if name in late:
            return dag.TaskMark("late", late=True, sub="source · ran late", kind="source")
        return dag.TaskMark("source", sub="source", kind="source")
    if node.startswith(SYNC):
        return dag.TaskMark("sync", sub="sync", kind="sync")
    kind = "raw" if node.startswith("raw_") else "mart" if node.startswith("marts.") else "model"
    href = f"/assets/{segment(node)}"
    if kind == "raw" and node.split(".", 1)[0].removeprefix("raw_") in late:
        return dag.TaskMark("late", late=True, sub="raw · landed late", kind=kind, href=href)
    if asset is None:
        return dag.TaskMark("none", sub=f"{kind} · never built", kind=kind, href=href)
    rows = asset["stats"].get("rows")
    counted = f" · {rows:,} rows" if isinstance(rows, int) else ""
    if not asset["complete"]:
        return dag.TaskMark(
            "incomplete", incomplete=True, sub=f"{kind} · incomplete{counted}", kind=kind, href=href
        )
    stale = asset["age_seconds"] > STALE_AFTER
    status = "stale" if stale else "restated" if node in restated else "fresh"
    return dag.TaskMark(status, sub=f"{kind} · {status}{counted}", kind=kind, href=href)


def asset_details(db: Database, project: Project, name: str, *, now: float) -> dict[str, Any]:
    """One asset: its latest state, its last ``HISTORY`` updates (rows, run, how long the
    task took), its checks with their latest results, and what it is built from and into."""
    latest = next((a for a in queries.assets(db, now=now) if a["asset"] == name), None)
    history = _history(db, name)
    checks = [c for c in project.checks if getattr(c, "model", None) == name]
    results = _check_results(db, [c.name for c in checks])
    edges = _graph(project, {name: latest} if latest else {})
    model = project.models.models.get(name) if project.models is not None else None
    return {
        "name": name,
        "latest": latest,
        "history": history,
        "checks": [
            {"name": c.name, "kind": c.kind, "severity": c.severity, "last": results.get(c.name)}
            for c in checks
        ],
        "reads": edges.get(name, []),
        "read_by": sorted(n for n, deps in edges.items() if name in deps),
        "model": model,
        "producers": producers(project, name),
        "runs": list(dict.fromkeys(h["run_id"] for h in history if h["run_id"])),
    }


def _history(db: Database, name: str) -> list[dict[str, Any]]:
    asset = (
        "json_extract(e.payload, '$.asset')"
        if db.dialect == "sqlite"
        else "(e.payload::json ->> 'asset')"
    )
    rows = db.read().fetchall(
        "SELECT e.at, e.run_id, e.task_id, e.payload, t.started_at, t.finished_at FROM events e"
        " LEFT JOIN task_runs t ON t.run_id = e.run_id AND t.task_id = e.task_id"
        f" WHERE e.type = 'AssetUpdated' AND {asset} = ? ORDER BY e.seq DESC LIMIT ?",
        (name, HISTORY),
    )
    found = []
    for at, run_id, task_id, payload, started, finished in rows:
        data = json.loads(payload)
        stats = data.get("stats") or {}
        found.append(
            {
                "at": at,
                "run_id": run_id,
                "task_id": task_id,
                "rows": stats.get("rows"),
                "changes": {
                    k: stats[k] for k in ("inserted", "updated", "deleted") if stats.get(k)
                },
                "schema_changes": stats.get("schema_changes") or [],
                "complete": not data.get("incomplete", False),
                "late_sources": stats.get("late_sources") or {},
                "started_at": started,
                "finished_at": finished,
            }
        )
    return found


def _check_results(db: Database, names: list[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    rows = db.read().fetchall(
        "SELECT run_id, payload FROM events WHERE type = 'CheckEvaluated' ORDER BY seq DESC"
        " LIMIT 2000",
        (),
    )
    found: dict[str, dict[str, Any]] = {}
    for run_id, payload in rows:
        data = json.loads(payload)
        check = str(data.get("check"))
        if check in names and check not in found:
            found[check] = {**data, "run_id": run_id}
    return found


def producers(project: Project, name: str) -> list[tuple[str, str]]:
    """(workflow, task) pairs whose task produces or loads ``name``."""
    return [(wf.name, task.id) for wf, task in builds.producers(project, name)]
