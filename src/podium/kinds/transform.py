"""``transform: SELECTOR`` — builds the SQL models it selects, one ``model`` task each.

When the project loads, the task becomes one ``model`` task per model
(``podium.transforms.tasks.expand_transforms``), so each model is retried, re-run and
handled for late sources on its own; the task as written never runs.
"""

from __future__ import annotations

from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError, UsageError
from podium.kinds.base import ExpandContext, Job, ProjectView, TaskContext, TaskResult
from podium.settings.describe import Settings


class TransformKind:
    name = "transform"
    target = "a model selector: a folder, a model, +model"
    picks = {"target": "selections"}  # where the builder picks values
    options = Settings(doc="A task that builds SQL models: one model task per selected model.")

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        if view.models is None:
            return None  # models/ has problems of its own, reported with their files
        try:
            view.models.select(task.target)
        except UsageError as exc:
            return str(exc)
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return None

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        raise TerminalTaskError(
            f"transform task {job.key[1]!r} runs as one model task per model; the project"
            " that started this run had no models/ folder to expand it with"
        )

    def expand(self, workflow: Workflow, project: ExpandContext) -> Workflow:
        from podium.kinds.model import KIND as MODEL
        from podium.transforms.tasks import expand_transforms

        return expand_transforms(
            workflow,
            kind=self.name,
            model_kind=MODEL.name,
            models=project.models,
            checks=project.checks,
            datasets=project.datasets,
        )


KIND = TransformKind()
