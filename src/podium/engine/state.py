"""The state machine of runs, tasks and attempts, as compare-and-set SQL on one transaction.

Every change an engine makes goes through these functions, inside a transaction it opened.
An attempt's end is written only while the attempt is still ``running`` and, unless the
caller is the store itself (lease expiry, a child run finishing), still leased to the
caller: a fenced-off engine's late write changes nothing.

Readiness is kept as counters on each task (pending / succeeded / failed upstreams), so an
attempt's end touches only its direct dependants, whatever the width of the graph.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from podium.core import events as ev
from podium.core.graph import dependants, downstream
from podium.core.rules import Upstream, decide
from podium.core.status import AttemptStatus, RunStatus, TaskStatus
from podium.core.workflow import Task, Workflow
from podium.engine.journal import Journal
from podium.kinds.base import AssetChange, CheckOutcome

#: an attempt lost to a dead engine is retried this many times without using a retry
MAX_LOST = 5

_FAILURES = (TaskStatus.FAILED, TaskStatus.TIMED_OUT, TaskStatus.UPSTREAM_FAILED)


@dataclass(frozen=True)
class Claim:
    """An attempt this engine now holds the lease of."""

    run_id: str
    task_id: str
    attempt: int
    workflow: str
    late_upstreams: tuple[str, ...]
    ready_at: float | None = None


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, as reported to ``finish_attempts``."""

    run_id: str
    task_id: str
    attempt: int
    status: AttemptStatus
    output: str | None = None  # JSON text
    error: str | None = None
    retryable: bool = True
    assets: tuple[AssetChange, ...] = ()  # the facts the attempt's kind reported
    checks: tuple[CheckOutcome, ...] = ()
    produced: bool = True


@dataclass
class Graphs:
    """Workflows by name, with their dependant maps computed once."""

    workflows: Mapping[str, Workflow]

    def __post_init__(self) -> None:
        self._children: dict[str, dict[str, list[str]]] = {}

    def workflow(self, name: str) -> Workflow:
        return self.workflows[name]

    def knows(self, workflow: str, task_id: str) -> bool:
        """Whether this project has the task: engines of another version of the project
        (a rolling deploy) leave the runs and tasks they do not know to the others."""
        wf = self.workflows.get(workflow)
        try:
            return wf is not None and wf.task(task_id) is not None
        except KeyError:
            return False

    def children(self, name: str) -> dict[str, list[str]]:
        if name not in self._children:
            wf = self.workflows[name]
            self._children[name] = dependants({t.id: t.depends_on for t in wf.tasks})
        return self._children[name]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


# -- runs -----------------------------------------------------------------------------


def create_run(
    j: Journal,
    wf: Workflow,
    *,
    trigger: Mapping[str, Any],
    params: Mapping[str, Any],
    logical_time: str,
    dedupe_key: str | None = None,
    parent_run_id: str | None = None,
    parent_task_id: str | None = None,
    root_id: str | None = None,
    kind: str = "normal",
    only_tasks: Iterable[str] | None = None,
    run_id: str | None = None,
) -> str | None:
    """Creates a run, queued until an engine claims its first task; its first tasks are
    ready at once unless ``max_active_runs`` holds it back. None if a run with the same
    ``dedupe_key`` exists already. A ``parent_task_id`` makes it the child run of that
    ``workflow`` task; a catch-up run names only its ``parent_run_id``."""
    tx, now = j.tx, j.now
    run_id = run_id or new_run_id()
    root_id = root_id or run_id
    selected = set(only_tasks) if only_tasks is not None else set(wf.task_ids)
    tasks = [t for t in wf.tasks if t.id in selected]
    if dedupe_key is not None:
        found = tx.fetchone(
            f"SELECT id FROM runs WHERE dedupe_key = ?{tx.for_update}", (dedupe_key,)
        )
        if found:
            return None
    _lock_admission(j, wf)
    running = _may_start(j, wf)  # admitted: its first tasks may be claimed now
    status = RunStatus.QUEUED  # running once an engine claims its first task
    tx.execute(
        "INSERT INTO runs (id, root_id, workflow, status, kind, trigger, params, logical_time,"
        " dedupe_key, parent_run_id, parent_task_id, tasks_open, created_at, started_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            root_id,
            wf.name,
            status,
            kind,
            j.stored(dict(trigger)),
            j.stored(dict(params)),
            logical_time,
            dedupe_key,
            parent_run_id,
            parent_task_id,
            len(tasks),
            now,
            now if running else None,
        ),
    )
    rows = []
    for position, task in enumerate(wf.tasks):
        if task.id not in selected:
            continue
        ups = len([d for d in task.depends_on if d in selected])
        ready = now if running and ups == 0 else None
        rows.append(
            (
                run_id,
                task.id,
                root_id,
                wf.name,
                position,
                TaskStatus.QUEUED,
                ready,
                task.priority,
                task.pool,
                ups,
                ups,
            )
        )
    tx.executemany(
        "INSERT INTO task_runs (run_id, task_id, root_id, workflow, position, status, ready_at,"
        " priority, pool, up_total, up_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    j.add(
        ev.RunRequested(
            run_id, wf.name, str(trigger.get("type", "manual")), dict(params), logical_time
        )
    )
    if not tasks:
        _finish_run(j, run_id, None)
    return run_id


def _lock_admission(j: Journal, wf: Workflow) -> None:
    """Runs of a workflow with ``max_active_runs`` are admitted one transaction at a time
    (PostgreSQL). Without a limit there is nothing to count, and no lock: two engines
    taking the locks of two workflows in opposite orders would deadlock."""
    if wf.max_active_runs is not None:
        j.tx.lock(f"podium.runs.{wf.name}")


def _may_start(j: Journal, wf: Workflow) -> bool:
    if wf.max_active_runs is None:
        return True
    row = j.tx.fetchone(
        "SELECT COUNT(*) FROM runs WHERE workflow = ? AND status IN ('queued', 'running')"
        " AND started_at IS NOT NULL",
        (wf.name,),
    )
    return int(row[0] if row else 0) < wf.max_active_runs


def _start_queued_run(j: Journal, wf: Workflow) -> None:
    """After a run of ``wf`` ended, starts its oldest queued run if the limit allows."""
    tx = j.tx
    _lock_admission(j, wf)
    if not _may_start(j, wf):
        return
    row = tx.fetchone(
        "SELECT id FROM runs WHERE workflow = ? AND status = 'queued' AND started_at IS NULL"
        f" ORDER BY created_at LIMIT 1{tx.for_update}",
        (wf.name,),
    )
    if row is None:
        return
    tx.execute("UPDATE runs SET started_at = ? WHERE id = ?", (j.now, row[0]))
    tx.execute(
        "UPDATE task_runs SET ready_at = ? WHERE run_id = ? AND status = 'queued' AND up_total = 0",
        (j.now, row[0]),
    )


def _close_tasks(j: Journal, run_id: str, count: int, graphs: Graphs | None) -> None:
    """``count`` tasks of the run became terminal; ends the run when none is left open."""
    row = j.tx.fetchone(
        "UPDATE runs SET tasks_open = tasks_open - ? WHERE id = ? RETURNING tasks_open",
        (count, run_id),
    )
    if row is not None and row[0] <= 0:
        _finish_run(j, run_id, graphs)


def _finish_run(j: Journal, run_id: str, graphs: Graphs | None) -> None:
    tx = j.tx
    run = tx.fetchone(
        "SELECT workflow, cancel_requested, parent_run_id, parent_task_id, status FROM runs"
        " WHERE id = ?",
        (run_id,),
    )
    if run is None or RunStatus(run[4]).is_terminal:
        return
    workflow, cancel_requested, parent_run, parent_task, _ = run
    failed = tx.fetchone(
        "SELECT COUNT(*) FROM task_runs WHERE run_id = ? AND status IN (?, ?, ?)",
        (run_id, *_FAILURES),
    )
    if cancel_requested:
        status = RunStatus.CANCELLED
    elif failed and failed[0]:
        status = RunStatus.FAILED
    else:
        status = RunStatus.SUCCEEDED
    tx.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, j.now, run_id))
    j.add(ev.RunFinished(run_id, workflow, status))
    if graphs is not None and status is not RunStatus.CANCELLED:
        # Late tasks that were let go and then landed: restate what lies downstream of
        # each, now that nothing of this run still writes (a catch-up started while the
        # run's other tasks ran could read their tables before they were loaded).
        landed = tx.fetchall(
            "SELECT task_id FROM task_runs WHERE run_id = ? AND released = 1"
            " AND status = 'succeeded' ORDER BY task_id",
            (run_id,),
        )
        for (task_id,) in landed:
            _start_catchup(j, run_id, task_id, graphs)
    if parent_run and parent_task and graphs is not None:
        _finish_parent_task(j, parent_run, parent_task, run_id, status, graphs)
    if graphs is not None and workflow in graphs.workflows:
        _start_queued_run(j, graphs.workflow(workflow))


def active_child_runs(j: Journal, run_id: str, task_id: str) -> list[str]:
    """The runs a ``workflow`` task started that have not ended, newest first."""
    rows = j.tx.fetchall(
        "SELECT id FROM runs WHERE parent_run_id = ? AND parent_task_id = ?"
        " AND status IN ('queued', 'running') ORDER BY created_at DESC",
        (run_id, task_id),
    )
    return [row[0] for row in rows]


def _finish_parent_task(
    j: Journal, run_id: str, task_id: str, child: str, status: RunStatus, graphs: Graphs
) -> None:
    row = j.tx.fetchone(
        "SELECT number FROM attempts WHERE run_id = ? AND task_id = ? AND status = 'running'",
        (run_id, task_id),
    )
    if row is None:
        return
    ok = status is RunStatus.SUCCEEDED
    outcome = Outcome(
        run_id,
        task_id,
        int(row[0]),
        AttemptStatus.SUCCEEDED if ok else AttemptStatus.FAILED,
        output=json.dumps({"run_id": child, "status": str(status)}),
        error=None if ok else f"workflow run {child} ended {status}",
        retryable=status is not RunStatus.CANCELLED,
    )
    finish_attempts(j, [outcome], owner=None, graphs=graphs, draw=lambda: 0.5)


# -- claims ---------------------------------------------------------------------------


def claim(
    j: Journal,
    *,
    owner: str,
    lease_until: float,
    limit: int,
    pools: Mapping[str, int],
    scope_root: str | None = None,
    graphs: Graphs | None = None,
) -> list[Claim]:
    """Takes up to ``limit`` ready tasks, highest priority first, within pool budgets;
    with ``graphs``, only tasks of its workflows (``Graphs.knows``)."""
    tx, now = j.tx, j.now
    scope = " AND root_id = ?" if scope_root else ""
    args: tuple[Any, ...] = (now, scope_root) if scope_root else (now,)
    if graphs is not None:
        names = sorted(graphs.workflows)
        scope += f" AND workflow IN ({','.join('?' * len(names))})" if names else " AND 1 = 0"
        args = (*args, *names)
    # Full pools are left out of the query: their waiting tasks would otherwise fill the
    # LIMIT and starve every task behind them that could run.
    free = _free_slots(tx, pools)
    full = sorted(name for name, slots in free.items() if slots <= 0)
    if full:
        scope += f" AND (pool IS NULL OR pool NOT IN ({','.join('?' * len(full))}))"
        args = (*args, *full)
    rows = tx.fetchall(
        "SELECT run_id, task_id, workflow, pool, attempts, late_upstreams, ready_at FROM task_runs"
        f" WHERE ready_at IS NOT NULL AND ready_at <= ?{scope}"
        f" ORDER BY priority DESC, ready_at, position LIMIT ?{tx.skip_locked}",
        (*args, limit * 4 + 16),
    )
    claims: list[Claim] = []
    for run_id, task_id, workflow, pool, attempts, late, ready_at in rows:
        if len(claims) >= limit:
            break
        if graphs is not None and not graphs.knows(workflow, task_id):
            continue  # a task another version of the project added: left to its engines
        if pool in free:
            if free[pool] <= 0:
                continue
            free[pool] -= 1
        late_ups = tuple(json.loads(late)) if late else ()
        ready = float(ready_at)
        claims.append(Claim(run_id, task_id, int(attempts) + 1, workflow, late_ups, ready))
    tx.executemany(
        "INSERT INTO attempts (run_id, task_id, number, status, owner, lease_expires_at, pool,"
        " holds_slot, started_at) SELECT ?, ?, ?, 'running', ?, ?, pool, 1, ? FROM task_runs"
        " WHERE run_id = ? AND task_id = ?",
        [
            (c.run_id, c.task_id, c.attempt, owner, lease_until, now, c.run_id, c.task_id)
            for c in claims
        ],
    )
    tx.executemany(
        "UPDATE task_runs SET status = 'running', ready_at = NULL, attempts = ?,"
        " started_at = COALESCE(started_at, ?) WHERE run_id = ? AND task_id = ?",
        [(c.attempt, now, c.run_id, c.task_id) for c in claims],
    )
    tx.executemany(
        "UPDATE runs SET status = 'running' WHERE id = ? AND status = 'queued'",
        [(run_id,) for run_id in sorted({c.run_id for c in claims})],
    )
    for c in claims:
        j.add(ev.AttemptStarted(c.run_id, c.task_id, c.attempt, owner, c.ready_at))
    return claims


def _free_slots(tx: Any, pools: Mapping[str, int]) -> dict[str, int]:
    """Free slots per pool, counted while holding each pool's lock (PostgreSQL)."""
    if not pools:
        return {}
    for name in sorted(pools):
        tx.lock(f"podium.pool.{name}")
    used = dict(
        tx.fetchall(
            "SELECT pool, COUNT(*) FROM attempts WHERE status = 'running' AND holds_slot = 1"
            " AND pool IS NOT NULL GROUP BY pool"
        )
    )
    return {name: slots - int(used.get(name, 0)) for name, slots in pools.items()}


def renew_leases(j: Journal, owner: str, lease_until: float) -> None:
    j.tx.execute(
        "UPDATE attempts SET lease_expires_at = ? WHERE owner = ? AND status = 'running'",
        (lease_until, owner),
    )


# -- attempts ending ------------------------------------------------------------------


def finish_attempts(
    j: Journal,
    outcomes: Sequence[Outcome],
    *,
    owner: str | None,
    graphs: Graphs,
    draw: Callable[[], float],
) -> list[Outcome]:
    """Records how attempts ended; returns the outcomes refused as stale.

    Taken in (run, task, attempt) order, so that two engines ending attempts of the same
    runs lock their rows in the same order (PostgreSQL would otherwise find deadlocks)."""
    stale = []
    for o in sorted(outcomes, key=lambda o: (o.run_id, o.task_id, o.attempt)):
        o = replace(o, output=j.stored_json(o.output), error=j.text(o.error))
        if not _end_attempt(j, o, owner):
            stale.append(o)
            continue
        _after_attempt(j, o, graphs, draw)
    return stale


def _end_attempt(j: Journal, o: Outcome, owner: str | None) -> bool:
    fence = " AND owner = ?" if owner is not None else ""
    args: tuple[Any, ...] = (o.status, j.now, o.error, o.run_id, o.task_id, o.attempt)
    changed = j.tx.execute(
        "UPDATE attempts SET status = ?, finished_at = ?, error = ?, holds_slot = 0"
        f" WHERE run_id = ? AND task_id = ? AND number = ? AND status = 'running'{fence}",
        args + ((owner,) if owner is not None else ()),
    )
    if changed:
        j.add(ev.AttemptFinished(o.run_id, o.task_id, o.attempt, o.status, o.error))
    return changed > 0


def _after_attempt(j: Journal, o: Outcome, graphs: Graphs, draw: Callable[[], float]) -> None:
    tx = j.tx
    row = tx.fetchone(
        "SELECT t.workflow, t.attempts - t.first_attempt + 1 - t.lost, t.lost, t.released,"
        " t.incomplete, r.cancel_requested"
        " FROM task_runs t JOIN runs r ON r.id = t.run_id"
        " WHERE t.run_id = ? AND t.task_id = ?",
        (o.run_id, o.task_id),
    )
    if row is None:
        return
    workflow, failures, lost, released, incomplete, cancelling = row
    task = graphs.workflow(workflow).task(o.task_id)
    ok = o.status is AttemptStatus.SUCCEEDED
    if not ok and not cancelling and o.status is not AttemptStatus.CANCELLED:
        if o.status is AttemptStatus.LOST and lost < MAX_LOST:
            tx.execute(
                "UPDATE task_runs SET status = 'queued', ready_at = ?, lost = lost + 1"
                " WHERE run_id = ? AND task_id = ?",
                (j.now, o.run_id, o.task_id),
            )
            return
        if o.retryable and failures <= task.retry.retries:
            delay = task.retry.delay_before(failures + 1, draw())
            tx.execute(
                "UPDATE task_runs SET status = 'queued', ready_at = ?, error = ?"
                " WHERE run_id = ? AND task_id = ?",
                (j.now + delay, o.error, o.run_id, o.task_id),
            )
            return
    status = _task_status(o, bool(cancelling))
    tx.execute(
        "UPDATE task_runs SET status = ?, finished_at = ?, output = ?, error = ?"
        " WHERE run_id = ? AND task_id = ?",
        (status, j.now, o.output if ok else None, None if ok else o.error, o.run_id, o.task_id),
    )
    j.add(ev.TaskFinished(o.run_id, o.task_id, status))
    if ok:
        for asset, stats in _assets_of(task, o).items():
            j.add(ev.AssetUpdated(asset, o.run_id, o.task_id, bool(incomplete), stats))
    if ok or status is TaskStatus.FAILED:  # failed error-severity checks report theirs too
        for check in o.checks:
            j.add(ev.CheckEvaluated(run_id=o.run_id, task_id=o.task_id, **check.to_event()))
    if released:  # its catch-up starts when the run ends (``_finish_run``)
        _close_tasks(j, o.run_id, 1, graphs)
        return
    closed = 1 + _propagate(j, o.run_id, workflow, o.task_id, status, bool(incomplete), graphs)
    _close_tasks(j, o.run_id, closed, graphs)


def _task_status(o: Outcome, cancelling: bool) -> TaskStatus:
    if o.status is AttemptStatus.SUCCEEDED:
        return TaskStatus.SUCCEEDED
    if o.status is AttemptStatus.CANCELLED or cancelling:
        return TaskStatus.CANCELLED
    if o.status is AttemptStatus.TIMED_OUT:
        return TaskStatus.TIMED_OUT
    return TaskStatus.FAILED


def _propagate(
    j: Journal,
    run_id: str,
    workflow: str,
    task_id: str,
    status: TaskStatus,
    incomplete: bool,
    graphs: Graphs,
    late: bool = False,
) -> int:
    """Tells ``task_id``'s dependants it ended; returns how many of them ended unrun."""
    tx, closed = j.tx, 0
    ok, bad = int(status is TaskStatus.SUCCEEDED), int(status in _FAILURES)
    wf = graphs.workflow(workflow)
    work = [(task_id, ok, bad, incomplete, late)]
    while work:
        parent, ok, bad, incomplete, late = work.pop()
        for child in graphs.children(workflow).get(parent, ()):
            row = tx.fetchone(
                "UPDATE task_runs SET up_pending = up_pending - 1,"
                " up_succeeded = up_succeeded + ?, up_failed = up_failed + ?,"
                " incomplete = CASE WHEN ? = 1 THEN 1 ELSE incomplete END"
                " WHERE run_id = ? AND task_id = ? AND status = 'queued'"
                " RETURNING up_total, up_pending, up_succeeded, up_failed, incomplete,"
                " late_upstreams",
                (ok, bad, int(incomplete or late), run_id, child),
            )
            if row is None:
                continue
            total, pending, succeeded, failed, child_incomplete, lates = row
            if late:
                names = sorted({*(json.loads(lates) if lates else []), parent})
                tx.execute(
                    "UPDATE task_runs SET late_upstreams = ? WHERE run_id = ? AND task_id = ?",
                    (json.dumps(names), run_id, child),
                )
            decision = decide(
                wf.task(child).trigger_rule, Upstream(total, pending, succeeded, failed)
            )
            if decision == "run":
                tx.execute(
                    "UPDATE task_runs SET ready_at = ? WHERE run_id = ? AND task_id = ?",
                    (j.now, run_id, child),
                )
            elif decision != "wait":
                tx.execute(
                    "UPDATE task_runs SET status = ?, finished_at = ? WHERE run_id = ?"
                    " AND task_id = ?",
                    (decision, j.now, run_id, child),
                )
                j.add(ev.TaskFinished(run_id, child, decision))
                closed += 1
                failed_child = int(decision == "upstream_failed")
                work.append((child, 0, failed_child, bool(child_incomplete), False))
    return closed


# -- late tasks -----------------------------------------------------------------------


def mark_late(j: Journal, claim_: Claim, graphs: Graphs) -> None:
    """The attempt has run past ``late_after``: record it and, for ``on_late: continue``,
    free its pool slot and let its dependants start on what is fresh."""
    wf = graphs.workflow(claim_.workflow)
    task = wf.task(claim_.task_id)
    tx = j.tx
    if not _is_running(tx, claim_):
        return  # it ended, or its lease expired and another attempt took over: not late
    tx.execute(
        "UPDATE task_runs SET late = 1 WHERE run_id = ? AND task_id = ?",
        (claim_.run_id, claim_.task_id),
    )
    j.add(
        ev.TaskLate(
            claim_.run_id, claim_.task_id, claim_.attempt, task.late_after or 0.0, task.on_late
        )
    )
    if task.on_late != "continue":
        return
    changed = tx.execute(
        "UPDATE task_runs SET released = 1 WHERE run_id = ? AND task_id = ?"
        " AND status = 'running' AND released = 0",
        (claim_.run_id, claim_.task_id),
    )
    if not changed:
        return
    tx.execute(
        "UPDATE attempts SET holds_slot = 0 WHERE run_id = ? AND task_id = ? AND number = ?",
        (claim_.run_id, claim_.task_id, claim_.attempt),
    )
    closed = _propagate(
        j,
        claim_.run_id,
        claim_.workflow,
        claim_.task_id,
        TaskStatus.SUCCEEDED,
        True,
        graphs,
        late=True,
    )
    if closed:
        _close_tasks(j, claim_.run_id, closed, graphs)


def _is_running(tx: Any, claim_: Claim) -> bool:
    row = tx.fetchone(
        "SELECT 1 FROM attempts WHERE run_id = ? AND task_id = ? AND number = ?"
        " AND status = 'running'",
        (claim_.run_id, claim_.task_id, claim_.attempt),
    )
    return row is not None


def _start_catchup(j: Journal, run_id: str, task_id: str, graphs: Graphs) -> None:
    """A late task landed: re-run exactly what lies downstream of it, in a catch-up run."""
    tx = j.tx
    run = tx.fetchone(
        "SELECT workflow, root_id, params, logical_time FROM runs WHERE id = ?", (run_id,)
    )
    if run is None:
        return
    workflow, root_id, params, logical_time = run
    wf = graphs.workflow(workflow)
    affected = downstream({t.id: t.depends_on for t in wf.tasks}, [task_id])
    if not affected:
        return
    catchup_id = create_run(
        j,
        wf,
        trigger={"type": "catchup", "run_id": run_id, "late_task": task_id},
        params=json.loads(params),
        logical_time=logical_time,
        dedupe_key=f"catchup:{run_id}:{task_id}",
        parent_run_id=run_id,
        root_id=root_id,
        kind="catchup",
        only_tasks=affected,
    )
    if catchup_id is None:
        return
    j.add(ev.CatchupStarted(catchup_id, run_id, task_id, sorted(affected)))


# -- recovery, cancel, retry ----------------------------------------------------------


def expired_attempts(
    j: Journal, scope_root: str | None = None, graphs: Graphs | None = None
) -> list[Outcome]:
    """Attempts whose lease ran out: their engine is gone. Returned as ``lost`` outcomes;
    with ``graphs``, only those of tasks it knows (the others are left to engines that do)."""
    tx = j.tx
    scope = " AND run_id IN (SELECT id FROM runs WHERE root_id = ?)" if scope_root else ""
    args: tuple[Any, ...] = (j.now, scope_root) if scope_root else (j.now,)
    rows = tx.fetchall(
        "SELECT run_id, task_id, number, owner,"
        " (SELECT workflow FROM runs WHERE runs.id = attempts.run_id) FROM attempts"
        f" WHERE status = 'running' AND lease_expires_at < ?{scope}{tx.skip_locked}",
        args,
    )
    return [
        Outcome(
            r, t, int(n), AttemptStatus.LOST, error=f"lost: engine {o} stopped renewing its lease"
        )
        for r, t, n, o, wf in rows
        if graphs is None or graphs.knows(wf, t)
    ]


def request_cancel(j: Journal, run_id: str, graphs: Graphs) -> bool:
    """Marks the run (and its child runs) cancelling and cancels its queued tasks at once.

    Running attempts are stopped by the engines that hold them."""
    tx = j.tx
    changed = tx.execute(
        "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status IN ('queued', 'running')",
        (run_id,),
    )
    if not changed:
        return False
    n = tx.execute(
        "UPDATE task_runs SET status = 'cancelled', ready_at = NULL, finished_at = ?"
        " WHERE run_id = ? AND status = 'queued'",
        (j.now, run_id),
    )
    j.add(ev.RunCancelled(run_id))
    for (child,) in tx.fetchall(
        "SELECT id FROM runs WHERE parent_run_id = ? AND status IN ('queued', 'running')",
        (run_id,),
    ):
        request_cancel(j, child, graphs)
    if n:
        _close_tasks(j, run_id, n, graphs)
    tx.notify = True
    return True


def retry_run(j: Journal, run_id: str, *, failed_only: bool, graphs: Graphs) -> list[str]:
    """Re-opens a finished run: its failed, timed-out, upstream-failed and cancelled tasks
    (or, without ``failed_only``, every task) run again; succeeded outputs are reused."""
    tx = j.tx
    run = tx.fetchone(f"SELECT workflow, status FROM runs WHERE id = ?{tx.for_update}", (run_id,))
    if run is None or not RunStatus(run[1]).is_terminal:
        return []
    wf = graphs.workflow(run[0])
    rows = tx.fetchall("SELECT task_id, status FROM task_runs WHERE run_id = ?", (run_id,))
    statuses = {t: TaskStatus(s) for t, s in rows}
    again = {
        t for t, s in statuses.items() if not failed_only or s in (*_FAILURES, TaskStatus.CANCELLED)
    }
    if not again:
        return []
    for task_id in sorted(again):
        deps = [d for d in wf.task(task_id).depends_on if d in statuses]
        pending = sum(1 for d in deps if d in again)
        succeeded = sum(1 for d in deps if d not in again and statuses[d] is TaskStatus.SUCCEEDED)
        failed = sum(1 for d in deps if d not in again and statuses[d] in _FAILURES)
        up = Upstream(len(deps), pending, succeeded, failed)
        # like create_run, a task without upstreams starts whatever its trigger rule
        runs = not deps or decide(wf.task(task_id).trigger_rule, up) == "run"
        ready = j.now if runs else None
        tx.execute(
            "UPDATE task_runs SET status = 'queued', ready_at = ?, up_total = ?, up_pending = ?,"
            " up_succeeded = ?, up_failed = ?, late = 0, released = 0, incomplete = 0,"
            " late_upstreams = NULL, output = NULL, error = NULL, started_at = NULL,"
            " finished_at = NULL, lost = 0,"
            " first_attempt = attempts + 1"
            " WHERE run_id = ? AND task_id = ?",
            (ready, up.total, up.pending, up.succeeded, up.failed, run_id, task_id),
        )
    tx.execute(
        "UPDATE runs SET status = 'running', finished_at = NULL, cancel_requested = 0,"
        " tasks_open = ? WHERE id = ?",
        (len(again), run_id),
    )
    j.add(ev.RunRetried(run_id, sorted(again)))
    tx.notify = True
    return sorted(again)


def _assets_of(task: Task, o: Outcome) -> dict[str, dict[str, Any]]:
    """The assets a successful attempt updated: its ``produces`` (unless its kind says it
    produced nothing), and those its kind reported with what changed in each."""
    found: dict[str, dict[str, Any]] = {a: {} for a in task.produces} if o.produced else {}
    found.update({change.name: dict(change.stats) for change in o.assets})
    return found
