"""The rules a whole project must follow, beyond the shape of each file.

``TASK_KINDS`` is the one place that says which task kinds exist: how each one's target
must look (checked while reading a file) and how it is checked against the rest of the
project (checked here, once every file is read). A later kind (``extract``, ``transform`` …)
becomes available by giving its entry checks and ``available=True``.

``check_project`` then finds what no single file can show: duplicate workflow names,
unknown pools, workflows that do not exist or start each other in a loop, and ``run``
targets that cannot be imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.core.graph import find_cycle
from podium.core.workflow import Task, WebhookTrigger, Workflow, WorkflowTrigger
from podium.errors import Problem, UsageError
from podium.kinds.callables import resolve_callable, target_problem
from podium.settings.yaml_lines import LineDict, did_you_mean
from podium.webhooks.grammar import webhook_trigger_problem


@dataclass(frozen=True)
class ParsedWorkflow:
    """A workflow read from a file, with the mappings it came from (for key lines)."""

    workflow: Workflow
    file: str
    task_docs: Mapping[str, LineDict]


@dataclass
class ProjectView:
    """What project-wide checks may look at."""

    root: Path
    pools: Mapping[str, int]
    workflows: Mapping[str, Workflow]
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: Any = None  # the project's ModelSet (transforms), when models/ loaded cleanly
    _imported: dict[str, Callable[..., Any] | str] = field(default_factory=dict)

    def resolve(self, target: str) -> Callable[..., Any] | str:
        """The callable ``target`` names, or why it cannot be imported (cached)."""
        if target not in self._imported:
            try:
                self._imported[target] = resolve_callable(target, self.root)
            except UsageError as exc:
                self._imported[target] = str(exc)
        return self._imported[target]


TargetCheck = Callable[[str], "str | None"]
ProjectCheck = Callable[[Task, Workflow, ProjectView], "str | None"]


def _no_target_check(target: str) -> str | None:
    return None


def _no_project_check(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    return None


@dataclass(frozen=True)
class KindSpec:
    """One task kind: what its target is and how it is checked."""

    name: str
    target: str
    available: bool = True
    check_target: TargetCheck = _no_target_check
    check_in_project: ProjectCheck = _no_project_check


def _run_importable(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    if task.func is not None and "<locals>" in task.target:
        return (
            f"its function {task.target!r} is defined inside another function; define it at "
            "module level so that workers can import it by name"
        )
    found = view.resolve(task.target)
    if isinstance(found, str):
        return found
    if task.func is not None and task.func not in (found, getattr(found, "__wrapped__", None)):
        return (
            f"{task.target!r} names another object than this task's function "
            "(was the name reused?); give each task function its own module-level name"
        )
    return None


def _workflow_exists(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    if task.target == workflow.name:
        return f"starts its own workflow {workflow.name!r}; a workflow cannot start itself"
    if task.target not in view.workflows:
        hint = did_you_mean(task.target, view.workflows)
        return f"starts unknown workflow {task.target!r}{hint}"
    return None


def _extract_target(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    settings = view.connections.get(task.target)
    if settings is None:
        hint = did_you_mean(task.target, view.connections) or "; declare it under connections:"
        return f"extracts unknown connection {task.target!r}{hint}"
    from podium.connectors.registry import SOURCE_TYPES, is_source, stream_names

    if not is_source(settings):
        kinds = ", ".join(SOURCE_TYPES)
        return f"connection {task.target!r} is not a source (type: {settings.get('type')!r}; extract reads {kinds})"
    known = stream_names(settings)
    wanted = task.options.get("streams") or []
    unknown = [s for s in wanted if known is not None and s not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known or [])
        return f"connection {task.target!r} has no stream {unknown[0]!r}{hint}"
    return None


def _transform_target(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    if view.models is None:
        return None  # models/ has problems of its own, reported with their files
    try:
        view.models.select(task.target)
    except UsageError as exc:
        return str(exc)
    return None


def _check_target(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    if view.models is None:
        return None
    from podium.errors import ProjectError
    from podium.transforms.checks import select_checks

    try:
        select_checks(view.root, view.models, task.target)
    except UsageError as exc:
        return str(exc)
    except ProjectError:
        return None  # the checks files' own problems are reported with their lines
    return None


def _not_blank(target: str) -> str | None:
    return None if target.strip() else "the command is empty"


def _http_url(target: str) -> str | None:
    from podium.outgoing.http_options import url_problem

    return url_problem(target)


def _http_task(task: Task, workflow: Workflow, view: ProjectView) -> str | None:
    from podium.outgoing.http_options import task_problem

    return task_problem(task)


TASK_KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec(
            "run", "module:function", check_target=target_problem, check_in_project=_run_importable
        ),
        KindSpec("shell", "a shell command", check_target=_not_blank),
        KindSpec("workflow", "a workflow name", check_in_project=_workflow_exists),
        KindSpec("extract", "a connection in podium.yaml", check_in_project=_extract_target),
        KindSpec(
            "transform",
            "a model selector: a folder, a model, +model",
            check_in_project=_transform_target,
        ),
        KindSpec(
            "check",
            "a check, checks/<file>.yaml or a model selector",
            check_in_project=_check_target,
        ),
        KindSpec("sync", "a sync in podium.yaml", available=False),
        KindSpec("http", "a URL", check_target=_http_url, check_in_project=_http_task),
    )
}


def available_kinds() -> list[str]:
    """``run (module:function)`` and so on, for messages."""
    return [f"{name} ({spec.target})" for name, spec in TASK_KINDS.items() if spec.available]


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
        spec = TASK_KINDS.get(task.kind)
        if spec is not None and spec.available and task.target:
            message = spec.check_in_project(task, item.workflow, view)
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
        targets = [t.target for t in item.workflow.tasks if t.kind == "workflow"]
        starts.setdefault(name, []).extend(t for t in targets if t != name)
    cycle = find_cycle(starts)
    if cycle:
        item = next(p for p in parsed if p.workflow.name == cycle[0])
        path = " → ".join(cycle)
        found.append(_problem(item, None, f"workflows start each other in a loop: {path}"))


def _task_problem(item: ParsedWorkflow, task: Task, key: str, message: str) -> Problem:
    doc = item.task_docs.get(task.id)
    file = (doc.file if doc is not None else None) or item.file
    line = doc.line_of(key) if doc is not None else (task.location.line if task.location else 1)
    return Problem(file, line, f"task {task.id!r}: {message}")


def _problem(item: ParsedWorkflow, line: int | None, message: str) -> Problem:
    location = item.workflow.location
    return Problem(item.file, line or (location.line if location else 1), message)
