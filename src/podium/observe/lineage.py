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

import json
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
from podium.kinds.base import DatasetRef, HasLineage
from podium.kinds.registry import kind_of
from podium.observe.facts import RunLookup
from podium.store.database import Database
from podium.version import __version__

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
        kind = _lineaged(task)
        if task is None or kind is None:
            return
        inputs, outputs = self.names.of(kind.datasets(task, self.names.project))
        self._emit(RunState.START, e.run_id, e.task_id, e.attempt, workflow, at, inputs, outputs)

    def _finished(self, e: AttemptFinished, at: float, assets: list[str]) -> None:
        workflow, task = self.runs.task(e.run_id, e.task_id)
        kind = _lineaged(task)
        if task is None or kind is None or e.status == "lost":
            return  # a lost attempt's engine is gone; the new attempt has its own events
        found = kind.datasets(task, self.names.project, self._output(e))
        inputs, outputs = self.names.of(found)
        if assets:
            outputs = self.names.merge(outputs, [self.names.table(a) for a in assets])
        state = RunState.COMPLETE if e.status == "succeeded" else RunState.FAIL
        facets: dict[str, Any] = {}
        if state is RunState.FAIL:
            message = f"{e.status}: {e.error or 'no error message'}"
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message, "python")
        self._emit(state, e.run_id, e.task_id, e.attempt, workflow, at, inputs, outputs, facets)

    def _output(self, e: AttemptFinished) -> Any:
        """The finished attempt's output (None when it failed or says nothing)."""
        row = self.db.read().fetchone(
            "SELECT output FROM task_runs WHERE run_id = ? AND task_id = ?", (e.run_id, e.task_id)
        )
        try:
            return json.loads(row[0]) if row and row[0] else None
        except ValueError:
            return None

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


def _lineaged(task: Task | None) -> HasLineage | None:
    """The task's kind, when it names the datasets its tasks read and write."""
    if task is None:
        return None
    try:
        kind = kind_of(task.kind)
    except Exception:  # noqa: BLE001 - a kind this process does not have: no lineage
        return None
    return kind if isinstance(kind, HasLineage) else None


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

    def of(self, found: tuple[list[DatasetRef], list[DatasetRef]]) -> Datasets:
        """A kind's dataset references as OpenLineage datasets, in their namespaces."""
        inputs, outputs = found
        return [self._input(ref) for ref in inputs], [self._output(ref) for ref in outputs]

    def _input(self, ref: DatasetRef) -> InputDataset:
        if ref.connection is None:
            return self.read(ref.name)
        return InputDataset(namespace=self._space(ref.connection), name=ref.name)

    def _output(self, ref: DatasetRef) -> OutputDataset:
        if ref.connection is None:
            return self.table(ref.name)
        return OutputDataset(namespace=self._space(ref.connection), name=ref.name)

    def _space(self, connection: str) -> str:
        return connection_namespace(connection, self.project.connections.get(connection, {}))

    def merge(self, known: list[OutputDataset], found: list[OutputDataset]) -> list[OutputDataset]:
        names = {(d.namespace, d.name) for d in known}
        return known + [d for d in found if (d.namespace, d.name) not in names]


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
