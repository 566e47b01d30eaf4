"""``model`` — builds one SQL model, then runs the checks declared on it.

Not written by hand: a ``transform`` task becomes one model task per model it selects
(``podium.kinds.transform``). An error-severity check that fails fails the task, so nothing
downstream reads a model known to be wrong; every check's outcome is reported either way.

When a source this model reads ran late (``on_late: continue``), the model is built from
what is there and reported incomplete (``late_sources``: until when each late source is
complete); if a table it reads does not exist yet, it is not built, and the catch-up run
builds it when the data lands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError, first_line
from podium.kinds.base import (
    AssetChange,
    CheckOutcome,
    ChecksFailed,
    DatasetRef,
    Job,
    LoadsConnection,
    ProjectView,
    TaskContext,
    TaskResult,
)
from podium.settings.describe import Settings


@dataclass(frozen=True)
class ModelPlan:
    model: Any  # podium.transforms.models.Model
    checks: tuple[Any, ...]  # podium.transforms.checks.Check declared on it
    warehouse: Mapping[str, Any]
    root: str
    connections: Mapping[str, str]  # task id → the connection it loads (for late sources)


class ModelKind:
    name = "model"
    target = "a model's name"
    picks = {"target": "models"}  # where the builder picks values
    internal = True  # made by expanding a transform task; never written in a workflow file
    options = Settings(doc="One SQL model built, then its checks run.")

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        from podium.kinds.registry import kind_of
        from podium.transforms.checks import checks_for, load_checks
        from podium.transforms.models import load_models

        root = Path(project.root)
        models = project.models if project.models is not None else load_models(root)
        checks = project.checks if project.models is not None else load_checks(root)
        connections = {}
        for other in workflow.tasks:
            loads = kind_of(other.kind)
            if isinstance(loads, LoadsConnection):
                connection = loads.connection_of(other)
                if connection is not None:
                    connections[other.id] = connection
        return ModelPlan(
            models.models[task.target],
            tuple(checks_for(checks, [task.target])),
            project.warehouse,
            project.root,
            connections,
        )

    def datasets(
        self, task: Task, project: Project, output: Any = None
    ) -> tuple[list[DatasetRef], list[DatasetRef]]:
        """The tables its SQL reads, and its own table."""
        models = getattr(project.models, "models", {}) or {}
        model = models.get(task.target)
        reads = sorted(model.reads) if model is not None else []
        return [DatasetRef(r) for r in reads], [DatasetRef(task.target)]

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium.transforms.materialize import build
        from podium.transforms.warehouse_sql import open_warehouse_sql

        plan: ModelPlan = job.prepared
        model, log = plan.model, context.log
        with open_warehouse_sql(plan.warehouse, Path(plan.root)) as sql:
            late = late_sources(job)
            through = _complete_through(sql, plan.connections, late) if late else {}
            missing = _missing_inputs(sql, model.reads)
            if missing:
                return _not_built(model.name, missing, late, through, log)
            built = build(sql, model)
            log.info(
                "%s: %s, %d rows (%d written) in %.2fs",
                built.model,
                built.materialized,
                built.rows,
                built.written,
                built.seconds,
            )
            if through:
                log.warning("%s is incomplete: %s", built.model, _describe_late(through))
            outcomes = run_checks(sql, plan.checks, log)
            revenue = _revenue(sql, model, log)
        stats: dict[str, Any] = {"rows": built.rows}
        if revenue is not None:
            stats["revenue"] = revenue
        if through:
            stats["late_sources"] = through
        output = {**built.to_json(), "assets": {built.model: stats}}
        if through:
            output["late_sources"] = through
        return checked(TaskResult(output, (AssetChange(built.model, stats),)), outcomes)


def _not_built(
    name: str, missing: list[str], late: list[str], through: Mapping[str, Any], log: Any
) -> TaskResult:
    if not late:
        raise TerminalTaskError(
            f"model {name} reads {', '.join(missing)}, which does not exist yet;"
            " run the extract that loads it first (podium extract CONNECTION) or"
            " correct the table's name"
        )
    log.warning(
        "%s not built: %s not loaded yet because %s ran late; the catch-up run"
        " builds it when the data lands",
        name,
        ", ".join(missing),
        ", ".join(late),
    )
    output = {"model": name, "built": False, "missing": missing, "late_sources": dict(through)}
    return TaskResult(output, produced=False)  # nothing was built: no asset updated


def run_checks(sql: Any, checks: Sequence[Any], log: logging.Logger) -> list[Any]:
    """Runs ``checks``, logging each result at the level its outcome deserves."""
    from podium.transforms.checks import run_check

    results = []
    for check in checks:
        result = run_check(sql, check)
        results.append(result)
        level = (
            logging.INFO
            if result.passed
            else (logging.WARNING if check.severity == "warn" else logging.ERROR)
        )
        log.log(level, "check %s", result.message)
    return results


def checked(result: TaskResult, results: list[Any]) -> TaskResult:
    """``result`` with the checks' outcomes; ``ChecksFailed`` when an error-severity one
    failed (the outcomes still go with it)."""
    output = {**(result.output or {}), "checks": [r.to_json() for r in results]}
    outcomes = tuple(
        CheckOutcome(
            r.name,
            bool(r.passed),
            r.severity,
            int(r.failing or 0),
            r.message,
            () if r.passed else tuple(getattr(r, "sample", None) or ()),
        )
        for r in results
    )
    done = TaskResult(output, result.assets, outcomes)
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if failed:
        raise ChecksFailed(
            f"{len(failed)} check(s) failed: " + "; ".join(r.message for r in failed[:5]),
            TaskResult(output, (), outcomes),
        )
    return done


def _revenue(sql: Any, model: Any, log: logging.Logger) -> float | None:
    """``sum(revenue)`` over the model's rows, for alerts (``revenue:`` in its settings);
    None without the setting, and with a warning when the expression does not run."""
    if not model.revenue:
        return None
    try:
        rows = sql.query(f"SELECT sum({model.revenue}) FROM {model.name}")
        value = rows[0][0] if rows else None
        return None if value is None else round(float(value), 2)
    except Exception as exc:  # noqa: BLE001 - the model is built; only its figure is missing
        log.warning(
            "%s: revenue: sum(%s) does not run over the model (%s); alerts leave its revenue"
            " out until the setting is corrected",
            model.name,
            model.revenue,
            first_line(exc),
        )
        return None


def _missing_inputs(sql: Any, reads: frozenset[str]) -> list[str]:
    names = sorted(name for name in reads if "." in name)
    return [n for n in names if sql.relation_kind(*n.split(".", 1)) is None]


def late_sources(job: Job) -> list[str]:
    """The late tasks behind this model's inputs: its late upstreams, and those of the
    upstream models that were built (or not) while a source was late."""
    late = set(job.late_upstreams)
    for output in job.upstream.values():
        if isinstance(output, Mapping):
            late.update(str(name) for name in output.get("late_sources") or ())
    return sorted(late)


def _complete_through(
    sql: Any, connections: Mapping[str, str], late: list[str]
) -> dict[str, str | None]:
    """Late task → until when the data it loads is complete: the start of the oldest of
    its streams' latest committed loads (None when it never loaded, or loads no connection)."""
    from podium.connectors.destinations.base import BOOKKEEPING
    from podium.connectors.normalize.names import quote

    loads = f"{quote(sql.schema_prefix + BOOKKEEPING)}.loads"
    known = sql.relation_kind(BOOKKEEPING, "loads") is not None
    found: dict[str, str | None] = {}
    for task_id in late:
        connection = connections.get(task_id)
        found[task_id] = None
        if connection is None or not known:
            continue
        rows = sql.query(
            f"SELECT stream, max(started_at) FROM {loads} WHERE connection = ?"
            " AND status = 'committed' GROUP BY stream",
            (connection,),
        )
        if rows:
            oldest = min(r[1] for r in rows)
            found[task_id] = oldest.isoformat() if hasattr(oldest, "isoformat") else str(oldest)
    return found


def _describe_late(through: Mapping[str, str | None]) -> str:
    return "; ".join(
        f"{task} was late, complete through {at}" if at else f"{task} was late, never loaded"
        for task, at in sorted(through.items())
    )


KIND = ModelKind()
