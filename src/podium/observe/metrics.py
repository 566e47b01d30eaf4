"""``/metrics``: what podium is doing, in Prometheus' text format.

Two sources, one registry per server (``Metrics``):

- the store, read at scrape time (``StoreCollector``): runs and attempts by status, the
  queue (queued and ready tasks, the oldest ready task's wait) and each engine's last
  heartbeat. Several engines on one PostgreSQL store all answer the same figures.
- what this process saw (``EngineMetrics``, a subscriber to the engine's committed events,
  and the webhook receiver's timing): task durations, ready→claimed waits, event→start
  latency, rows loaded and API requests paced. Sum these over engines.

Labels carry names from podium.yaml and the workflows (workflow, kind, connection, stream,
status, engine owner), never a secret; the whole page also passes the project's mask.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from podium import clock as clocks
from podium.connectors import spend
from podium.core.events import AttemptFinished, AttemptStarted, Event
from podium.core.status import AttemptStatus, RunStatus
from podium.core.workflow import Project, Task
from podium.errors import StoreUnavailableError
from podium.kinds.base import CountsRows, LoadsConnection
from podium.kinds.registry import kind_of
from podium.observe.facts import RunLookup
from podium.store.database import Database

Clock = Callable[[], float]
#: task durations: a second to two hours
TASK_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
#: waits and latencies: a millisecond to ten minutes
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
_KEEP_STARTS = 10_000  # attempts whose start we remember (those in flight, in practice)


class StoreCollector(Collector):
    """Gauges read from the store at each scrape: a handful of indexed aggregate queries."""

    def __init__(self, db: Database, clock: Clock = clocks.time) -> None:
        self.db, self.clock = db, clock

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("podium_store_up", "1 when the store answered this scrape")
        try:
            families = self._read(self.clock())
        except StoreUnavailableError:
            up.add_metric([], 0.0)
            return [up]
        up.add_metric([], 1.0)
        return [up, *families]

    def _read(self, now: float) -> list[Metric]:
        read = self.db.read()
        runs = _by_status(
            "podium_runs", "runs by status", RunStatus,
            read.fetchall("SELECT status, COUNT(*) FROM runs GROUP BY status"),
        )  # fmt: skip
        attempts = _by_status(
            "podium_attempts", "attempts by status", AttemptStatus,
            read.fetchall("SELECT status, COUNT(*) FROM attempts GROUP BY status"),
        )  # fmt: skip
        queued = read.fetchone("SELECT COUNT(*) FROM task_runs WHERE status = 'queued'")
        ready = read.fetchone(
            "SELECT COUNT(*), MIN(ready_at) FROM task_runs"
            " WHERE ready_at IS NOT NULL AND ready_at <= ?",
            (now,),
        )
        engines = read.fetchall("SELECT owner, heartbeat_at FROM engines ORDER BY owner")
        budgets = read.fetchall(
            "SELECT key, tokens, capacity, rate, updated_at FROM rate_budgets ORDER BY key"
        )
        oldest = float(ready[1]) if ready and ready[1] is not None else None
        return [
            runs,
            attempts,
            _gauge(
                "podium_tasks_queued",
                "tasks waiting to run: for their upstream tasks, a retry delay or a worker",
                int(queued[0]) if queued else 0,
            ),
            _gauge(
                "podium_tasks_ready",
                "tasks ready to run now and not yet claimed by an engine",
                int(ready[0]) if ready else 0,
            ),
            _gauge(
                "podium_claim_lag_seconds",
                "how long the oldest ready task has waited to be claimed (0: none waits)",
                max(0.0, now - oldest) if oldest is not None else 0.0,
            ),
            _heartbeats(engines),
            *_budgets(budgets, now),
        ]


class Metrics:
    """One server's registry: the store's gauges and this process's histograms and counters."""

    def __init__(self, db: Database, *, clock: Clock = clocks.time) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(db, clock))
        r = self.registry
        self.task_seconds = Histogram(
            "podium_task_duration_seconds",
            "attempts that ended in this engine: start to end",
            ["workflow", "kind", "status"], buckets=TASK_BUCKETS, registry=r,
        )  # fmt: skip
        self.claim_wait = Histogram(
            "podium_claim_wait_seconds",
            "tasks this engine claimed: ready to claimed",
            ["workflow"], buckets=WAIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.event_to_start = Histogram(
            "podium_event_to_start_seconds",
            "runs an event or a webhook started: the event stored (webhook received) to the"
            " run's first attempt started",
            ["trigger", "workflow"], buckets=WAIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.webhook_ack = Histogram(
            "podium_webhook_ack_seconds",
            "webhook deliveries this server acknowledged (2xx): request received to answer",
            ["connection"], buckets=WAIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.rows_loaded = Counter(
            "podium_rows_loaded",
            "rows extract tasks of this engine loaded into the warehouse",
            ["connection", "stream"], registry=r,
        )  # fmt: skip
        self.api_requests = Counter(
            "podium_api_requests",
            "requests a connection's rate limiter let through in this process",
            ["connection"], registry=r,
        )  # fmt: skip
        self.api_wait = Counter(
            "podium_api_wait_seconds",
            "seconds a connection's rate limiter held requests back in this process",
            ["connection"], registry=r,
        )  # fmt: skip
        self._stop_listening = spend.add_listener(self._paced)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def close(self) -> None:
        self._stop_listening()

    def _paced(self, connection: str, waited: float) -> None:
        self.api_requests.labels(connection).inc()
        if waited > 0:
            self.api_wait.labels(connection).inc(waited)


class EngineMetrics:
    """Turns an engine's committed events into ``Metrics`` (run on an ``EventWorker``)."""

    def __init__(self, metrics: Metrics, project: Project, db: Database) -> None:
        self.metrics, self.db = metrics, db
        self.runs = RunLookup(db, project)
        self._started: OrderedDict[tuple[str, str, int], float] = OrderedDict()
        self._first_seen: OrderedDict[str, None] = OrderedDict()

    def handle(self, events: Sequence[Event], at: float) -> None:
        for event in events:
            if isinstance(event, AttemptStarted):
                self._started_attempt(event, at)
            elif isinstance(event, AttemptFinished):
                self._finished_attempt(event, at)

    def _started_attempt(self, e: AttemptStarted, at: float) -> None:
        self._started[(e.run_id, e.task_id, e.attempt)] = at
        while len(self._started) > _KEEP_STARTS:
            self._started.popitem(last=False)
        workflow, _ = self.runs.task(e.run_id, e.task_id)
        if e.ready_at is not None:
            self.metrics.claim_wait.labels(workflow).observe(max(0.0, at - e.ready_at))
        self._first_start(e, workflow)

    def _first_start(self, e: AttemptStarted, workflow: str) -> None:
        """Event → start, once per run: when this is the run's first attempt."""
        facts = self.runs.facts(e.run_id)
        kind = facts.trigger.get("type") if facts else None
        if facts is None or kind not in ("event", "webhook") or e.run_id in self._first_seen:
            return
        self._first_seen[e.run_id] = None
        while len(self._first_seen) > _KEEP_STARTS:
            self._first_seen.popitem(last=False)
        read = self.db.read()
        row = read.fetchone(
            "SELECT a.started_at, (SELECT MIN(started_at) FROM attempts WHERE run_id = ?)"
            " FROM attempts a WHERE a.run_id = ? AND a.task_id = ? AND a.number = ?",
            (e.run_id, e.run_id, e.task_id, e.attempt),
        )
        if row is None or row[0] is None or float(row[0]) > float(row[1]):
            return  # another task of the run started first (maybe on another engine)
        if kind == "event":
            origin = read.fetchone(
                "SELECT at FROM events WHERE seq = ?", (facts.trigger.get("seq"),)
            )
        else:
            origin = read.fetchone(
                "SELECT received_at FROM webhook_inbox WHERE id = ?",
                (facts.trigger.get("inbox_id"),),
            )
        if origin is not None and origin[0] is not None:
            latency = max(0.0, float(row[0]) - float(origin[0]))
            self.metrics.event_to_start.labels(kind, workflow).observe(latency)

    def _finished_attempt(self, e: AttemptFinished, at: float) -> None:
        started = self._started.pop((e.run_id, e.task_id, e.attempt), None)
        workflow, task = self.runs.task(e.run_id, e.task_id)
        kind = task.kind if task is not None else "unknown"
        if started is not None:
            self.metrics.task_seconds.labels(workflow, kind, e.status).observe(
                max(0.0, at - started)
            )
        if task is not None and e.status == "succeeded":
            self._count_rows(e, task)

    def _count_rows(self, e: AttemptFinished, task: Task) -> None:
        """Rows per stream, from a kind that loads a connection and counts them."""
        try:
            kind = kind_of(task.kind)
        except Exception:  # noqa: BLE001 - a kind this process does not have
            return
        if not isinstance(kind, CountsRows) or not isinstance(kind, LoadsConnection):
            return
        connection = kind.connection_of(task) or task.target
        row = self.db.read().fetchone(
            "SELECT output FROM task_runs WHERE run_id = ? AND task_id = ?", (e.run_id, e.task_id)
        )
        try:
            output = json.loads(row[0]) if row and row[0] else None
        except ValueError:
            return
        for stream, loaded in kind.rows_loaded(output):
            self.metrics.rows_loaded.labels(connection, stream).inc(loaded)


def _by_status(name: str, doc: str, statuses: Iterable[Any], rows: list[Any]) -> GaugeMetricFamily:
    counts = {str(s): 0 for s in statuses}
    counts.update({str(status): int(n) for status, n in rows})
    family = GaugeMetricFamily(name, doc, labels=["status"])
    for status, n in sorted(counts.items()):
        family.add_metric([status], n)
    return family


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _budgets(rows: list[Any], now: float) -> list[GaugeMetricFamily]:
    """Each shared API budget (``rate_budgets``: one per account and limit, named without
    secrets): how much of it is spent now, as every engine and worker on the store sees it."""
    used = GaugeMetricFamily(
        "podium_api_budget_used_ratio",
        "the share of an API account's budget spent now (0: full, 1: empty), all processes",
        labels=["budget"],
    )
    size = GaugeMetricFamily(
        "podium_api_budget_capacity", "an API account's budget: its bucket size", labels=["budget"]
    )
    for key, tokens, capacity, rate, updated_at in rows:
        capacity = float(capacity)
        level = min(capacity, float(tokens) + float(rate) * max(0.0, now - float(updated_at)))
        used.add_metric([str(key)], 1.0 - level / capacity if capacity > 0 else 0.0)
        size.add_metric([str(key)], capacity)
    return [used, size]


def _heartbeats(rows: list[Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "podium_engine_heartbeat_timestamp_seconds",
        "each engine's last heartbeat (seconds since the epoch), from the engines table",
        labels=["engine"],
    )
    for owner, at in rows:
        family.add_metric([str(owner)], float(at))
    return family
