"""The task-kind protocol and what flows through it.

The engine decides *when* a task runs; its kind decides *what* running it means. A kind is
one module under ``podium.kinds`` (or a plugin's, by entry point ``podium.kinds``) with one
object that satisfies ``Kind``:

    name        the key a task is written with (``extract: shopify``)
    target      what that key's value is, for messages (``a connection in podium.yaml``)
    options     its own settings, described once (``podium.settings.describe``): reading
                them with file:line problems and their JSON Schema both come from it
    check_target(target)               the value's form, while one file is read
    check(task, workflow, view)        against the rest of the project, once all is read
    prepare(task, workflow, project)   the resolved, picklable settings a worker needs (once
                                       per task: no worker reloads the project)
    run(job, context)                  does the work; returns a ``TaskResult``

A ``TaskResult`` carries the task's output (what downstream tasks see as ``upstream``) and
its facts: the assets it updated (with rows and completeness) and the checks it evaluated.
The engine records those facts as events; it never looks at the output, and nothing outside
a kind's module compares its name.

A kind may also say where the builder's pickers take a value from: ``picks`` maps
``target`` or one of its options to a list of the project (``sources``, ``streams``,
``models``, ``selections``, ``checks``, ``syncs``, ``workflows``, ``pools``).

Optional abilities are separate small protocols: ``StartsWorkflow`` (the engine starts a
child run instead of handing the task to an executor), ``LoadsConnection`` (the task reads a
connection: its pool, its dataset), ``SpendsConnection`` (the task spends a connection's API
budget without loading it: a sync), ``Expands`` (one task written becomes several),
``HasLineage`` (the datasets its tasks read and write, for lineage events), ``CountsRows``
(the rows per stream a finished attempt loaded, for ``/metrics``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError

if TYPE_CHECKING:
    from podium.settings.describe import Settings

Key = tuple[str, str, int]  # run id, task id, attempt number
LogSink = Callable[[Key, str, str], None]  # key, stream (log|stdout|stderr), line


@dataclass(frozen=True)
class Job:
    """Everything needed to run one attempt, picklable for another process.

    ``prepared`` is what the kind's ``prepare`` resolved for this task; ``target`` and
    ``options`` are the task's own, as written.
    """

    key: Key
    workflow: str
    kind: str
    target: str
    project_root: str
    params: Mapping[str, Any]
    logical_time: str
    upstream: Mapping[str, Any]
    late_upstreams: tuple[str, ...] = ()
    trigger: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    prepared: Any = None
    pool: str | None = None
    priority: int = 0
    #: where the task's Python code is imported from when not ``project_root`` (a Dask
    #: worker's copy of the project's code at the version the engine runs)
    code_root: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this task in this run."""
        return f"{self.key[0]}:{self.key[1]}"


@dataclass(frozen=True)
class Unprepared:
    """A job's ``prepared`` when its kind's ``prepare`` raised: the attempt fails with this
    error (retried or not by the one rule) instead of the engine."""

    error: str
    retryable: bool


@dataclass(frozen=True)
class AssetChange:
    """An asset a task updated, and what changed in it (``rows``, ``inserted``, …).

    ``late_sources`` (in ``stats``) names late upstream tasks whose data is missing: the
    asset is incomplete until they land."""

    name: str
    stats: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckOutcome:
    """One check a task evaluated."""

    name: str
    passed: bool
    severity: str
    failing: int = 0
    message: str = ""
    #: a few of the failing rows (what the UI shows beside a failed check)
    sample: tuple[Mapping[str, Any], ...] = ()

    def to_event(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "severity": self.severity,
            "failing": self.failing,
            "message": self.message,
            "sample": tuple(dict(row) for row in self.sample),
        }


@dataclass(frozen=True)
class TaskResult:
    """What one attempt did: its ``output`` (JSON-serialisable; downstream tasks read it as
    ``ctx.upstream[task_id]``) and the facts the engine records."""

    output: Any = None
    assets: tuple[AssetChange, ...] = ()
    checks: tuple[CheckOutcome, ...] = ()
    #: False when the attempt succeeded without updating what the task declares it
    #: ``produces`` (a model waiting for a late source to land)
    produced: bool = True


@dataclass(frozen=True)
class JobResult:
    """How an attempt ended, as an executor reports it."""

    key: Key
    ok: bool
    output: str | None = None  # JSON text of the result's output
    error: str | None = None
    retryable: bool = True
    assets: tuple[AssetChange, ...] = ()
    checks: tuple[CheckOutcome, ...] = ()
    produced: bool = True
    #: the attempt's worker died under it (a Dask worker lost): ``lost``, not failed, so
    #: the task is retried without spending one of its retries
    lost: bool = False


class TaskContext:
    """What a task's code receives: who it is, its inputs, and a logger (``podium.Context``)."""

    def __init__(self, job: Job, sink: LogSink, cancelled: threading.Event) -> None:
        self.run_id, self.task_id, self.attempt = job.key
        self.workflow = job.workflow
        self.idempotency_key = job.idempotency_key
        self.params: Mapping[str, Any] = job.params
        self.logical_time = datetime.fromisoformat(job.logical_time)
        self.upstream: Mapping[str, Any] = job.upstream
        self.late_upstreams = job.late_upstreams
        self.trigger: Mapping[str, Any] = job.trigger
        self.cancelled = cancelled
        self.log = logging.Logger(f"podium.task.{self.task_id}", logging.DEBUG)
        self.log.addHandler(_SinkHandler(job.key, sink))
        self.sink = sink

    def __repr__(self) -> str:
        return f"<TaskContext {self.workflow}/{self.run_id}/{self.task_id}#{self.attempt}>"


class _SinkHandler(logging.Handler):
    def __init__(self, key: Key, sink: LogSink) -> None:
        super().__init__()
        self.key, self.sink = key, sink
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink(self.key, "log", self.format(record))


class ChecksFailed(TerminalTaskError):
    """Error-severity checks failed: the attempt fails for good, and every check's outcome
    still reaches the engine (``result``)."""

    def __init__(self, message: str, result: TaskResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class ProjectView:
    """What a kind's project-wide check may look at (``podium validate``)."""

    root: Path
    pools: Mapping[str, int]
    workflows: Mapping[str, Workflow]
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: Any = None  # the project's ModelSet (transforms), when models/ loaded cleanly
    syncs: Mapping[str, Any] = field(default_factory=dict)  # podium.yaml's syncs (SyncConfig)
    warehouse: Mapping[str, Any] = field(default_factory=dict)  # podium.yaml's warehouse
    _imported: dict[str, Callable[..., Any] | str] = field(default_factory=dict)

    def resolve(self, target: str) -> Callable[..., Any] | str:
        """The callable ``target`` names, or why it cannot be imported (cached)."""
        from podium.errors import UsageError
        from podium.kinds.callables import resolve_callable

        if target not in self._imported:
            try:
                self._imported[target] = resolve_callable(target, self.root)
            except UsageError as exc:
                self._imported[target] = str(exc)
        return self._imported[target]


class Kind(Protocol):
    """One task kind; see the module docstring."""

    name: str
    target: str
    options: Settings

    def check_target(self, target: str) -> str | None:
        """What is wrong with the target's form, or None."""

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        """What is wrong with the task given the rest of the project, or None."""

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        """The picklable settings ``run`` needs, resolved once."""

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        """Does the work; raises to fail the attempt (``podium.errors.is_retryable``)."""


@runtime_checkable
class StartsWorkflow(Protocol):
    """A kind whose task starts a run of another workflow and ends when that run does."""

    def child_workflow(self, task: Task) -> str: ...


@runtime_checkable
class LoadsConnection(Protocol):
    """A kind whose task reads one connection of podium.yaml (its pool, its dataset)."""

    def connection_of(self, task: Task) -> str | None: ...


@runtime_checkable
class SpendsConnection(Protocol):
    """A kind whose task spends a connection's API budget without loading it (a sync
    writes to it): it takes that connection's pool unless it names its own."""

    def connection_spent(self, task: Task, syncs: Mapping[str, Any]) -> str | None: ...


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a task reads or writes, for lineage: a table of the warehouse
    (``connection`` None, ``name`` its ``schema.table``) or an object of a connection (a
    source's stream, a sync's destination object)."""

    name: str
    connection: str | None = None


@runtime_checkable
class HasLineage(Protocol):
    """A kind whose tasks read and write datasets that lineage events name."""

    def datasets(
        self, task: Task, project: Project, output: Any = None
    ) -> tuple[list[DatasetRef], list[DatasetRef]]:
        """(inputs, outputs): as the task declares them before it runs (``output`` None),
        or as its finished attempt's output (JSON-decoded) says. Tables its attempt
        reported as assets are added to the outputs by the caller."""
        ...


@runtime_checkable
class CountsRows(Protocol):
    """A kind whose finished attempt says how many rows it loaded per stream."""

    def rows_loaded(self, output: Any) -> list[tuple[str, int]]:
        """(stream, rows) from the attempt's output (JSON-decoded)."""
        ...


@runtime_checkable
class Expands(Protocol):
    """A kind whose task, as written, becomes several tasks when the project loads."""

    def expand(self, workflow: Workflow, project: ExpandContext) -> Workflow: ...


@dataclass(frozen=True)
class ExpandContext:
    """What an expanding kind may read: the models, checks and connections, the project's
    folder and its warehouse."""

    models: Any
    checks: tuple[Any, ...]
    connections: Mapping[str, Mapping[str, Any]]
    datasets: Mapping[str, frozenset[str]]  # dataset → ids of tasks that load it
    root: Path | None = None
    warehouse: Mapping[str, Any] = field(default_factory=dict)
