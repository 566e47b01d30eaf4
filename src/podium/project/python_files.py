"""Loading ``workflows/*.py``: import each as ``workflows.<stem>`` and read its workflows.

Every module-level ``podium.Workflow`` becomes a document shaped like a workflow YAML file,
with each key at the line of the call that set it, and goes through ``build_workflow``: the
same checks and messages as YAML. An exception while importing the file is a Problem at
the line that raised it.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from podium.core import workflow as model
from podium.errors import Problem, ProjectError
from podium.kinds.callables import failure_location
from podium.project.specs import TaskSpec, TriggerSpec, WorkflowBuilder, is_builder
from podium.project.validate import ParsedWorkflow
from podium.project.workflow_yaml import build_workflow
from podium.settings.yaml_lines import LineDict, LineList, Problems, located


def read_python_file(
    root: Path, path: Path, file: str, problems: Problems, seen: set[int]
) -> list[ParsedWorkflow]:
    """The workflows defined at module level in ``path`` (``file`` relative to ``root``).

    ``seen`` holds the ids of builders already read from other files: a workflow that one
    file imports from another is read once.
    """
    module = _import(root, path, file, problems)
    if module is None:
        return []
    builders = {id(v): v for v in vars(module).values() if is_builder(v)}
    if not builders:
        problems.add(
            0,
            "no podium.Workflow at module level; assign one to a name "
            "(helper modules in workflows/ should start with '_')",
        )
    new = [builder for key, builder in builders.items() if key not in seen]
    seen.update(builders)
    return [read_builder(builder, root, problems.found) for builder in new]


def read_builder(
    builder: WorkflowBuilder, root: Path | None, found: list[Problem]
) -> ParsedWorkflow:
    """``builder``'s workflow, checked like YAML; file paths relative to ``root``."""
    file = _relative(builder.file, root)
    document = LineDict(builder.settings, builder.line)
    document["triggers"] = _triggers(builder, root)
    document["tasks"] = _tasks(builder, file, root)
    funcs = {
        spec.spec["id"]: spec.func
        for spec in builder.tasks
        if spec.func is not None and isinstance(spec.spec.get("id"), str)
    }
    default_name = builder.name if isinstance(builder.name, str) else Path(file).stem
    return build_workflow(document, file, default_name, Problems(file, found), funcs)


def build_from_builder(builder: WorkflowBuilder) -> model.Workflow:
    """``Workflow.build()``: the checked model, or ProjectError with every problem."""
    found: list[Problem] = []
    parsed = read_builder(builder, Path.cwd(), found)
    if found:
        raise ProjectError(found)
    return parsed.workflow


def _triggers(builder: WorkflowBuilder, root: Path | None) -> LineList:
    items = LineList()
    for trigger in builder.triggers:
        if isinstance(trigger, TriggerSpec):
            item = LineDict(trigger.spec, trigger.line)
            item.file = _other_file(trigger.file, builder.file, root)
        else:  # a mapping written like YAML, or something wrong for validation to report
            item = located(trigger, builder.line)
        items.append(item)
        items.item_lines.append(getattr(trigger, "line", builder.line))
    return items


def _tasks(builder: WorkflowBuilder, file: str, root: Path | None) -> LineList:
    items = LineList()
    for task in builder.tasks:
        items.append(_task_document(task, builder, root))
        items.item_lines.append(task.line)
    return items


def _task_document(task: TaskSpec, builder: WorkflowBuilder, root: Path | None) -> LineDict:
    item = LineDict(task.spec, task.line)
    item.file = _other_file(task.file, builder.file, root)
    return item


def _other_file(file: str, workflow_file: str, root: Path | None) -> str | None:
    return None if file == workflow_file else _relative(file, root)


def _relative(file: str, root: Path | None) -> str:
    if root is None:
        return file
    base = str(root.resolve())
    if os.path.normpath(file).startswith(base + os.sep):
        return Path(os.path.relpath(file, base)).as_posix()
    return file


def _import(root: Path, path: Path, file: str, problems: Problems) -> ModuleType | None:
    if not path.stem.isidentifier():
        problems.add(0, f"{path.name!r} cannot be imported; name it like a Python module")
        return None
    name = f"workflows.{path.stem}"
    try:
        module = importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - user code; SystemExit too
        _report_failure(exc, root, file, problems)
        return None
    loaded: Any = getattr(module, "__file__", None)
    if not loaded or Path(loaded).resolve() != path.resolve():
        problems.add(
            0,
            f"importing {name!r} loaded {loaded!r} instead; another package named "
            "'workflows' shadows the project's workflows folder",
        )
        return None
    return module


def _report_failure(exc: BaseException, root: Path, file: str, problems: Problems) -> None:
    where_file, line = failure_location(exc, root) or (file, 1)
    message = f"importing {file} failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        message = f"importing {file} failed: SyntaxError: {exc.msg}"
    problems.at(where_file).add(line, message)
