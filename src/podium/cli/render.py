"""Plain-text views of runs and workflow graphs for the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from podium.cli.colour import status as paint
from podium.core.graph import topological_order
from podium.core.workflow import Workflow


def _clock(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _took(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f"{seconds:.2f}s"


def _run_took(run: dict[str, Any]) -> str:
    """From its first attempt to its end (a server without ``took_seconds``: from its start)."""
    if "took_seconds" not in run:
        return _took(run.get("started_at"), run.get("finished_at"))
    return "-" if run["took_seconds"] is None else f"{run['took_seconds']:.2f}s"


def _logical(value: str | None) -> str:
    """The logical date: the day, and the time of day when it is not midnight UTC."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M")


def render_runs(runs: list[dict[str, Any]], *, colour: bool = False) -> str:
    if not runs:
        return "no runs yet"
    lines = [
        f"{'RUN':<13} {'WORKFLOW':<20} {'STATUS':<10} {'TRIGGER':<10} {'LOGICAL DATE':<16}"
        f" {'CREATED':<19} TOOK"
    ]
    for r in runs:
        shown = paint(f"{r['status']:<10}", r["status"], on=colour)
        lines.append(
            f"{r['run_id']:<13} {r['workflow']:<20} {shown}"
            f" {r['trigger'].get('type', '?'):<10} {_logical(r.get('logical_time')):<16}"
            f" {_clock(r['created_at']):<19} {_run_took(r)}"
        )
    return "\n".join(lines)


def render_run(run: dict[str, Any], *, colour: bool = False) -> str:
    lines = [
        f"run {run['run_id']}  workflow {run['workflow']}"
        f"  {paint(run['status'], run['status'], on=colour)}",
        f"  trigger {run['trigger'].get('type')}  logical time {run['logical_time']}",
        f"  params {run['params']}",
        f"  started {_clock(run['started_at'])}  finished {_clock(run['finished_at'])}"
        f"  took {_run_took(run)}",
        "",
        f"  {'TASK':<24} {'STATUS':<16} {'TRIES':>5} {'TOOK':>8}  NOTE",
    ]
    for t in run["tasks"]:
        notes = []
        if t["late"]:
            notes.append("late")
        if t["incomplete"]:
            notes.append(
                "incomplete inputs: " + ", ".join(t["late_upstreams"])
                if t["late_upstreams"]
                else "incomplete"
            )
        if t["error"]:
            notes.append(t["error"])
        t_status = t["status"]
        lines.append(
            f"  {t['id']:<24} {paint(f'{t_status:<16}', t_status, on=colour)}"
            f" {t['attempts']:>5}"
            f" {_took(t['started_at'], t['finished_at']):>8}  {'; '.join(notes)}"
        )
    if run.get("catchup_runs"):
        lines.append(f"\n  catch-up runs: {', '.join(run['catchup_runs'])}")
    return "\n".join(lines)


def render_graph(wf: Workflow, fmt: str) -> str:
    edges = {t.id: t.depends_on for t in wf.tasks}
    if fmt == "dot":
        out = [f'digraph "{wf.name}" {{', "  rankdir=LR;"]
        for t in wf.tasks:
            out.append(f'  "{t.id}" [label="{t.id}\\n{t.kind}"];')
            out.extend(f'  "{dep}" -> "{t.id}";' for dep in t.depends_on)
        out.append("}")
        return "\n".join(out)
    order = topological_order(edges)
    width = max((len(name) for name in order), default=0)
    lines = [f"{wf.name} ({len(order)} tasks)"]
    for name in order:
        task = wf.task(name)
        deps = f"  ← {', '.join(task.depends_on)}" if task.depends_on else ""
        lines.append(f"  {name:<{width}}  [{task.kind}]{deps}")
    return "\n".join(lines)
