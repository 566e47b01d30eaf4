"""Workflows, their tasks and their triggers, as plain frozen values.

Both the YAML loader and the Python API build these; the engine only reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from podium.core.alerts import NotifyRule
from podium.core.deadline import Deadline
from podium.core.status import Catchup, OnLate, TriggerRule


@dataclass(frozen=True)
class Location:
    """Where a definition was written, for error messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more tries after the first; delay grows by ``backoff`` up to ``max_delay``.

    With ``backoff`` above 1 the actual wait is drawn between half and all of the computed
    delay (jitter), so many tasks failing together do not retry in lock-step; a constant
    delay (``backoff`` 1) is kept exact.
    """

    retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    max_delay: float = 3600.0

    def delay_before(self, attempt: int, draw: float) -> float:
        """Seconds to wait before ``attempt`` (2 = the first retry); ``draw`` in [0, 1)."""
        base = min(self.delay * self.backoff ** max(attempt - 2, 0), self.max_delay)
        return base * (0.5 + 0.5 * draw) if self.backoff != 1.0 else base


@dataclass(frozen=True)
class Task:
    """One node of a workflow.

    ``kind`` names what runs it (``run``, ``shell``, ``workflow``; later ``extract`` …) and
    ``target`` is that kind's argument: ``module:function``, a command, a workflow name.
    ``func`` is set when the Python API defined a ``run`` task from a function object.
    """

    id: str
    kind: str
    target: str
    depends_on: tuple[str, ...] = ()
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    retry: RetryPolicy = RetryPolicy()
    timeout: float | None = None
    pool: str | None = None
    priority: int = 0
    late_after: float | None = None
    on_late: OnLate = OnLate.WAIT
    produces: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # the kind's own (extract: streams)
    location: Location | None = None
    func: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ScheduleTrigger:
    cron: str
    timezone: str = "UTC"
    catchup: Catchup = Catchup.LATEST
    location: Location | None = None

    @property
    def key(self) -> str:
        return f"schedule:{self.cron}@{self.timezone}"


@dataclass(frozen=True)
class EventTrigger:
    """Starts on a named event whose payload has every ``filters`` field equal."""

    event: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    location: Location | None = None

    def matches(self, name: str, payload: Mapping[str, Any]) -> bool:
        return name == self.event and all(
            payload.get(key) == value for key, value in self.filters.items()
        )


@dataclass(frozen=True)
class WorkflowTrigger:
    """Starts when another workflow finishes with ``status`` (success, failed or any)."""

    workflow: str
    status: str = "success"
    location: Location | None = None

    def matches(self, workflow: str, status: str) -> bool:
        wanted = {"success": "succeeded", "failed": "failed"}.get(self.status)
        return workflow == self.workflow and (self.status == "any" or status == wanted)


@dataclass(frozen=True)
class AssetTrigger:
    """Starts when any listed asset is updated, or, with ``all_of``, once all have been.

    With ``all_of`` and a ``deadline`` (seconds after the first update seen), the run
    starts anyway when the deadline passes, and its params name the missing assets.
    """

    assets: tuple[str, ...]
    all_of: bool = False
    deadline: float | None = None
    location: Location | None = None

    @property
    def key(self) -> str:
        return "asset:" + ",".join(self.assets)


@dataclass(frozen=True)
class WebhookTrigger:
    """Starts on each verified delivery to ``connection`` whose topic matches one of
    ``topics`` (globs such as ``orders/*``; none: any topic) and whose JSON payload has
    every ``filters`` path (dotted, ``customer.tags``) equal to its value. ``params`` maps
    workflow params to payload paths. Matching lives in ``podium.webhooks.match``."""

    connection: str
    topics: tuple[str, ...] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None


Trigger = ScheduleTrigger | EventTrigger | WorkflowTrigger | AssetTrigger | WebhookTrigger


@dataclass(frozen=True)
class Workflow:
    name: str
    tasks: tuple[Task, ...]
    triggers: tuple[Trigger, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    max_active_runs: int | None = None
    location: Location | None = None
    deadline: Deadline | None = None  # succeeded by then each day, or SlaMissed
    notify: tuple[NotifyRule, ...] = ()  # ``notify:`` in the workflow file: this one only

    def task(self, task_id: str) -> Task:
        return self._by_id[task_id]

    @cached_property
    def _by_id(self) -> dict[str, Task]:
        return {task.id: task for task in self.tasks}

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(task.id for task in self.tasks)


@dataclass(frozen=True)
class DaskSettings:
    """``engine: {executor: {type: dask, ...}}``: attempts run on a Dask cluster, an existing
    one (``address``) or a ``distributed.LocalCluster`` the engine starts (``workers``)."""

    address: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    #: how the project's code reaches the workers: ``auto`` (the project's folder where a
    #: worker sees it, else a copy the engine sends), ``always`` (the copy), ``never``
    ship: str = "auto"
    stop_grace: float = 10.0  # a stopped attempt's thread has this long before its worker goes
    resources: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # pool → Dask's
    worker_resources: Mapping[str, float] = field(default_factory=dict)  # a LocalCluster's


@dataclass(frozen=True)
class EngineSettings:
    lease_timeout: float = 30.0
    executor: str = "threads"
    workers: int = 32
    poll_interval: float = 1.0
    dask: DaskSettings | None = None  # set when executor is dask


@dataclass(frozen=True)
class Project:
    """A loaded project: its settings and every workflow, keyed by name."""

    root: str
    store_url: str
    pools: Mapping[str, int]
    engine: EngineSettings
    workflows: Mapping[str, Workflow]
    secrets: frozenset[str] = frozenset()
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notifications: tuple[NotifyRule, ...] = ()
    warehouse: Mapping[str, Any] = field(default_factory=dict)
    server: Mapping[str, Any] = field(default_factory=dict)  # the UI's url, access control
    outgoing_webhooks: tuple[Mapping[str, Any], ...] = ()
    models: Any = None  # the SQL models under models/ (podium.transforms), read once
    checks: tuple[Any, ...] = ()  # the checks of checks/ and beside the models
    syncs: Mapping[str, Any] = field(default_factory=dict)  # podium.yaml's syncs (SyncConfig)
    retention: Any = None  # podium.yaml's retention (store.retention.RetentionPolicy)
    lineage: Mapping[str, Any] = field(default_factory=dict)  # podium.yaml's lineage:

    def workflow(self, name: str) -> Workflow:
        return self.workflows[name]
