"""Plain-text views of runs and workflow graphs for the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from podium.core.graph import topological_order
from podium.core.workflow import Workflow


def _clock(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _took(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f"{seconds:.2f}s"


def render_runs(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no runs yet"
    lines = [f"{'RUN':<13} {'WORKFLOW':<20} {'STATUS':<10} {'TRIGGER':<10} {'CREATED':<19} TOOK"]
    for r in runs:
        lines.append(
            f"{r['run_id']:<13} {r['workflow']:<20} {r['status']:<10}"
            f" {r['trigger'].get('type', '?'):<10} {_clock(r['created_at']):<19}"
            f" {_took(r['started_at'], r['finished_at'])}"
        )
    return "\n".join(lines)


def render_run(run: dict[str, Any]) -> str:
    lines = [
        f"run {run['run_id']}  workflow {run['workflow']}  {run['status']}",
        f"  trigger {run['trigger'].get('type')}  logical time {run['logical_time']}",
        f"  params {run['params']}",
        f"  started {_clock(run['started_at'])}  finished {_clock(run['finished_at'])}",
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
        lines.append(
            f"  {t['id']:<24} {t['status']:<16} {t['attempts']:>5}"
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
