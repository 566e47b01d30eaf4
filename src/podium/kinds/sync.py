"""``sync: NAME`` — runs a sync of podium.yaml: the model's changes pushed to a destination.

What the sync reads, where it writes and how are in ``syncs:`` (``podium.syncs.config``);
the task only says when. Its connection's pool (``connection:<to>``) is the task's unless
it names another, so a sync, the extracts and the backfills of one account share one
budget. A source the model read that ran late (``on_late: continue``) makes the sync wait
for the catch-up run, which runs it again on the complete data, unless the sync says
``on_incomplete: push``.

The output counts what was planned, sent, landed and rejected (with reasons and samples);
records the destination rejected are also reported as a failed ``warn`` check, so the run's
summary and its alerts say how many and why. A tripped guard fails the task (terminal:
retrying sends the same plan) and sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.kinds.base import (
    CheckOutcome,
    DatasetRef,
    Job,
    ProjectView,
    TaskContext,
    TaskResult,
)
from podium.settings.describe import Option, Settings

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SyncPlan:
    """What a sync attempt needs, resolved once (picklable)."""

    config: Any  # SyncConfig
    settings: Mapping[str, Any]  # the connection's own settings
    destination: str  # the connection's type
    warehouse: Mapping[str, Any]
    root: str
    secrets: frozenset[str]


class SyncKind:
    name = "sync"
    target = "a sync of podium.yaml's syncs:"
    picks = {"target": "syncs"}  # where the builder picks values
    options = Settings(
        (
            Option("dry_run", {"type": "boolean"},
                   "plan and report only, for this task (the sync's own dry_run otherwise)"),
            Option("override_guard", {"type": "boolean"},
                   "send even when the sync's max_changes guard would refuse (once, on purpose)"),
        ),
        doc="A task that runs one of podium.yaml's syncs (reverse ETL).",
    )  # fmt: skip

    def check_target(self, target: str) -> str | None:
        if _NAME.match(target):
            return None
        return f"sync {target!r} is not a sync name (letters, digits and _), as in syncs:"

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        if task.target in view.syncs:
            return None
        known = ", ".join(sorted(view.syncs)) or "none"
        return (
            f"sync {task.target!r} is not in podium.yaml's syncs: (or has problems reported"
            f" there); syncs: {known}"
        )

    def connection_spent(self, task: Task, syncs: Mapping[str, Any]) -> str | None:
        config = syncs.get(task.target)
        return getattr(config, "connection", None)

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return sync_plan(project, task.target)

    def datasets(
        self, task: Task, project: Project, output: Any = None
    ) -> tuple[list[DatasetRef], list[DatasetRef]]:
        """The table it reads (none from a trigger) and the destination's object."""
        config = project.syncs.get(task.target)
        if config is None:
            return [], []
        inputs = [] if config.from_trigger else [DatasetRef(config.source)]
        return inputs, [DatasetRef(str(config.object), config.connection)]

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium.kinds.model import late_sources

        plan: SyncPlan = job.prepared
        config = plan.config
        late = late_sources(job)
        if late and config.on_incomplete == "wait":
            message = (
                f"sync {config.name}: not sent: {', '.join(late)} ran late, so the model is"
                " incomplete; the catch-up run sends it once the late data lands"
                " (on_incomplete: push sends partial data instead)"
            )
            context.log.warning("%s", message)
            return TaskResult(output={"sync": config.name, "waiting_for": late, "sent": 0,
                                      "summary": message})  # fmt: skip
        dry_run = bool(job.options.get("dry_run", config.dry_run))
        report = sync_now(
            plan,
            run_id=job.key[0],
            payload=job.trigger.get("payload"),
            dry_run=dry_run,
            override_guard=bool(job.options.get("override_guard")),
            log=context.log,
            cancelled=context.cancelled,
        )
        context.log.info("%s", report.summary())
        rejected = CheckOutcome(
            name=f"sync {config.name}: records rejected",
            passed=report.rejected == 0,
            severity="warn",
            failing=report.rejected,
            message=report.summary(),
        )
        return TaskResult(output=report.to_output(), checks=() if dry_run else (rejected,))


def sync_plan(project: Project, name: str) -> SyncPlan:
    """What running sync ``name`` of ``project`` needs (UsageError naming the syncs when
    there is no such sync)."""
    from podium.errors import UsageError

    config = project.syncs.get(name)
    if config is None:
        known = ", ".join(sorted(project.syncs)) or "none: add syncs: to podium.yaml"
        raise UsageError(f"no sync {name!r} in podium.yaml; syncs: {known}")
    settings = dict(project.connections[config.connection])
    kind = str(settings.pop("type"))
    own = {k: v for k, v in settings.items() if k not in ("concurrency", "webhooks")}
    return SyncPlan(config, own, kind, project.warehouse, project.root, project.secrets)


@contextmanager
def _source(plan: SyncPlan, run_id: str, payload: Any) -> Iterator[tuple[Any, Any]]:
    """The warehouse and what to diff in it: the sync's source, or the run's trigger
    payload staged for this run (and unstaged after, whatever happens)."""
    from podium.syncs import trigger_source
    from podium.transforms.warehouse_sql import open_warehouse_sql

    config = plan.config
    with open_warehouse_sql(plan.warehouse, Path(plan.root)) as sql:
        if not config.from_trigger:
            yield sql, config.spec()
            return
        spec = trigger_source.stage(sql, config, run_id, payload)
        try:
            yield sql, spec
        finally:
            trigger_source.unstage(sql, config, run_id)


def preview(plan: SyncPlan, *, payload: Any = None) -> tuple[Any, str | None]:
    """The sync's plan (nothing sent, no state written) and why its guard would refuse
    it (None when it would pass)."""
    from podium.syncs.run import plan_and_verdict

    with _source(plan, "preview", payload) as (sql, spec):
        return plan_and_verdict(sql, spec, plan.config.guard)


def sync_now(
    plan: SyncPlan,
    *,
    run_id: str,
    payload: Any = None,
    dry_run: bool = False,
    override_guard: bool = False,
    log: Any = None,
    cancelled: Any = None,
) -> Any:
    """Runs the sync once: plan, guard, send, record (a ``SyncReport``)."""
    import threading

    from podium import clock
    from podium.core.masking import Masker
    from podium.errors import TerminalTaskError
    from podium.syncs import trigger_source
    from podium.syncs.destination import SyncTarget, WriterEnv, destination_type
    from podium.syncs.run import run_sync

    config = plan.config
    destination = destination_type(plan.destination)
    if destination is None:  # validate refuses it; a plugin gone since
        raise TerminalTaskError(f"sync {config.name}: cannot write to type {plan.destination}")
    guard = None if override_guard else config.guard
    env = WriterEnv(plan.secrets, log, cancelled or threading.Event())
    target = SyncTarget(config.name, config.connection, config.object, config.mode,
                        config.key, tuple(config.fields), config.options)  # fmt: skip
    with _source(plan, run_id, payload) as (sql, spec):
        writer = destination.open(config.connection, plan.settings, target, env)
        if config.from_trigger:
            writer = trigger_source.JsonValues(writer)
        try:
            return run_sync(
                sql, spec, writer, now=clock.now, guard=guard, dry_run=dry_run,
                log=log, cancelled=env.cancelled, counters=env.counters,
                mask=Masker(plan.secrets),
            )  # fmt: skip
        finally:
            writer.close()


KIND = SyncKind()
