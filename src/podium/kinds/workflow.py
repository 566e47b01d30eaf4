"""``workflow: NAME`` — starts a run of another workflow; the task ends when that run does.

The engine starts the child run itself (``StartsWorkflow``): no executor slot is held while
the child runs, and a retried attempt re-attaches to a child run still going.
"""

from __future__ import annotations

from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError
from podium.kinds.base import Job, ProjectView, TaskContext, TaskResult
from podium.settings.describe import Settings
from podium.settings.yaml_lines import did_you_mean


class WorkflowKind:
    name = "workflow"
    target = "a workflow name"
    picks = {"target": "workflows"}  # where the builder picks values
    options = Settings(doc="A task that starts another workflow and waits for its run.")

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        if task.target == workflow.name:
            return f"starts its own workflow {workflow.name!r}; a workflow cannot start itself"
        if task.target not in view.workflows:
            hint = did_you_mean(task.target, view.workflows)
            return f"starts unknown workflow {task.target!r}{hint}"
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return None

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        raise TerminalTaskError(
            f"task {job.key[1]!r} starts workflow {job.target!r}; the engine runs it, not an"
            " executor"
        )

    def child_workflow(self, task: Task) -> str:
        return task.target


KIND = WorkflowKind()
