"""``dbt: FOLDER`` — a dbt project's models, seeds and snapshots, one podium task each.

    - id: dbt
      dbt: ./analytics        # a dbt project folder (dbt_project.yml)
      select: +marts          # dbt's selection syntax (default: every node)
      exclude: staging.legacy
      target: prod            # from profiles.yml; without it, made from podium's warehouse

When the project loads, the task becomes one ``dbt_node`` task per node it selects
(``podium.transforms.dbt.tasks``); each waits only for the extracts its sources read, and
dbt's tests run in the task of the node they test, as podium checks. The task as written
never runs. dbt-core is an optional extra: ``pip install 'podium[dbt]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError, UsageError
from podium.kinds.base import ExpandContext, Job, ProjectView, TaskContext, TaskResult
from podium.settings.describe import Option, Settings

TEXT = {"type": "string", "minLength": 1}


class DbtKind:
    name = "dbt"
    target = "a dbt project folder with dbt_project.yml, relative to the project"
    options = Settings(
        (
            Option("select", TEXT, "the nodes to build, in dbt's selection syntax (default: all)"),
            Option("exclude", TEXT, "the nodes to leave out, in dbt's selection syntax"),
            Option(
                "target",
                TEXT,
                "the dbt target in profiles.yml (default: one made from podium's warehouse)",
            ),
        ),
        doc="A task that builds a dbt project's selected nodes: one task per model, seed"
        " and snapshot, its tests as checks.",
    )

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        try:
            graph_of(task, view.root, view.warehouse, view.connections)
        except UsageError as exc:
            return str(exc)
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return None

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        raise TerminalTaskError(
            f"dbt task {job.key[1]!r} runs as one task per dbt node; the project that"
            " started this run did not expand it"
        )

    def expand(self, workflow: Workflow, project: ExpandContext) -> Workflow:
        from podium.kinds.dbt_node import KIND as NODE
        from podium.transforms.dbt.tasks import expand_dbt

        root = Path(project.root or ".")

        def graph(task: Task) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
            return graph_of(task, root, project.warehouse, project.connections)

        return expand_dbt(
            workflow,
            kind=self.name,
            node_kind=NODE.name,
            graph_of=graph,
            loaders=connection_loaders(workflow),
        )


def graph_of(
    task: Task,
    root: Path,
    warehouse: Mapping[str, Any],
    connections: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The task's dbt graph and sources (UsageError: what is wrong, what to do)."""
    from podium.transforms.dbt import project as dbt

    dbt.project_dir(root, task.target)  # before dbt: a missing folder says so
    dbt.require_dbt()
    setup = dbt.resolve(root, task.target, _text(task, "target"), warehouse, connections)
    graph = dbt.graph(setup, _text(task, "select"), _text(task, "exclude"))
    return graph, dbt.read_sources(setup)


def connection_loaders(workflow: Workflow) -> dict[str, frozenset[str]]:
    """Connection → the ids of the workflow's tasks that load it."""
    from podium.kinds.base import LoadsConnection
    from podium.kinds.registry import has_kind, kind_of

    found: dict[str, set[str]] = {}
    for task in workflow.tasks:
        kind = kind_of(task.kind) if has_kind(task.kind) else None
        if isinstance(kind, LoadsConnection):
            connection = kind.connection_of(task)
            if connection is not None:
                found.setdefault(connection, set()).add(task.id)
    return {c: frozenset(ids) for c, ids in found.items()}


def _text(task: Task, key: str) -> str | None:
    value = task.options.get(key)
    return str(value) if value else None


KIND = DbtKind()
