"""OpenLineage run events for extract, model, check and sync tasks.

Configured by podium.yaml's ``lineage:`` (``url:`` an OpenLineage HTTP endpoint such as
Marquez, or ``file:`` a file that gets one JSON event per line). For each attempt of those
kinds the engine commits, one ``START`` when it starts and one ``COMPLETE`` (or ``FAIL``)
when it ends, sharing a run id made from (podium run, task, attempt):

    job         namespace ``lineage.namespace`` (podium), name ``<workflow>.<task>``
    extract     inputs: the source's streams (namespace ``<type>://<api host>``, name the
                stream); outputs: the raw tables it loaded
    model       inputs: the tables its SQL reads; output: its table
    check       inputs: the tables its checks read
    sync        input: the model or table it reads; output: the destination's object
                (namespace ``<type>://<connection>``)

Warehouse tables are named ``schema.table`` in the warehouse's namespace:
``duckdb://<absolute path of the file>`` or ``postgres://host:port/database`` (never a user
or password). Events are built with openlineage-python's classes and sent by its
``HttpTransport`` / ``FileTransport`` on the emitter's own thread (``EventWorker``): a slow
or failing endpoint never holds up or fails a task, and its errors are reported once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport, create_token_provider
from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG
from openlineage.client.transport.transport import Transport

from podium.connectors.warehouse import DEFAULT_PATH
from podium.core.events import AssetUpdated, AttemptFinished, AttemptStarted, Event
from podium.core.workflow import Project, Task
from podium.observe.facts import RunLookup
from podium.observe.metrics import streams_loaded
from podium.store.database import Database
from podium.version import __version__

KINDS = ("extract", "model", "check", "sync")
PRODUCER = f"urn:podium:{__version__}"  # who wrote the event: podium, this version
DEFAULT_NAMESPACE = "podium"
_RUN_IDS = uuid.UUID("6a0f4c52-8d0e-4b8e-9d3f-0d1e2f3a4b5c")  # uuid5 namespace of attempts
Datasets = tuple[list[InputDataset], list[OutputDataset]]


def make_transport(settings: Mapping[str, Any], root: Path) -> Transport:
    """The transport podium.yaml's ``lineage:`` asks for (already checked by config)."""
    if settings.get("file"):
        path = Path(str(settings["file"]))
        path = path if path.is_absolute() else root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileTransport(FileConfig(log_file_path=str(path), append=True))
    auth: dict[str, Any] = {}
    if settings.get("api_key"):
        auth = {"type": "api_key", "apiKey": str(settings["api_key"])}
    return HttpTransport(
        HttpConfig(
            url=str(settings["url"]),
            endpoint=str(settings.get("endpoint", "api/v1/lineage")),
            timeout=float(settings.get("timeout", 5.0)),
            auth=create_token_provider(auth),
            # two retries, not five: a dead endpoint costs ~1.5 s an event, not ~9 s
            retry={**DEFAULT_RETRY_CONFIG, "total": 2, "backoff_factor": 0.5},
        )
    )


class Lineage:
    """Turns an engine's committed events into OpenLineage run events (on an ``EventWorker``)."""

    def __init__(
        self,
        project: Project,
        db: Database,
        transport: Transport,
        *,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self.project, self.db, self.namespace = project, db, namespace
        self.client = OpenLineageClient(transport=transport)
        self.runs = RunLookup(db, project)
        self.names = DatasetNames(project)

    def handle(self, events: Sequence[Event], at: float) -> None:
        assets: dict[tuple[str, str], list[str]] = defaultdict(list)
        for event in events:
            if isinstance(event, AssetUpdated):
                assets[(event.run_id, event.task_id)].append(event.asset)
        for event in events:
            if isinstance(event, AttemptStarted):
                self._started(event, at)
            elif isinstance(event, AttemptFinished):
                self._finished(event, at, assets.get((event.run_id, event.task_id), []))

    def close(self) -> None:
        self.client.close(5.0)

    def _started(self, e: AttemptStarted, at: float) -> None:
        workflow, task = self.runs.task(e.run_id, e.task_id)
        if task is None or task.kind not in KINDS:
            return
        inputs, outputs = self.names.declared(task)
        self._emit(RunState.START, e.run_id, e.task_id, e.attempt, workflow, at, inputs, outputs)

    def _finished(self, e: AttemptFinished, at: float, assets: list[str]) -> None:
        workflow, task = self.runs.task(e.run_id, e.task_id)
        if task is None or task.kind not in KINDS or e.status == "lost":
            return  # a lost attempt's engine is gone; the new attempt has its own events
        inputs, outputs = self.names.declared(task)
        if task.kind == "extract":
            inputs = self.names.streams(task.target, self._streams(e) or task_streams(task))
        if assets:
            outputs = self.names.merge(outputs, [self.names.table(a) for a in assets])
        state = RunState.COMPLETE if e.status == "succeeded" else RunState.FAIL
        facets: dict[str, Any] = {}
        if state is RunState.FAIL:
            message = f"{e.status}: {e.error or 'no error message'}"
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message, "python")
        self._emit(state, e.run_id, e.task_id, e.attempt, workflow, at, inputs, outputs, facets)

    def _streams(self, e: AttemptFinished) -> list[str]:
        row = self.db.read().fetchone(
            "SELECT output FROM task_runs WHERE run_id = ? AND task_id = ?", (e.run_id, e.task_id)
        )
        return [stream for stream, _ in streams_loaded(row[0] if row else None)]

    def _emit(
        self,
        state: RunState,
        run_id: str,
        task_id: str,
        attempt: int,
        workflow: str,
        at: float,
        inputs: list[InputDataset],
        outputs: list[OutputDataset],
        facets: dict[str, Any] | None = None,
    ) -> None:
        event = RunEvent(
            eventType=state,
            eventTime=datetime.fromtimestamp(at, UTC).isoformat(),
            run=Run(runId=str(attempt_run_id(run_id, task_id, attempt)), facets=facets or {}),
            job=Job(namespace=self.namespace, name=f"{workflow}.{task_id}"),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )
        self.client.emit(event)


def attempt_run_id(run_id: str, task_id: str, attempt: int) -> uuid.UUID:
    """The OpenLineage run id of one attempt: the same for its START and its end."""
    return uuid.uuid5(_RUN_IDS, f"{run_id}/{task_id}/{attempt}")


def task_streams(task: Task) -> list[str]:
    streams = task.options.get("streams") or []
    return [str(s) for s in streams] if isinstance(streams, list | tuple) else []


class DatasetNames:
    """OpenLineage dataset names for a project's warehouse tables, sources and destinations."""

    def __init__(self, project: Project) -> None:
        self.project = project
        warehouse = project.warehouse
        self.prefix = str(warehouse.get("schema_prefix", "") or "")
        self.warehouse = warehouse_namespace(warehouse, Path(project.root))

    def table(self, name: str) -> OutputDataset:
        return OutputDataset(namespace=self.warehouse, name=self.prefix + name.lower())

    def read(self, name: str) -> InputDataset:
        return InputDataset(namespace=self.warehouse, name=self.prefix + name.lower())

    def streams(self, connection: str, streams: Sequence[str]) -> list[InputDataset]:
        space = connection_namespace(connection, self.project.connections.get(connection, {}))
        return [InputDataset(namespace=space, name=s) for s in streams]

    def declared(self, task: Task) -> Datasets:
        """What a task reads and writes, as its definition says (before it runs)."""
        if task.kind == "extract":
            return self.streams(task.target, task_streams(task)), []
        if task.kind == "model":
            return self._model(task.target)
        if task.kind == "check":
            return self._check(task.target), []
        if task.kind == "sync":
            return self._sync(task.target)
        return [], []

    def merge(self, known: list[OutputDataset], found: list[OutputDataset]) -> list[OutputDataset]:
        names = {(d.namespace, d.name) for d in known}
        return known + [d for d in found if (d.namespace, d.name) not in names]

    def _model(self, name: str) -> Datasets:
        models = getattr(self.project.models, "models", {}) or {}
        model = models.get(name)
        reads = sorted(model.reads) if model is not None else []
        return [self.read(r) for r in reads], [self.table(name)]

    def _check(self, selector: str) -> list[InputDataset]:
        from podium.transforms.checks import select_checks

        try:
            chosen = select_checks(Path(self.project.root), self.project.models, selector)
        except Exception:  # noqa: BLE001 - the task itself reports a bad selector
            return []
        tables = sorted({c.model for c in chosen if c.model})
        return [self.read(t) for t in tables]

    def _sync(self, name: str) -> Datasets:
        config = self.project.syncs.get(name)
        if config is None:
            return [], []
        inputs = [] if config.from_trigger else [self.read(config.source)]
        settings = self.project.connections.get(config.connection, {})
        space = connection_namespace(config.connection, settings)
        return inputs, [OutputDataset(namespace=space, name=str(config.object))]


def warehouse_namespace(warehouse: Mapping[str, Any], root: Path) -> str:
    """``duckdb://<absolute file>`` or ``postgres://host:port/database``; no credentials."""
    if warehouse.get("type", "duckdb") == "postgres":
        url = urlsplit(str(warehouse.get("url", "")))
        host = url.hostname or "localhost"
        return f"postgres://{host}:{url.port or 5432}{url.path or '/'}"
    path = Path(str(warehouse.get("path", DEFAULT_PATH)))
    return f"duckdb://{(path if path.is_absolute() else root / path).resolve()}"


def connection_namespace(name: str, settings: Mapping[str, Any]) -> str:
    """``<type>://<host[:port]>`` of the connection's ``base_url`` (``<type>://<name>``
    without one): which API a stream comes from, never a credential."""
    kind = str(settings.get("type", name))
    base = urlsplit(str(settings.get("base_url", "")))
    if base.hostname:
        port = f":{base.port}" if base.port else ""
        return f"{kind}://{base.hostname}{port}"
    return f"{kind}://{name}"
