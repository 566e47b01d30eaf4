"""``dbt_node`` — one dbt model, seed or snapshot, built by dbt, its tests as checks.

Not written by hand: a ``dbt`` task becomes one node task per node it selects
(``podium.kinds.dbt``). Running one joins its run's dbt session in this process
(``podium.transforms.dbt.session``): node tasks that are ready together are built by one
dbt invocation, and each returns when dbt has finished its node and that node's tests.
With the ``processes`` or ``dask`` executor each attempt runs alone in its worker, so each
node is one invocation of its own there (correct, but without the batching).

dbt's tests are podium checks: an error-severity test that fails fails the task (its
dependants are skipped, as dbt skips them); a warn-severity one is reported. A node built
while a source it reads ran late (``on_late: continue``) is marked incomplete, and the
catch-up run rebuilds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError
from podium.kinds.base import AssetChange, Job, ProjectView, TaskContext, TaskResult
from podium.kinds.model import checked, late_sources
from podium.settings.describe import Settings


class DbtNodeKind:
    name = "dbt_node"
    target = "a dbt node's unique id"
    internal = True  # made by expanding a dbt task; never written in a workflow file
    options = Settings(
        doc="One dbt model, seed or snapshot, built by dbt; its tests run as checks."
    )

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        from podium.kinds.dbt import connection_loaders
        from podium.transforms.dbt import project as dbt
        from podium.transforms.dbt.session import Group
        from podium.transforms.dbt.tasks import tests_of

        key = str(task.options["dbt_task"])
        root = Path(project.root)
        target = task.options.get("target")
        setup = dbt.resolve(
            root,
            str(task.options["project"]),
            str(target) if target else None,
            project.warehouse,
            project.connections,
        )
        graph = dbt.graph(setup, _text(task, "select"), _text(task, "exclude"))
        members = {t.target: t for t in workflow.tasks if t.options.get("dbt_task") == key}
        ids = {t.id: uid for uid, t in members.items()}
        inside = {
            uid: tuple(ids[d] for d in t.depends_on if d in ids) for uid, t in members.items()
        }
        outside = {
            uid: tuple(d for d in t.depends_on if d not in ids) for uid, t in members.items()
        }
        tests = {uid: tuple(found) for uid, found in tests_of(graph, set(members)).items()}
        loads = {
            t.id: connection
            for connection, tids in connection_loaders(workflow).items()
            for t in workflow.tasks
            if t.id in tids
        }
        return Group(setup, project.warehouse, graph, inside, outside, tests, key, loads)

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium.transforms.dbt.session import forget_finished, session_for

        group = job.prepared
        uid = job.target
        late = late_sources(job)
        through = _complete_through(group, job, late) if late else {}
        session = session_for(job.key[0], group)
        outcome = session.outcome(uid, cancelled=context.cancelled)
        forget_finished()
        return _result(group, outcome, through, context)


def _result(
    group: Any, outcome: Any, through: Mapping[str, Any], context: TaskContext
) -> TaskResult:
    from podium.transforms.checks import CheckResult

    node = group.graph["nodes"][outcome.unique_id]
    where = f"{node['type']} {node['name']} ({node['file']})"
    if outcome.status == "error":
        raise TerminalTaskError(f"dbt {where} failed: {outcome.message}")
    if outcome.status == "skipped":
        raise TerminalTaskError(f"dbt skipped {where}: {outcome.message or 'an upstream failed'}")
    context.log.info(
        "%s: %s in %.2fs (dbt invocation %d of this process, %d node(s))",
        where,
        outcome.message or outcome.status,
        outcome.seconds,
        outcome.invocation,
        outcome.batch,
    )
    stats: dict[str, Any] = {} if outcome.rows is None else {"rows": outcome.rows}
    if through:
        stats["late_sources"] = dict(through)
        context.log.warning("%s is incomplete: %s ran late", node["name"], ", ".join(through))
    output: dict[str, Any] = {
        "node": outcome.unique_id,
        "type": node["type"],
        "relation": node["relation"],
        "status": outcome.status,
        "message": outcome.message,
        "rows": outcome.rows,
        "seconds": round(outcome.seconds, 3),
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "invocation": {"number": outcome.invocation, "nodes": outcome.batch},
        "assets": {node["relation"]: stats},
    }
    if through:
        output["late_sources"] = dict(through)
    results = []
    for test in outcome.tests:
        if test.status == "skipped":
            continue
        passed = test.status == "pass"
        message = f"{test.name}: passed" if passed else f"{test.name}: {test.message}"
        results.append(
            CheckResult(
                test.name, test.kind, test.severity, passed, test.failures, message, test.sample
            )
        )
        level = "info" if passed else ("warning" if test.severity == "warn" else "error")
        getattr(context.log, level)("check %s", message)
        for row in test.sample:  # the failing rows' sample, as `podium checks` shows it
            getattr(context.log, level)("    %s", row)
    return checked(TaskResult(output, (AssetChange(node["relation"], stats),)), results)


def _complete_through(group: Any, job: Job, late: list[str]) -> dict[str, Any]:
    """Late task → until when what it loads is complete (as a podium model reports it)."""
    from podium.kinds.model import _complete_through as through_of
    from podium.transforms.warehouse_sql import open_warehouse_sql

    with open_warehouse_sql(group.warehouse, Path(group.setup.root)) as sql:
        return through_of(sql, group.loads, late)


def _text(task: Task, key: str) -> str | None:
    value = task.options.get(key)
    return str(value) if value else None


KIND = DbtNodeKind()
