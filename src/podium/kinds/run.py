"""``run: module:function`` — calls a Python function with the task's ``Context``.

Its return value (JSON-serialisable) is the task's output, which downstream tasks read as
``ctx.upstream[task_id]``. A function given to the Python API names itself; the project
check says whether workers can import it by that name.
"""

from __future__ import annotations

import sys
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError, UsageError
from podium.kinds.base import Job, ProjectView, TaskContext, TaskResult
from podium.kinds.callables import resolve_callable, target_problem
from podium.settings.describe import Settings


class RunKind:
    name = "run"
    target = "module:function"
    options = Settings(doc="A task that calls a Python function with its Context.")

    def check_target(self, target: str) -> str | None:
        return target_problem(target)

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        if task.func is not None and "<locals>" in task.target:
            return (
                f"its function {task.target!r} is defined inside another function; define it "
                "at module level so that workers can import it by name"
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

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return None

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        code = job.code_root or job.project_root
        if code not in sys.path:
            sys.path.insert(0, code)
        try:
            func = resolve_callable(job.target)
        except UsageError as exc:  # a missing module or function: retrying will not help
            raise TerminalTaskError(str(exc)) from None
        return TaskResult(output=func(context))


KIND = RunKind()
