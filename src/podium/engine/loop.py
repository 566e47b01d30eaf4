"""The engine loop: one thread that turns stored state into attempts and back.

Each ``step`` is one store transaction: record the attempts that ended (and their logs),
dispatch events to triggers, fire schedules, recover expired leases, notice late and
timed-out attempts, then claim ready tasks. Attempts are handed to the executor only after
that transaction commits, so nothing runs that the store does not know about.

The loop sleeps until the earliest of: an attempt ending, a wake-up from another process
(a UNIX datagram for SQLite, LISTEN/NOTIFY for PostgreSQL), a retry coming due, a deadline,
a schedule tick, or the poll interval. Nothing waits on a fixed sensor interval.

When the store is away (``StoreUnavailableError``: a restarting server, a lock held too long,
a full disk), the step's transaction rolled back, so the engine puts back what it took for
it (finished attempts, log lines) and what it changed in memory, waits (backing off up to
5 s) and steps again; attempts already running go on meanwhile. The first step after an
outage renews every lease first and gives up the leases of claims it never saw commit.
"""

from __future__ import annotations

import os
import queue
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from podium import clock
from podium.core.events import AttemptFinished, Event
from podium.core.status import AttemptStatus
from podium.core.workflow import Project, Task
from podium.engine import crashpoints, state
from podium.engine.jobs import Jobs
from podium.engine.journal import Journal
from podium.engine.state import Claim, Graphs, Outcome
from podium.engine.triggers import Triggers
from podium.errors import StoreUnavailableError
from podium.execution.base import Executor, Job, JobResult, Key, make_executor
from podium.kinds.base import StartsWorkflow
from podium.kinds.registry import kind_of
from podium.store.database import Database, Tx
from podium.store.lock import EngineLock
from podium.store.outage import Backoff

Clock = Callable[[], float]
_LogRow = tuple[str, str, int, float, str, str]  # run, task, attempt, at, stream, line


@dataclass
class _Tracked:
    claim: Claim
    deadline: float | None
    late_at: float | None
    child_run: bool = False
    late_marked: bool = False


@dataclass
class EngineStats:
    steps: int = 0
    attempts_started: int = 0
    stale_refused: int = 0
    recovered: int = 0
    store_failures: int = 0  # steps the store was unavailable for


@dataclass(frozen=True)
class Outage:
    """The store has been unavailable to this engine since ``since`` (its clock)."""

    since: float
    reason: str


@dataclass
class _Memo:
    """The engine's memory before a step: what a rolled-back step goes back to."""

    inflight: dict[Key, _Tracked]
    stats: EngineStats
    housekeeping: float
    renewal: float
    now: float


@dataclass
class _Step:
    """One step: what it took in, and what to do once its transaction has committed."""

    token: str
    memo: _Memo
    results: list[JobResult]
    logs: list[_LogRow]
    emitted: list[Event] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    cancels: list[Key] = field(default_factory=list)  # executor.cancel, after the commit
    sealed: bool = False  # the body ran to its end: an error now may follow a landed COMMIT


class Engine:
    """Runs the workflows of one project against one store.

    ``scope_root`` limits claims to one run tree (what ``podium run`` executes); without it
    the engine serves every run and fires schedules (what ``podium up`` does).
    """

    def __init__(
        self,
        project: Project,
        db: Database,
        *,
        executor: Executor | None = None,
        clock: Clock = clock.time,
        rng: random.Random | None = None,
        scope_root: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.project, self.db, self.clock = project, db, clock
        self.graphs = Graphs(project.workflows)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.scope_root = scope_root
        db.mask.add(*project.secrets)  # what the store writes is masked (Journal.stored)
        self.settings = project.engine
        self.stats = EngineStats()
        self._rng = rng or random.Random()
        self._done: queue.SimpleQueue[JobResult] = queue.SimpleQueue()
        self._logs: list[_LogRow] = []
        self._logs_guard = threading.Lock()
        self._wake = threading.Event()
        self._poked = True  # housekeeping on the first step
        self._inflight: dict[Key, _Tracked] = {}
        self.jobs = Jobs(project, self.graphs, db.mask)
        self._last_housekeeping = 0.0
        self._last_renewal = 0.0
        self._draining = False
        self._retry: list[JobResult] = []  # attempt ends a rolled-back step took in
        self._doubt: _Step | None = None  # a step that failed at COMMIT: did it land?
        self._lock: EngineLock | None = None
        self._unlisten: Callable[[], None] | None = None
        self._cancels: list[Key] = []  # attempts to stop once the step commits
        self._after_outage = False
        #: the store is away (None while it answers); when the last step committed
        self.outage: Outage | None = None
        self.last_step_at: float | None = None
        #: called with the reason when the store goes away, with None when it is back
        self.on_outage: Callable[[str | None], None] | None = None
        self.executor = executor or make_executor(self.settings, project.root, self._on_log)
        self.triggers = Triggers(project, self.graphs, fire_schedules=scope_root is None)
        #: called after each commit with the events it recorded (progress, UI, notifiers)
        self.on_events: Callable[[list[Event]], None] | None = None
        #: called at housekeeping: the project when it was reloaded (``podium up``)
        self.reload: Callable[[], Project | None] | None = None

    # -- life cycle ----------------------------------------------------------------
    def start(self, what: str = "engine") -> None:
        """Takes the store (SQLite: exclusively) and recovers what a dead engine left."""
        crashpoints.arm()
        if self.db.dialect == "sqlite" and self.db.path != ":memory:":
            self._lock = EngineLock(self.db.path)
            self._lock.acquire(what)
        now = self.clock()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO engines (owner, pid, host, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (self.owner, os.getpid(), socket.gethostname(), now, now),
            )
            if self._lock is not None:
                # We hold the only lock: whoever else holds a lease is dead.
                tx.execute(
                    "UPDATE attempts SET lease_expires_at = 0 WHERE status = 'running'"
                    " AND owner <> ?",
                    (self.owner,),
                )
        self._unlisten = self.db.listen(self.poke)

    def close(self) -> None:
        if self._unlisten:
            self._unlisten()
        self.executor.shutdown(wait=False)
        try:
            with self.db.transaction() as tx:
                tx.execute("DELETE FROM engines WHERE owner = ?", (self.owner,))
        except StoreUnavailableError:
            pass  # a stale row of a stopped engine; its leases expire as any dead one's
        if self._lock:
            self._lock.release()

    def adopt(self, project: Project) -> None:
        """Runs ``project`` from now on (reloaded after its workflow files changed): what
        the engine derived from the old one is derived again; runs under way go on."""
        self.project = project
        self.graphs = Graphs(project.workflows)
        self.jobs = Jobs(project, self.graphs, self.db.mask)
        self.triggers = Triggers(project, self.graphs, fire_schedules=self.scope_root is None)
        self.db.mask.add(*project.secrets)

    def poke(self) -> None:
        """Something changed in the store: wake up and look (thread-safe)."""
        self._poked = True
        self._wake.set()

    def drain(self) -> None:
        """Stop claiming; running attempts finish and are recorded."""
        self._draining = True
        self._wake.set()

    def wait(self, delay: float) -> None:
        """Sleeps up to ``delay`` seconds, less if an attempt ends or something pokes us."""
        if delay > 0 and self._done.empty():
            self._wake.wait(delay)
        self._wake.clear()

    @property
    def busy(self) -> bool:
        return bool(self._inflight)

    def run(self, until: Callable[[], bool], stop: threading.Event | None = None) -> None:
        """Steps until ``until()`` is true or ``stop`` is set; waits out store outages."""
        backoff = Backoff(draw=self._rng.random)
        pause = stop or threading.Event()
        while not pause.is_set():
            try:
                if until():  # may read the store too
                    return
                delay = self.step()
            except StoreUnavailableError as exc:
                self._store_away(str(exc))
                pause.wait(backoff.next())
                continue
            if self.outage is not None:
                self._store_back()
                backoff.reset()
            if delay > 0 and self._done.empty():
                self._wake.wait(delay)
            self._wake.clear()

    def _store_away(self, reason: str) -> None:
        self.stats.store_failures += 1
        self._after_outage = True
        if self.outage is None:
            self.outage = Outage(self.clock(), reason)
            if self.on_outage is not None:
                self.on_outage(reason)

    def _store_back(self) -> None:
        self.outage = None
        if self.on_outage is not None:
            self.on_outage(None)

    # -- one step --------------------------------------------------------------------
    def step(self) -> float:
        """One transaction's worth of work; returns seconds until the next is needed.

        Safe to call again after it raised: a step whose transaction rolled back leaves the
        engine as it was before (the attempt ends and logs it took are taken again), and
        one whose COMMIT landed but reported an error is recognised by its token in
        ``engines.last_step`` and finished (its attempts handed to the executor). While the
        store cannot say which, the next step asks again before doing anything else.
        """
        now = self.clock()
        self.stats.steps += 1
        if self._doubt is not None:
            self._settle(self._doubt)  # raises while the store cannot answer
        s = _Step(uuid.uuid4().hex, self._memo(now), self._take_results(), self._take_logs())
        tick_due = self.triggers.next_tick is not None and now >= self.triggers.next_tick
        housekeeping = (
            self._poked or tick_due or now - self._last_housekeeping >= self.settings.poll_interval
        )
        self._poked = False
        if housekeeping and self.reload is not None and not self._draining:
            reloaded = self.reload()
            if reloaded is not None:
                self.adopt(reloaded)
        self._cancels = s.cancels
        try:
            with self.db.transaction() as tx:
                j = Journal(tx, now)
                self._write_logs(tx, s.logs)
                self._finish(j, s.results)
                if housekeeping or self._after_outage:
                    self._housekeep(j)
                self._watch_inflight(j)
                if not self._draining:
                    s.jobs = self._claim(j)
                j.flush()
                s.emitted = j.emitted
                self._seal(tx, s.token)
                s.sealed = True
        except BaseException:
            if not self._landed_anyway(s):
                raise
        else:
            self._after_commit(s)
        return self._next_delay(now)

    def _memo(self, now: float) -> _Memo:
        return _Memo(
            {key: replace(t) for key, t in self._inflight.items()},
            replace(self.stats),
            self._last_housekeeping,
            self._last_renewal,
            now,
        )

    def _seal(self, tx: Tx, token: str) -> None:
        """Writes the step's token: read back after an error, it says the COMMIT landed."""
        if tx.execute("UPDATE engines SET last_step = ? WHERE owner = ?", (token, self.owner)):
            return
        now = self.clock()  # our row is gone (never started, or removed): register again
        tx.execute(
            "INSERT INTO engines (owner, pid, host, started_at, heartbeat_at, last_step)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self.owner, os.getpid(), socket.gethostname(), now, now, token),
        )

    def _landed_anyway(self, s: _Step) -> bool:
        """The step raised: undo it in memory, unless its COMMIT landed all the same."""
        if not s.sealed:  # it failed before COMMIT: rolled back
            self._roll_back(s)
            return False
        self._doubt = s
        try:
            return self._settle(s)
        except Exception:  # noqa: BLE001 - the store cannot say yet: the next step asks
            return False

    def _settle(self, s: _Step) -> bool:
        """Asks the store whether step ``s`` committed, and finishes or undoes it."""
        row = self.db.read().fetchone(
            "SELECT last_step FROM engines WHERE owner = ?", (self.owner,)
        )
        self._doubt = None
        if row is not None and row[0] == s.token:
            self._after_commit(s)
            return True
        self._roll_back(s)
        return False

    def _roll_back(self, s: _Step) -> None:
        """Back to the memory of before step ``s``, whose transaction did not commit."""
        self._inflight = s.memo.inflight
        self.stats = replace(s.memo.stats, steps=self.stats.steps)
        # leases are renewed first thing after a failed step (an outage may have been long)
        self._last_housekeeping, self._last_renewal = s.memo.housekeeping, 0.0
        self._poked = True
        self.triggers.forget()
        self._retry = s.results + self._retry
        with self._logs_guard:
            self._logs = s.logs + self._logs

    def _after_commit(self, s: _Step) -> None:
        self.last_step_at = s.memo.now
        for key in s.cancels:
            self.executor.cancel(key)
        self._forget_ended(s.emitted)
        if any(isinstance(e, AttemptFinished) for e in s.emitted):
            crashpoints.reached("state_committed")
        if s.jobs:
            crashpoints.reached("task_claimed")
        for job in s.jobs:  # first: a failing on_events must not strand claimed attempts
            self.executor.submit(job, self._report)
        if self.on_events is not None and s.emitted:
            self.on_events(s.emitted)

    def _report(self, result: JobResult) -> None:
        self._done.put(result)
        self._wake.set()

    def _take_results(self) -> list[JobResult]:
        results, self._retry = self._retry, []
        while True:
            try:
                results.append(self._done.get_nowait())
            except queue.Empty:
                return results

    def _on_log(self, key: Key, stream: str, line: str) -> None:
        with self._logs_guard:
            self._logs.append((key[0], key[1], key[2], self.clock(), stream, line))

    def _take_logs(self) -> list[_LogRow]:
        with self._logs_guard:
            logs, self._logs = self._logs, []
        return logs

    def _write_logs(self, tx: Tx, logs: list[_LogRow]) -> None:
        if tx.mask:
            logs = [(r, t, a, at, s, tx.mask(line)) for r, t, a, at, s, line in logs]
        tx.executemany(
            "INSERT INTO logs (run_id, task_id, attempt, at, stream, line)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            logs,
        )

    def _finish(self, j: Journal, results: list[JobResult]) -> None:
        outcomes = []
        for r in results:
            if self._inflight.pop(r.key, None) is None:
                self.stats.stale_refused += 1  # timed out or cancelled already: ignored
                continue
            status = (
                AttemptStatus.SUCCEEDED
                if r.ok
                else AttemptStatus.LOST
                if r.lost
                else AttemptStatus.FAILED
            )
            outcomes.append(
                Outcome(
                    *r.key, status, r.output, r.error, r.retryable, r.assets, r.checks, r.produced
                )
            )
        self._end(j, outcomes, owner=self.owner)

    def _end(self, j: Journal, outcomes: list[Outcome], owner: str | None) -> None:
        stale = state.finish_attempts(
            j, outcomes, owner=owner, graphs=self.graphs, draw=self._rng.random
        )
        self.stats.stale_refused += len(stale)

    def _housekeep(self, j: Journal) -> None:
        now = j.now
        self._last_housekeeping = now
        if now - self._last_renewal >= self.settings.lease_timeout / 3:
            state.renew_leases(j, self.owner, now + self.settings.lease_timeout)
            j.tx.execute("UPDATE engines SET heartbeat_at = ? WHERE owner = ?", (now, self.owner))
            self._last_renewal = now
        self._after_outage = False
        lost = state.expired_attempts(j, self.scope_root, self.graphs)
        if lost:
            self.stats.recovered += len(lost)
            self._end(j, lost, owner=None)
        self._forget_children_ended_elsewhere(j)
        self._stop_cancelled(j)
        self.triggers.dispatch(j)

    def _forget_ended(self, emitted: list[Event]) -> None:
        """Attempts we hold that this step ended without us (a ``workflow`` task whose
        child run finished) leave the in-flight set."""
        for e in emitted:
            if isinstance(e, AttemptFinished):
                self._inflight.pop((e.run_id, e.task_id, e.attempt), None)

    def _forget_children_ended_elsewhere(self, j: Journal) -> None:
        """A child run may end on another engine: ask the store about ours."""
        for key in [k for k, t in self._inflight.items() if t.child_run]:
            row = j.tx.fetchone(
                "SELECT status FROM attempts WHERE run_id = ? AND task_id = ? AND number = ?", key
            )
            if row is None or row[0] != "running":
                self._inflight.pop(key, None)

    def _stop_cancelled(self, j: Journal) -> None:
        if not self._inflight:
            return
        rows = j.tx.fetchall(
            "SELECT a.run_id, a.task_id, a.number FROM attempts a JOIN runs r ON r.id = a.run_id"
            " WHERE a.status = 'running' AND a.owner = ? AND r.cancel_requested = 1",
            (self.owner,),
        )
        outcomes = []
        for run_id, task_id, number in rows:
            key = (run_id, task_id, int(number))
            tracked = self._inflight.pop(key, None)
            if tracked and not tracked.child_run:
                self._cancels.append(key)
            outcomes.append(
                Outcome(run_id, task_id, int(number), AttemptStatus.CANCELLED, error="cancelled")
            )
        self._end(j, outcomes, owner=self.owner)

    def _watch_inflight(self, j: Journal) -> None:
        now, outcomes, children = j.now, [], []
        for key, tracked in list(self._inflight.items()):
            task = self.graphs.workflow(tracked.claim.workflow).task(key[1])
            if tracked.deadline is not None and now >= tracked.deadline:
                error = f"timed out after {task.timeout:g}s"
                outcomes.append(Outcome(*key, AttemptStatus.TIMED_OUT, error=error))
            elif tracked.late_at is not None and now >= tracked.late_at and not tracked.late_marked:
                tracked.late_marked = True
                state.mark_late(j, tracked.claim, self.graphs)
                if task.on_late != "fail":
                    continue
                error = (
                    f"late: still running after late_after={task.late_after:g}s and on_late is fail"
                )
                outcomes.append(Outcome(*key, AttemptStatus.FAILED, error=error, retryable=False))
            else:
                continue
            self._inflight.pop(key, None)
            if tracked.child_run:
                children.append(key)
            else:
                self._cancels.append(key)
        self._end(j, outcomes, owner=self.owner)
        for run_id, task_id, _ in children:
            for child in state.active_child_runs(j, run_id, task_id):
                state.request_cancel(j, child, self.graphs)

    # -- claiming --------------------------------------------------------------------
    def _claim(self, j: Journal) -> list[Job]:
        slots = self.executor.slots()  # none while a cluster's scheduler is away
        wanted = self.settings.workers if slots is None else min(slots, self.settings.workers)
        room = wanted - sum(1 for t in self._inflight.values() if not t.child_run)
        if room <= 0:
            return []
        claims = state.claim(
            j,
            owner=self.owner,
            lease_until=j.now + self.settings.lease_timeout,
            limit=room,
            pools=self.project.pools,
            scope_root=self.scope_root,
            graphs=self.graphs,
        )
        jobs = []
        for c in claims:
            task = self.graphs.workflow(c.workflow).task(c.task_id)
            key = (c.run_id, c.task_id, c.attempt)
            tracked = _Tracked(
                c,
                j.now + task.timeout if task.timeout else None,
                j.now + task.late_after if task.late_after else None,
            )
            self._inflight[key] = tracked
            self.stats.attempts_started += 1
            kind = kind_of(task.kind)
            if isinstance(kind, StartsWorkflow):
                tracked.child_run = True
                self._start_child(j, c, task, kind.child_workflow(task))
            else:
                jobs.append(self.jobs.job(j.tx, c, task))
        return jobs

    def _start_child(self, j: Journal, c: Claim, task: Task, target: str) -> None:
        """A ``workflow`` task: start (or re-attach to) a run of the other workflow; the
        attempt ends when that run does."""
        if state.active_child_runs(j, c.run_id, c.task_id):
            return  # an earlier attempt's run goes on; its end ends this attempt
        tx = j.tx
        info = self.jobs.run_info(tx, c.run_id)
        child_wf = self.graphs.workflow(target)
        state.create_run(
            j,
            child_wf,
            trigger={"type": "workflow_task", "run_id": c.run_id, "task": c.task_id},
            params={**child_wf.params, **task.params},
            logical_time=info.logical_time,
            dedupe_key=f"child:{c.run_id}:{c.task_id}:{c.attempt}",
            parent_run_id=c.run_id,
            parent_task_id=c.task_id,
            root_id=info.root_id,
        )

    def _next_delay(self, now: float) -> float:
        if not self._done.empty() or self._poked:
            return 0.0
        wake = now + self.settings.poll_interval
        for tracked in self._inflight.values():
            for at in (tracked.deadline, None if tracked.late_marked else tracked.late_at):
                if at is not None:
                    wake = min(wake, at)
        scope = " AND root_id = ?" if self.scope_root else ""
        args: tuple[Any, ...] = (now, self.scope_root) if self.scope_root else (now,)
        row = self.db.read().fetchone(
            f"SELECT MIN(ready_at) FROM task_runs WHERE ready_at IS NOT NULL AND ready_at > ?{scope}",
            args,
        )
        if row and row[0] is not None:
            wake = min(wake, float(row[0]))
        if self.triggers.next_tick is not None:
            wake = min(wake, self.triggers.next_tick)
        return max(0.0, wake - now)
