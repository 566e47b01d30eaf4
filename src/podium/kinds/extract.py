"""``extract: CONNECTION`` — loads a source connection's streams into the warehouse.

    - id: shopify
      extract: shop            # a connection in podium.yaml
      streams: [orders]        # default: every stream the connection has
      full_refresh: true       # reload from the start instead of from the saved cursor

Each stream's load commits its rows and its cursor together; the task reports every table
it loaded as an updated asset with what changed in it. An extract task takes its
connection's pool (``connection:NAME``) unless it names another.
"""

from __future__ import annotations

from typing import Any

from podium.connectors.registry import is_source, source_type_names, stream_names
from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError
from podium.kinds.base import (
    AssetChange,
    DatasetRef,
    Job,
    ProjectView,
    TaskContext,
    TaskResult,
)
from podium.settings.describe import NAMES, Option, Settings
from podium.settings.yaml_lines import did_you_mean


class ExtractKind:
    name = "extract"
    target = "a connection in podium.yaml"
    picks = {"target": "sources", "streams": "streams"}  # where the builder picks values
    options = Settings(
        (
            Option(
                "streams",
                NAMES,
                "the streams to load (default: every stream of the connection)",
                read=lambda fields, key: list(fields.names(key)),
            ),
            Option(
                "full_refresh",
                {"type": "boolean"},
                "reload every stream from the start instead of from its saved cursor",
            ),
        ),
        doc="A task that loads a source connection's streams into the warehouse.",
    )

    def check_target(self, target: str) -> str | None:
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        settings = view.connections.get(task.target)
        if settings is None:
            hint = did_you_mean(task.target, view.connections) or "; declare it under connections:"
            return f"extracts unknown connection {task.target!r}{hint}"
        if not is_source(settings):
            kinds = ", ".join(source_type_names())
            return (
                f"connection {task.target!r} is not a source (type: {settings.get('type')!r};"
                f" extract reads {kinds})"
            )
        known = stream_names(settings)
        wanted = task.options.get("streams") or []
        unknown = [s for s in wanted if known is not None and s not in known]
        if unknown:
            hint = did_you_mean(unknown[0], known or [])
            return f"connection {task.target!r} has no stream {unknown[0]!r}{hint}"
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        from podium.connectors.extract import ExtractPlan  # the loader: where extracts run

        settings = project.connections.get(task.target)
        if settings is None:
            return None  # run says so: the project changed under a running engine
        return ExtractPlan(
            task.target,
            settings,
            project.warehouse,
            project.root,
            project.secrets,
            project.store_url,
        )

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        from podium.connectors.extract import ExtractPlan, extract_plan, task_output

        plan = job.prepared
        if not isinstance(plan, ExtractPlan):
            raise TerminalTaskError(
                f"no connection {job.target!r} in podium.yaml; declare it under connections:"
            )
        log = context.log
        results = extract_plan(
            plan,
            streams=job.options.get("streams") or None,
            full_refresh=bool(job.options.get("full_refresh")),
            on_loaded=lambda r: _log_loaded(log, r),
            logger=log,
        )
        assets = {name: stats for r in results for name, stats in r.assets.items()}
        return TaskResult(
            output=task_output(results),
            assets=tuple(AssetChange(name, stats) for name, stats in assets.items()),
        )

    def connection_of(self, task: Task) -> str | None:
        return task.target

    def datasets(
        self, task: Task, project: Project, output: Any = None
    ) -> tuple[list[DatasetRef], list[DatasetRef]]:
        """The connection's streams it reads: those it loaded, or those it names."""
        loaded = [stream for stream, _ in self.rows_loaded(output)] if output else []
        streams = loaded or _named_streams(task)
        return [DatasetRef(s, task.target) for s in streams], []

    def rows_loaded(self, output: Any) -> list[tuple[str, int]]:
        streams = output.get("streams") if isinstance(output, dict) else None
        entries = streams if isinstance(streams, list) else []
        return [
            (entry["stream"], int(entry.get("loaded") or 0))
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("stream"), str)
        ]


def _named_streams(task: Task) -> list[str]:
    streams = task.options.get("streams") or []
    return [str(s) for s in streams] if isinstance(streams, list | tuple) else []


def _log_loaded(log: Any, r: Any) -> None:
    log.info(
        "%s: %d received, %d inserted, %d updated, %d quarantined in %.1fs",
        r.stream,
        r.received,
        r.counts.inserted,
        r.counts.updated,
        r.quarantined,
        r.seconds,
    )


KIND = ExtractKind()
