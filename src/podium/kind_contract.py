"""The kind contract: what every task kind, podium's own or a plugin's, must do.

    from podium.kind_contract import KindCase, kind_contract

    kind_contract(KIND, KindCase(files={...}, workflow="daily"), root=tmp_path)

raises ``AssertionError`` listing every way ``KIND`` breaks the contract:

- it is described: a ``name`` a workflow file can use, a ``target`` for messages, and
  ``options`` as ``Settings`` whose JSON Schema is a valid (draft 2020-12) schema;
- ``check_target`` answers text or None for any target, without raising;
- given a project in which one of its tasks can run alone (``KindCase``: the files, and a
  workflow holding such a task), that project loads (the kind's ``check`` passes), its
  ``prepare`` gives something picklable, and ``run`` returns a ``TaskResult`` whose output is
  JSON and whose facts are ``AssetChange``/``CheckOutcome``; run again (a second attempt), it
  succeeds again. Every task of the workflow runs, in order, so a case may load the data a
  model reads first;
- a kind with no such case starts workflows or expands (``StartsWorkflow``, ``Expands``):
  it never runs on its own.

The pieces (``description_problems``, ``target_problems``, ``run_problems``) return lists of
problems, for a test per piece. The suite in ``tests/contract/test_kind_contract.py`` runs
it over podium's kinds; a plugin's tests call it on their own kind.
"""

from __future__ import annotations

import importlib
import json
import pickle
import queue
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.core.graph import topological_order
from podium.core.workflow import Project, Task, Workflow
from podium.kinds.base import (
    AssetChange,
    CheckOutcome,
    Expands,
    Job,
    JobResult,
    Kind,
    StartsWorkflow,
    TaskContext,
    TaskResult,
)
from podium.settings.describe import Settings

if TYPE_CHECKING:
    from podium.execution.base import Executor

#: the logical time every contract run has (no clock is read)
LOGICAL_TIME = "2026-01-01T00:00:00+00:00"
#: targets every kind's ``check_target`` must answer without raising
SAMPLE_TARGETS = ("", "x", "module:function", "a b c", "checks/x.yaml", "https://example.com/")
#: the case's podium.yaml unless it brings one
DEFAULT_CONFIG = "warehouse: {type: duckdb}\n"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class KindCase:
    """A project in which a task of the kind runs without outside services: ``files``
    (relative path → text, written under the root; ``podium.yaml`` defaults to a DuckDB
    warehouse) and the ``workflow`` to run."""

    files: Mapping[str, str]
    workflow: str


def kind_contract(kind: Kind, case: KindCase | None = None, *, root: Path | None = None) -> None:
    """Checks ``kind`` against the whole contract (``root``: an empty folder for the case's
    project); ``AssertionError`` lists every problem."""
    problems = description_problems(kind) + target_problems(kind)
    if case is not None and root is None:
        raise ValueError("a case needs a root folder to write its project in")
    problems += run_problems(kind, case, root or Path("."))
    if problems:
        raise AssertionError(f"kind {getattr(kind, 'name', kind)!r}:\n- " + "\n- ".join(problems))


def description_problems(kind: Kind) -> list[str]:
    """Its name, target and options, and the JSON Schema of those."""
    problems = []
    name, target = getattr(kind, "name", None), getattr(kind, "target", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(f"name must be lowercase letters, digits and '_', got {name!r}")
    if not isinstance(target, str) or not target.strip():
        problems.append(f"target must say what the task's value is, got {target!r}")
    options = getattr(kind, "options", None)
    if not isinstance(options, Settings):
        return [*problems, f"options must be podium.settings.describe.Settings, got {options!r}"]
    undocumented = [o.name for o in options.options if not o.name or not o.doc.strip()]
    if undocumented:
        problems.append(f"options without a name or a doc: {undocumented}")
    return problems + _schema_problems(options.json_schema())


def _schema_problems(schema: dict[str, Any]) -> list[str]:
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        return [f"options' JSON Schema is not JSON: {exc}"]
    try:  # a test dependency, not podium's: the contract runs in tests
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError:
        return ["the kind contract checks JSON Schemas with jsonschema: pip install jsonschema"]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        return [f"options' JSON Schema is invalid: {exc.message}"]
    return []


def target_problems(kind: Kind) -> list[str]:
    """``check_target`` answers text or None for any target, and never raises."""
    problems = []
    for target in SAMPLE_TARGETS:
        try:
            answer = kind.check_target(target)
        except Exception as exc:  # noqa: BLE001 - the contract reports it
            problems.append(f"check_target({target!r}) raised {type(exc).__name__}: {exc}")
            continue
        if answer is not None and not isinstance(answer, str):
            problems.append(f"check_target({target!r}) returned {answer!r}, not text or None")
    return problems


def run_problems(
    kind: Kind, case: KindCase | None, root: Path, executor: Executor | None = None
) -> list[str]:
    """The case's project loads, and each of the kind's tasks prepares and runs (twice):
    in this thread, or handed to ``executor`` (a Dask cluster's, say) as the engine does."""
    if case is None:
        if isinstance(kind, StartsWorkflow | Expands):
            return []
        return [
            "no case runs it, and it neither starts workflows (StartsWorkflow) nor expands"
            " (Expands): give the contract a KindCase in which one of its tasks runs"
        ]
    project = _load(case, root)
    if isinstance(project, str):
        return [project]
    workflow = project.workflows.get(case.workflow)
    if workflow is None:
        return [f"the case has no workflow {case.workflow!r} (it has {sorted(project.workflows)})"]
    if not any(task.kind == kind.name for task in workflow.tasks):
        return [f"workflow {case.workflow!r} of the case has no {kind.name} task"]
    return _run_workflow(kind, workflow, project, executor)


def _load(case: KindCase, root: Path) -> Project | str:
    from podium.errors import ProjectError
    from podium.project import load_project

    for rel, text in {"podium.yaml": DEFAULT_CONFIG, **case.files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    try:
        return load_project(root, environ={})
    except ProjectError as exc:
        return f"the case's project does not load (the kind's check refused it?): {exc}"


def _run_workflow(
    kind: Kind, workflow: Workflow, project: Project, executor: Executor | None
) -> list[str]:
    """Runs every task in order; the problems of the kind's own tasks."""
    from podium.kinds.registry import kind_of

    by_id = {task.id: task for task in workflow.tasks}
    outputs: dict[str, Any] = {}
    problems: list[str] = []
    for task_id in topological_order({t.id: t.depends_on for t in workflow.tasks}):
        task = by_id[task_id]
        own = task.kind == kind.name
        runner = kind if own else kind_of(task.kind)
        for attempt in (1, 2) if own else (1,):
            found, output = _attempt(runner, task, workflow, project, outputs, attempt, executor)
            if not own and found:
                return [f"task {task.id!r} ({task.kind}), which the case runs first: {found[0]}"]
            problems += [f"task {task.id!r}, attempt {attempt}: {p}" for p in found]
            outputs[task.id] = output
    return problems


def _attempt(
    kind: Kind,
    task: Task,
    workflow: Workflow,
    project: Project,
    upstream: Mapping[str, Any],
    attempt: int,
    executor: Executor | None,
) -> tuple[list[str], Any]:
    try:
        prepared = kind.prepare(task, workflow, project)
        pickle.dumps(prepared)
    except Exception as exc:  # noqa: BLE001 - the contract reports it
        return [f"prepare gave nothing picklable: {type(exc).__name__}: {exc}"], None
    job = Job(
        key=("contract", task.id, attempt),
        workflow=workflow.name,
        kind=task.kind,
        target=task.target,
        project_root=project.root,
        params=dict(task.params),
        logical_time=LOGICAL_TIME,
        upstream={dep: upstream.get(dep) for dep in task.depends_on},
        options=dict(task.options),
        prepared=prepared,
    )
    if executor is not None:
        return _submitted(executor, job)
    lines: list[str] = []
    context = TaskContext(job, lambda key, stream, line: lines.append(line), threading.Event())
    try:
        result = kind.run(job, context)
    except Exception as exc:  # noqa: BLE001 - the contract reports it
        logged = "; ".join(lines[-5:])
        return [
            f"run raised {type(exc).__name__}: {exc}" + (f" (log: {logged})" if logged else "")
        ], None
    return _result_problems(result), getattr(result, "output", None)


def _submitted(executor: Executor, job: Job, timeout: float = 120) -> tuple[list[str], Any]:
    """Hands ``job`` to ``executor`` and checks the ``JobResult`` it reports."""
    ended: queue.SimpleQueue[JobResult] = queue.SimpleQueue()
    executor.submit(job, ended.put)
    try:
        result = ended.get(timeout=timeout)
    except queue.Empty:
        executor.cancel(job.key)
        return [f"the executor reported no end within {timeout:g}s"], None
    if not result.ok:
        return [f"run failed on the executor: {result.error}"], None
    try:
        output = json.loads(result.output or "null")
    except ValueError as exc:
        return [f"its output is not JSON: {exc}"], None
    done = TaskResult(output, result.assets, result.checks, result.produced)
    return _result_problems(done), output


def _result_problems(result: Any) -> list[str]:
    if not isinstance(result, TaskResult):
        return [f"run returned {type(result).__name__}, not a TaskResult"]
    problems = []
    try:
        json.dumps(result.output)
    except (TypeError, ValueError) as exc:
        problems.append(f"its output is not JSON: {exc}")
    for asset in result.assets:
        if not isinstance(asset, AssetChange) or not isinstance(asset.name, str):
            problems.append(f"{asset!r} is not an AssetChange with a name")
            continue
        try:
            json.dumps(dict(asset.stats))
        except (TypeError, ValueError) as exc:
            problems.append(f"asset {asset.name!r}: its stats are not JSON: {exc}")
    problems += [
        f"{c!r} is not a CheckOutcome" for c in result.checks if not isinstance(c, CheckOutcome)
    ]
    if not isinstance(result.produced, bool):
        problems.append(f"produced must be True or False, got {result.produced!r}")
    return problems
