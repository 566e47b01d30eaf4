"""``check: SELECTOR`` — runs checks against the warehouse on their own.

The selector is a check's name, ``checks/<file>.yaml``, a model selector (the checks
declared on those models) or ``*``. An error-severity check that fails fails the task;
every outcome is reported either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import ProjectError, UsageError
from podium.kinds.base import DatasetRef, Job, ProjectView, TaskContext, TaskResult
from podium.kinds.model import checked, run_checks
from podium.settings.describe import Settings


@dataclass(frozen=True)
class CheckPlan:
    checks: tuple[Any, ...]  # podium.transforms.checks.Check
    warehouse: Mapping[str, Any]
    root: str


class CheckKind:
    name = "check"
    target = "a check, checks/<file>.yaml or a model selector"
    picks = {"target": "checks"}  # where the builder picks values
    options = Settings(doc="A task that runs checks against the warehouse.")

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        if view.models is None:
            return None  # models/ has problems of its own, reported with their files
        from podium.transforms.checks import select_checks

        try:
            select_checks(view.root, view.models, task.target)
        except UsageError as exc:
            return str(exc)
        except ProjectError:
            return None  # the checks files' own problems are reported with their lines
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        from podium.transforms.checks import select_checks
        from podium.transforms.models import load_models

        root = Path(project.root)
        models = project.models if project.models is not None else load_models(root)
        chosen = select_checks(root, models, task.target)
        return CheckPlan(tuple(chosen), project.warehouse, project.root)

    def datasets(
        self, task: Task, project: Project, output: Any = None
    ) -> tuple[list[DatasetRef], list[DatasetRef]]:
        """The tables its checks read."""
        from podium.transforms.checks import select_checks

        try:
            chosen = select_checks(Path(project.root), project.models, task.target)
        except (UsageError, ProjectError):
            return [], []  # the task itself reports a bad selector
        return [DatasetRef(t) for t in sorted({c.model for c in chosen if c.model})], []

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium.transforms.warehouse_sql import open_warehouse_sql

        plan: CheckPlan = job.prepared
        with open_warehouse_sql(plan.warehouse, Path(plan.root)) as sql:
            results = run_checks(sql, plan.checks, context.log)
        return checked(TaskResult({}), results)


KIND = CheckKind()
