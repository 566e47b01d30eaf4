"""200 runs to their end while 10 % of the store's transactions fail.

A real store (a SQLite file; PostgreSQL when PODIUM_TEST_POSTGRES_URL is set) wrapped in
``FaultyDatabase``: one transaction in ten raises, half of them before COMMIT (rolled back)
and half after it (written, yet reported as failed). The engine, with real threads running
real task functions, is stepped again after every error, as ``podium up``'s loop does.

The runs: 160 started by stored events, 20 by a minutely schedule (catchup: all) whose
ticks come from a fake clock, and the 20 child runs of those. Every 5th event run has a
task that fails its first attempt and is retried. At the end the store must hold exactly
those runs, each succeeded; each task ended once; each attempt started, ran (the task
function appends its key to a file), finished and logged exactly once; no double state
transition in the events; nothing left running or pending.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.core.events import CustomEvent
from podium.core.status import Catchup
from podium.core.workflow import (
    EngineSettings,
    EventTrigger,
    RetryPolicy,
    ScheduleTrigger,
    Task,
    Workflow,
)
from podium.engine.journal import Journal
from podium.engine.loop import Engine
from podium.errors import StoreError
from podium.testing import FakeClock, FaultyDatabase, project_of

from .conftest import POSTGRES_URL, SKIP_POSTGRES, drop_postgres_schema, postgres_schema_url

EVENT_RUNS = 160
TICKS = 20
RATE = 0.10
START = 1_800_000_000.0  # a minute boundary

TASKS_PY = """
import os


def work(ctx):
    fd = os.open(ctx.params["marks"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{ctx.run_id} {ctx.task_id} {ctx.attempt}\\n".encode())
    finally:
        os.close(fd)
    ctx.log.info(f"ran {ctx.task_id} attempt {ctx.attempt}")
    if ctx.task_id == "b" and ctx.params.get("flaky") and ctx.attempt == 1:
        raise RuntimeError("flaky: the first attempt fails")
    return {"task": ctx.task_id, "attempt": ctx.attempt}
"""


def workflows(marks: Path) -> tuple[Workflow, ...]:
    def task(task_id: str, *deps: str, **kw: Any) -> Task:
        return Task(task_id, "run", "fault_tasks:work", deps, params={"marks": str(marks)}, **kw)

    on_event = Workflow(
        "on_event",
        (
            task("a"),
            task("b", "a", retry=RetryPolicy(retries=1)),
            task("c", "a"),
            task("d", "b", "c"),
        ),
        triggers=(EventTrigger("go"),),
        params={"i": 0, "flaky": False},
    )
    minutely = Workflow(
        "minutely",
        (task("a"), Task("sub", "workflow", "child", ("a",))),
        triggers=(ScheduleTrigger("* * * * *", catchup=Catchup.ALL),),
    )
    child = Workflow("child", (task("x"),))
    return on_event, minutely, child


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url, schema = postgres_schema_url()
    yield url
    drop_postgres_schema(schema)


def test_200_runs_end_exactly_once_under_store_faults(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "fault_tasks.py").write_text(TASKS_PY)
    project = project_of(
        *workflows(tmp_path / "marks.txt"),
        root=str(tmp_path),
        engine=EngineSettings(lease_timeout=3600, workers=8),
    )
    db = FaultyDatabase(store_url, seed=16)
    seqs = post_events(db, EVENT_RUNS)
    clock = FakeClock(START)
    engine = Engine(project, db, clock=clock, rng=random.Random(0))
    engine.start()
    try:
        db.rate = RATE
        errors = drive(engine, db, clock, end=START + TICKS * 60 + 1)
        db.rate = 0.0
        check_store(db, seqs, tmp_path / "marks.txt")
        assert engine.stats.stale_refused == 0  # no end was ever written twice
        assert engine.stats.recovered == 0  # no lease ran out
    finally:
        db.rate = 0.0
        engine.close()
        db.close()
    # the faults happened, of both kinds, and the engine stepped on through each
    faults = db.injected["before_commit"] + db.injected["after_commit"]
    assert 0.05 <= faults / db.transactions <= 0.2, (faults, db.transactions)
    assert db.injected["before_commit"] >= 5 and db.injected["after_commit"] >= 5
    assert errors >= db.injected["before_commit"]


def test_two_engines_share_a_postgres_store_under_faults(tmp_path: Path) -> None:
    """The same 200 runs, served by two engines at once (as two ``podium up`` on one
    PostgreSQL store), each stepping in its own thread: leases, SKIP LOCKED claims, the
    schedule lock and dedupe keys keep every change single while faults roll steps back."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    url, schema = postgres_schema_url()
    (tmp_path / "fault_tasks.py").write_text(TASKS_PY)
    project = project_of(
        *workflows(tmp_path / "marks.txt"),
        root=str(tmp_path),
        engine=EngineSettings(lease_timeout=3600, workers=8),
    )
    db = FaultyDatabase(url, seed=17)
    clock = FakeClock(START)
    engines = [
        Engine(project, db, clock=clock, rng=random.Random(n), owner=f"engine-{n}")
        for n in range(2)
    ]
    try:
        seqs = post_events(db, EVENT_RUNS)
        for engine in engines:
            engine.start()
        db.rate = RATE
        errors: list[int] = []
        failures: list[BaseException] = []

        def serve(engine: Engine) -> None:
            try:
                errors.append(
                    drive(engine, db, clock, end=START + TICKS * 60 + 1, retry_on=psycopg.Error)
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                failures.append(exc)

        threads = [threading.Thread(target=serve, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        assert not failures, failures
        db.rate = 0.0
        check_store(db, seqs, tmp_path / "marks.txt")
        owners = db.read().fetchall("SELECT DISTINCT owner FROM attempts")
        assert {o for (o,) in owners} == {"engine-0", "engine-1"}  # both did work
        assert sum(e.stats.stale_refused + e.stats.recovered for e in engines) == 0
        assert db.injected["before_commit"] >= 5 and db.injected["after_commit"] >= 5
    finally:
        db.rate = 0.0
        for engine in engines:
            engine.close()
        db.close()
        drop_postgres_schema(schema)


def post_events(db: FaultyDatabase, count: int) -> list[int]:
    with db.transaction() as tx:
        j = Journal(tx, START)
        for i in range(count):
            j.add(CustomEvent("go", {"i": i, "flaky": i % 5 == 0}))
        j.flush()
        rows = tx.fetchall("SELECT seq FROM events WHERE type = 'go' ORDER BY seq")
    return [int(r[0]) for r in rows]


def drive(
    engine: Engine,
    db: FaultyDatabase,
    clock: FakeClock,
    *,
    end: float,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> int:
    """Steps the engine (again after each error) until every run has ended and every event
    has been dispatched; the fake clock moves 5 s a step until ``end``. Returns how many
    steps raised. ``retry_on`` adds errors to step on after (two engines on PostgreSQL may
    deadlock on each other's row locks: the server aborts one, which steps again)."""
    errors, deadline = 0, time.monotonic() + 180
    while True:
        assert time.monotonic() < deadline, f"stuck: {open_runs(db)} runs still open"
        try:
            delay = engine.step()
        except StoreError:
            errors += 1
            continue
        except retry_on:
            errors += 1
            continue
        if clock.now < end:
            clock.advance(5)
        elif open_runs(db) == 0 and undispatched(db) == 0 and not engine.busy:
            return errors
        else:
            engine.wait(min(delay, 0.05))


def open_runs(db: FaultyDatabase) -> int:
    row = db.read().fetchone(
        "SELECT COUNT(*) FROM runs WHERE status NOT IN ('succeeded', 'failed', 'cancelled')"
    )
    return int(row[0]) if row else -1


def undispatched(db: FaultyDatabase) -> int:
    row = db.read().fetchone("SELECT COUNT(*) FROM events WHERE pending = 1")
    return int(row[0]) if row else -1


def check_store(db: FaultyDatabase, seqs: list[int], marks: Path) -> None:
    read = db.read()
    runs = read.fetchall("SELECT id, workflow, status, trigger, logical_time FROM runs")
    assert Counter(r[2] for r in runs) == {"succeeded": EVENT_RUNS + 2 * TICKS}
    by_wf = Counter(r[1] for r in runs)
    assert by_wf == {"on_event": EVENT_RUNS, "minutely": TICKS, "child": TICKS}
    triggers = [json.loads(r[3]) for r in runs]
    assert sorted(t["seq"] for t in triggers if t["type"] == "event") == seqs
    ticks = [r[4] for r in runs if r[1] == "minutely"]
    assert len(set(ticks)) == TICKS  # one run per (schedule, logical time)
    parents = [t["run_id"] for t in triggers if t["type"] == "workflow_task"]
    assert len(set(parents)) == TICKS

    tasks = read.fetchall("SELECT run_id, task_id, status FROM task_runs")
    assert len(tasks) == 4 * EVENT_RUNS + 2 * TICKS + TICKS
    assert {t[2] for t in tasks} == {"succeeded"}

    attempts = read.fetchall("SELECT run_id, task_id, number, status FROM attempts")
    keys = [(r, t, int(n)) for r, t, n, _ in attempts]
    assert len(keys) == len(set(keys))
    per_task: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for r, t, n, status in attempts:
        per_task.setdefault((r, t), []).append((int(n), status))
    for (run_id, task_id), tries in per_task.items():
        tries.sort()
        assert [n for n, _ in tries] == list(range(1, len(tries) + 1)), (run_id, task_id)
        assert [s for _, s in tries[:-1]] == ["failed"] * (len(tries) - 1), (run_id, task_id)
        assert tries[-1][1] == "succeeded", (run_id, task_id)
    retried = [k for k, tries in per_task.items() if len(tries) > 1]
    assert len(retried) == EVENT_RUNS // 5 and {t for _, t in retried} == {"b"}

    # each attempt ran once (the task function's own record) and logged once
    ran = Counter(tuple(line.split()) for line in marks.read_text().splitlines())
    assert set(ran.values()) == {1}
    assert {(r, t, int(n)) for r, t, n in ran} == set(keys) - child_attempts(attempts, runs)
    logged = read.fetchall(
        "SELECT run_id, task_id, attempt FROM logs WHERE line LIKE ?", ("INFO ran %",)
    )
    assert Counter((r, t, int(a)) for r, t, a in logged) == Counter(
        {k: 1 for k in set(keys) - child_attempts(attempts, runs)}
    )
    check_events(read, keys, tasks, runs)


def child_attempts(attempts: list[Any], runs: list[Any]) -> set[tuple[str, str, int]]:
    """The ``workflow`` task's attempts: they run no code of their own."""
    minutely = {r[0] for r in runs if r[1] == "minutely"}
    return {(r, t, int(n)) for r, t, n, _ in attempts if r in minutely and t == "sub"}


def check_events(read: Any, keys: list[Any], tasks: list[Any], runs: list[Any]) -> None:
    """No state transition recorded twice, none missing, nothing left to dispatch."""
    rows = read.fetchall("SELECT type, run_id, task_id, payload FROM events WHERE type <> 'go'")
    events: Counter[tuple[Any, ...]] = Counter()
    for kind, run_id, task_id, payload in rows:
        attempt = json.loads(payload).get("attempt")
        events[(kind, run_id, task_id, attempt)] += 1
    assert set(events.values()) == {1}, [k for k, n in events.items() if n > 1][:5]
    started = {(r, t, a) for kind, r, t, a in events if kind == "AttemptStarted"}
    finished = {(r, t, a) for kind, r, t, a in events if kind == "AttemptFinished"}
    assert started == finished == set(keys)
    assert {(r, t) for kind, r, t, _ in events if kind == "TaskFinished"} == {
        (r, t) for r, t, _ in tasks
    }
    run_ids = {r[0] for r in runs}
    assert {r for kind, r, _, _ in events if kind == "RunRequested"} == run_ids
    assert {r for kind, r, _, _ in events if kind == "RunFinished"} == run_ids
    assert sum(1 for kind, *_ in events if kind == "RunFinished") == len(run_ids)
    assert read.fetchone("SELECT COUNT(*) FROM events WHERE pending = 1") == (0,)
    assert read.fetchone("SELECT COUNT(*) FROM attempts WHERE status = 'running'") == (0,)
