"""``executor: {type: dask}``: attempts run on a Dask cluster.

The engine still decides what runs: it claims attempts (pools, priorities, leases) exactly
as with threads, and hands each claimed attempt to the cluster as one Dask task whose key
names the attempt (``podium-RUN-TASK-ATTEMPT``), with the task's priority and, if its pool
maps to them, Dask resources. The engine claims no more than twice the cluster's threads (nor its ``workers``),
so attempts never wait long in Dask's queue holding their pool's slots.

What the engine's guarantees need from the cluster:

- **A lost worker** (its process killed, its host gone): Dask reports ``KilledWorker`` for
  the attempt's task, which ends ``lost`` and is retried as a new attempt. Dask must not
  rerun it on its own: the engine's LocalCluster is started with
  ``distributed.scheduler.allowed-failures: 0``, and for an existing cluster the scheduler
  needs the same setting (``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0``); when it is
  not set, a rerun is noticed when it starts (a second ``STARTED`` for one attempt) and
  cancelled, and the attempt still ends ``lost``.
- **Fencing**: whatever ends an attempt the engine no longer holds (a late result of a
  timed-out attempt, a stale worker) reaches the store's lease check and is refused.
- **Timeouts and cancel** release the attempt's future; the worker stops the attempt
  (``podium.execution.worker``). A killed engine's futures are released by the scheduler
  when its client goes, so its attempts stop too before another engine adopts them.
- **Logs** stream back as events (``worker.LOGS``) while the attempt runs.
- **Code** reaches the workers per project version (``ship``): ``auto`` (the default) reads
  the project's folder where a worker sees it at the same path and otherwise a copy of its
  code files the engine sends (``shipping``; scattered once per version and passed to each
  task); a worker imports the code afresh whenever the version changes.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from podium.core.workflow import DaskSettings
from podium.errors import UsageError
from podium.execution.base import Done, Job, JobResult, Key, LogSink
from podium.execution.shipping import Packer, fingerprint
from podium.execution.worker import LOGS, STARTED, run_attempt

logger = logging.getLogger("podium.executor.dask")
_RECENT = 10_000  # finished attempts whose late log lines are still taken
_CAPACITY_EVERY = 2.0  # seconds between looks at the cluster's size
_BACKOFF_MAX = 30.0  # seconds between tries to reach a scheduler that stays away


def dask_key(key: Key) -> str:
    run_id, task_id, attempt = key
    return f"podium-{run_id}-{task_id}-{attempt}"


class DaskExecutor:
    def __init__(
        self,
        settings: DaskSettings,
        root: str,
        log_sink: LogSink,
    ) -> None:
        try:
            import dask
            import distributed as _distributed
        except ImportError:
            raise UsageError(
                "executor dask needs Dask's distributed package: pip install 'podium[dask]'"
            ) from None
        distributed: Any = _distributed  # untyped: its calls checked by the tests
        self._distributed = distributed
        self.settings, self._sink = settings, log_sink
        self._root = Path(root)
        self._cluster: Any = None
        self.client: Any
        if settings.address:
            try:
                self.client = distributed.Client(
                    settings.address, timeout="10s", set_as_default=False
                )
            except OSError as exc:
                raise UsageError(
                    f"executor dask: cannot reach the scheduler at {settings.address} ({exc});"
                    " start it (dask scheduler) or fix engine: executor: address"
                ) from None
            self._check_allowed_failures()
        else:
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = distributed.LocalCluster(
                    n_workers=settings.workers,
                    threads_per_worker=settings.threads_per_worker,
                    processes=True,
                    dashboard_address=None,
                    resources=dict(settings.worker_resources) or None,
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self._cluster, set_as_default=False)
        self._guard = threading.Lock()
        self._pending: dict[Key, tuple[Any, Done]] = {}
        self._started_on: dict[Key, str] = {}
        self._recent: OrderedDict[Key, None] = OrderedDict()
        self._packer = Packer(self._root) if settings.ship != "never" else None
        self._shipped: tuple[str, Any] = ("", None)  # version, scattered future of the zip
        self._cancelling: set[Key] = set()  # attempts this engine stopped
        self._threads = 0  # the cluster's threads, as last seen by the looker
        self._outage = 0  # failed looks in a row
        self._closing = threading.Event()
        self._queued: set[Key] = set()  # handed over by the engine, not yet submitted
        self._outbox: queue.SimpleQueue[tuple[Job, Done] | None] = queue.SimpleQueue()
        self.client.subscribe_topic(LOGS, self._on_log)
        self.client.subscribe_topic(STARTED, self._on_started)
        # Both talk to the scheduler, which may be away: never on the engine loop's thread,
        # so a scheduler outage cannot hold up a step (and with it lease renewal).
        self._look()
        for target, name in ((self._hand_over, "submit"), (self._keep_looking, "capacity")):
            threading.Thread(target=target, name=f"podium-dask-{name}", daemon=True).start()

    @property
    def scheduler_address(self) -> str:
        return str(self.client.scheduler.address)

    # -- the Executor protocol ---------------------------------------------------------
    def submit(self, job: Job, done: Done) -> None:
        with self._guard:
            self._queued.add(job.key)
        self._outbox.put((job, done))

    def _hand_over(self) -> None:
        """Submits jobs in the order the engine gave them, on a thread of its own: shipping
        a new version of the code waits for the workers to take it."""
        while (item := self._outbox.get()) is not None:
            job, done = item
            with self._guard:
                dropped = job.key in self._cancelling
                if dropped:  # cancelled before it reached the cluster
                    self._queued.discard(job.key)
                    self._cancelling.discard(job.key)
            if dropped:
                done(JobResult(job.key, False, error="cancelled", retryable=True))
            else:
                self._submit(job, done)

    def _submit(self, job: Job, done: Done) -> None:
        try:
            version, code = self._code()
            resources = self.settings.resources.get(job.pool or "")
            future = self.client.submit(
                run_attempt,
                job,
                code,
                version,
                self.settings.stop_grace,
                self.settings.ship,
                key=dask_key(job.key),
                pure=False,
                priority=job.priority,
                resources=dict(resources) if resources else None,
            )
        except UsageError as exc:  # the project's code cannot be shipped: say what to do
            self._unqueue(job.key)
            done(JobResult(job.key, False, error=str(exc), retryable=False))
            return
        except Exception as exc:  # noqa: BLE001 - the cluster away: the attempt is lost
            self._unqueue(job.key)
            done(_lost(job.key, f"the Dask scheduler did not take it ({exc})"))
            return
        with self._guard:
            self._queued.discard(job.key)
            self._pending[job.key] = (future, done)
            self._remember(job.key)
            cancelled_meanwhile = job.key in self._cancelling
        if cancelled_meanwhile:
            future.cancel()
        future.add_done_callback(lambda f: self._ended(job.key, f))

    def _unqueue(self, key: Key) -> None:
        with self._guard:
            self._queued.discard(key)
            self._cancelling.discard(key)

    def cancel(self, key: Key) -> None:
        with self._guard:
            held = self._pending.get(key)
            if held is not None or key in self._queued:  # queued: dropped from the outbox
                self._cancelling.add(key)
        if held is not None:
            held[0].cancel()  # released: the worker stops the attempt (worker.py)

    def shutdown(self, wait: bool) -> None:
        self._closing.set()
        self._outbox.put(None)
        with self._guard:
            futures = [f for f, _ in self._pending.values()]
        if not wait and futures:
            with contextlib.suppress(Exception):
                self.client.cancel(futures)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close(timeout=10)

    def slots(self) -> int | None:
        """Attempts to hand over at once: twice the cluster's threads (a queue deep enough
        that a worker finishing one finds the next already there), as last seen; none
        while the scheduler is away (the tasks wait in the store, for this engine once it
        is back or for another)."""
        if self.client.status != "running":
            return 0
        return 2 * self._threads

    # -- the scheduler's health, looked at from a thread of its own --------------------
    def _keep_looking(self) -> None:
        wait = _CAPACITY_EVERY
        while not self._closing.wait(wait):
            wait = self._look()

    def _look(self) -> float:
        """Reads the cluster's size; reconnects to a scheduler that went away (a client
        gives up after its timeout, and a restarted scheduler is a new one). Returns the
        seconds until the next look: backing off while the scheduler stays away."""
        if self.client.status in ("closing", "closed") and self.settings.address:
            return self._reconnect()
        try:
            self._threads = sum(self.client.nthreads().values())
        except Exception as exc:  # noqa: BLE001 - the scheduler away
            self._threads = 0
            self._away(exc)
            return _CAPACITY_EVERY
        if self._outage:
            logger.warning("the Dask scheduler at %s is back", self.scheduler_address)
            self._outage = 0
        return _CAPACITY_EVERY

    def _reconnect(self) -> float:
        try:
            client = self._distributed.Client(
                self.settings.address, timeout="5s", set_as_default=False
            )
        except Exception as exc:  # noqa: BLE001 - still away
            return self._away(exc)
        client.subscribe_topic(LOGS, self._on_log)
        client.subscribe_topic(STARTED, self._on_started)
        old, self.client = self.client, client
        self._shipped = ("", None)  # the code goes again to the new scheduler's workers
        with contextlib.suppress(Exception):
            old.close(timeout=1)
        logger.warning("reconnected to the Dask scheduler at %s", self.settings.address)
        self._outage = 0
        return 0.0  # read its size at once

    def _away(self, exc: BaseException) -> float:
        self._outage += 1
        wait = min(_CAPACITY_EVERY * 2.0 ** (self._outage - 1), _BACKOFF_MAX)
        if self._outage == 1 or wait == _BACKOFF_MAX and self._outage % 10 == 0:
            logger.warning(
                "the Dask scheduler at %s is away (%s): podium hands it no attempts and"
                " tries again every %.0fs at most",
                self.settings.address or "the local cluster",
                exc,
                _BACKOFF_MAX,
            )
        return wait

    # -- what comes back ---------------------------------------------------------------
    def _ended(self, key: Key, future: Any) -> None:
        status = future.status
        if status == "finished":
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - fetched from a worker that died since
                result = _lost(key, f"its result could not be fetched ({exc})")
        elif status == "cancelled" and key in self._cancelling:
            result = JobResult(key, False, error="cancelled", retryable=True)
        elif status == "cancelled":  # not by us: its code's copies went with their workers
            result = _lost(key, "Dask dropped it (the workers holding its inputs died)")
        else:
            result = self._failure(key, future.exception())
        self._finish(key, result)

    def _failure(self, key: Key, exc: BaseException | None) -> JobResult:
        name = type(exc).__name__
        if name == "KilledWorker":
            where = self._started_on.get(key)
            on = f" ({where})" if where else ""
            return _lost(key, f"the Dask worker running it died{on}")
        if name == "AttemptStopped":
            return JobResult(key, False, error="stopped on the worker", retryable=True)
        return JobResult(key, False, error=f"on Dask: {name}: {exc}", retryable=True)

    def _finish(self, key: Key, result: JobResult) -> None:
        with self._guard:
            held = self._pending.pop(key, None)
            self._started_on.pop(key, None)
            self._cancelling.discard(key)
        if held is not None:
            held[1](result)

    def _on_started(self, event: Any) -> None:
        message = event[1]
        key: Key = tuple(message["key"])  # type: ignore[assignment]
        with self._guard:
            if key not in self._pending:
                return
            first = self._started_on.get(key)
            if first is None:
                self._started_on[key] = message["worker"]
                return
            future = self._pending[key][0]
        # a second start: Dask reran it after its worker died, so the attempt is lost
        future.cancel()
        self._finish(key, _lost(key, f"the Dask worker running it died ({first})"))

    def _on_log(self, event: Any) -> None:
        raw_key, stream, line = event[1]
        key: Key = tuple(raw_key)  # type: ignore[assignment]
        if key in self._recent:
            self._sink(key, stream, line)

    def _remember(self, key: Key) -> None:
        self._recent[key] = None
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    # -- code --------------------------------------------------------------------------
    def _code(self) -> tuple[str, Any]:
        """The version of the project's code and what carries it to the workers: the
        scattered zip (``ship: auto`` or ``always``; a worker that sees the project's folder
        reads that under ``auto``) or nothing (``never``: the workers read the folder). A
        worker imports the code afresh when its version changes."""
        if self._packer is None:
            return fingerprint(self._root), None
        version, code = self._packer.current()
        shipped, future = self._shipped
        if (
            version != shipped or future is None or future.status != "finished"
        ):  # new, or lost with its workers
            future = self.client.scatter(code, hash=False, broadcast=True)
            self._shipped = (version, future)
        return version, self._shipped[1]

    def _check_allowed_failures(self) -> None:
        try:
            allowed = self.client.run_on_scheduler(_allowed_failures)
        except Exception:  # noqa: BLE001 - an old or locked-down scheduler: say nothing
            return
        if allowed:
            logger.warning(
                "the Dask scheduler at %s reruns a task whose worker died (allowed-failures=%s):"
                " podium notices the rerun and retries the attempt itself; start the scheduler"
                " with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0 so it does not start",
                self.settings.address,
                allowed,
            )


def _allowed_failures(dask_scheduler: Any) -> int:
    return int(dask_scheduler.allowed_failures)


def _lost(key: Key, why: str) -> JobResult:
    return JobResult(key, False, error=f"lost: {why}", retryable=True, lost=True)
