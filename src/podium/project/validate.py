"""The rules a whole project must follow, beyond the shape of each file.

Which task kinds exist, and how each checks its task against the rest of the project, is
up to the kinds (``podium.kinds.registry``); this module asks each task's kind once every
file is read.

``check_project`` then finds what no single file can show: duplicate workflow names,
unknown pools, workflows that do not exist or start each other in a loop, and ``run``
targets that cannot be imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podium.core.graph import find_cycle
from podium.core.workflow import Task, WebhookTrigger, Workflow, WorkflowTrigger
from podium.errors import Problem
from podium.kinds.base import ProjectView, StartsWorkflow
from podium.kinds.registry import has_kind, kind_of, written_kinds
from podium.settings.yaml_lines import LineDict, did_you_mean
from podium.webhooks.grammar import webhook_trigger_problem


@dataclass(frozen=True)
class ParsedWorkflow:
    """A workflow read from a file, with the mappings it came from (for key lines)."""

    workflow: Workflow
    file: str
    task_docs: Mapping[str, LineDict]


def available_kinds() -> list[str]:
    """``run (module:function)`` and so on, for messages."""
    return [f"{kind.name} ({kind.target})" for kind in written_kinds()]


def check_project(view: ProjectView, parsed: list[ParsedWorkflow]) -> list[Problem]:
    """Every problem that needs more than one file to see; ``parsed`` in load order."""
    found: list[Problem] = []
    _check_unique_names(parsed, found)
    for item in parsed:
        _check_tasks(view, item, found)
        _check_workflow_triggers(view, item, found)
    _check_workflow_loops(view, parsed, found)
    return found


def _check_unique_names(parsed: list[ParsedWorkflow], found: list[Problem]) -> None:
    first: dict[str, ParsedWorkflow] = {}
    for item in parsed:
        name = item.workflow.name
        if name in first:
            where = first[name].workflow.location or first[name].file
            found.append(_problem(item, None, f"workflow {name!r} is also defined at {where}"))
        else:
            first[name] = item


def _check_tasks(view: ProjectView, item: ParsedWorkflow, found: list[Problem]) -> None:
    for task in item.workflow.tasks:
        if has_kind(task.kind) and task.target:
            message = kind_of(task.kind).check(task, item.workflow, view)
            if message:
                found.append(_task_problem(item, task, task.kind, message))
        if task.pool is not None and task.pool not in view.pools:
            hint = did_you_mean(task.pool, view.pools) or "; declare it under pools: in podium.yaml"
            message = f"unknown pool {task.pool!r}{hint}"
            found.append(_task_problem(item, task, "pool", message))


def _check_workflow_triggers(view: ProjectView, item: ParsedWorkflow, found: list[Problem]) -> None:
    for trigger in item.workflow.triggers:
        if isinstance(trigger, WorkflowTrigger) and trigger.workflow not in view.workflows:
            hint = did_you_mean(trigger.workflow, view.workflows)
            location = trigger.location or item.workflow.location
            file, line = (location.file, location.line) if location else (item.file, 1)
            message = f"workflow trigger: unknown workflow {trigger.workflow!r}{hint}"
            found.append(Problem(file, line, message))
        elif isinstance(trigger, WebhookTrigger):
            problem = webhook_trigger_problem(trigger, item.workflow, view.connections)
            location = trigger.location or item.workflow.location
            if problem:
                file, line = (location.file, location.line) if location else (item.file, 1)
                found.append(Problem(file, line, problem))


def _check_workflow_loops(
    view: ProjectView, parsed: list[ParsedWorkflow], found: list[Problem]
) -> None:
    """Workflows whose ``workflow:`` tasks start each other in a loop (a → b → a)."""
    starts: dict[str, list[str]] = {}
    for item in parsed:  # a workflow starting itself is reported with its task
        name = item.workflow.name
        targets = [child for t in item.workflow.tasks if (child := _child_workflow(t))]
        starts.setdefault(name, []).extend(t for t in targets if t != name)
    cycle = find_cycle(starts)
    if cycle:
        item = next(p for p in parsed if p.workflow.name == cycle[0])
        path = " → ".join(cycle)
        found.append(_problem(item, None, f"workflows start each other in a loop: {path}"))


def _child_workflow(task: Task) -> str | None:
    kind = kind_of(task.kind) if has_kind(task.kind) else None
    return kind.child_workflow(task) if isinstance(kind, StartsWorkflow) and task.target else None


def _task_problem(item: ParsedWorkflow, task: Task, key: str, message: str) -> Problem:
    doc = item.task_docs.get(task.id)
    file = (doc.file if doc is not None else None) or item.file
    line = doc.line_of(key) if doc is not None else (task.location.line if task.location else 1)
    return Problem(file, line, f"task {task.id!r}: {message}")


def _problem(item: ParsedWorkflow, line: int | None, message: str) -> Problem:
    location = item.workflow.location
    return Problem(item.file, line or (location.line if location else 1), message)
