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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.kinds.base import CheckOutcome, Job, ProjectView, TaskContext, TaskResult
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
        config = project.syncs[task.target]
        settings = dict(project.connections[config.connection])
        kind = str(settings.pop("type"))
        own = {k: v for k, v in settings.items() if k not in ("concurrency", "webhooks")}
        return SyncPlan(config, own, kind, project.warehouse, project.root, project.secrets)

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium import clock
        from podium.kinds.model import late_sources
        from podium.syncs import trigger_source
        from podium.syncs.destination import SyncTarget, WriterEnv, destination_type
        from podium.syncs.diff import SyncSpec
        from podium.syncs.run import run_sync
        from podium.transforms.warehouse_sql import open_warehouse_sql

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
        destination = destination_type(plan.destination)
        if destination is None:  # validate refuses it; a plugin gone since
            from podium.errors import TerminalTaskError

            raise TerminalTaskError(f"sync {config.name}: cannot write to type {plan.destination}")
        dry_run = bool(job.options.get("dry_run", config.dry_run))
        guard = None if job.options.get("override_guard") else config.guard
        env = WriterEnv(plan.secrets, context.log, context.cancelled)
        run_id = job.key[0]
        with open_warehouse_sql(plan.warehouse, Path(plan.root)) as sql:
            if config.from_trigger:
                spec = trigger_source.stage(sql, config, run_id, job.trigger.get("payload"))
            else:
                spec = SyncSpec(config.name, config.source, config.key, config.fields, config.mode)
            target = SyncTarget(config.name, config.connection, config.object, config.mode,
                                config.key, tuple(config.fields), config.options)  # fmt: skip
            writer = destination.open(config.connection, plan.settings, target, env)
            if config.from_trigger:
                writer = trigger_source.JsonValues(writer)
            try:
                report = run_sync(
                    sql, spec, writer, now=clock.now, guard=guard, dry_run=dry_run,
                    log=context.log, cancelled=context.cancelled, counters=env.counters,
                )  # fmt: skip
            finally:
                writer.close()
            if config.from_trigger:
                trigger_source.unstage(sql, config, run_id)
        context.log.info("%s", report.summary())
        rejected = CheckOutcome(
            name=f"sync {config.name}: records rejected",
            passed=report.rejected == 0,
            severity="warn",
            failing=report.rejected,
            message=report.summary(),
        )
        return TaskResult(output=report.to_output(), checks=() if dry_run else (rejected,))


KIND = SyncKind()
