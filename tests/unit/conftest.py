"""Shared fixtures for the engine's unit tests: one store, a fake clock and a manual executor.

``Harness`` drives an ``Engine`` one ``step`` at a time. Runs are created through
``state.create_run`` with the fake clock (``services.start_run`` reads the real one), and
every read goes to the store, so a test sees what a user would see.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from podium.core.workflow import EngineSettings, Project, Workflow
from podium.engine import queries, state
from podium.engine.journal import Journal
from podium.engine.loop import Engine
from podium.engine.services import check_params
from podium.engine.triggers import iso
from podium.execution.base import Executor, Job, JobResult, Key
from podium.store.database import Database
from podium.testing import FakeClock, ManualExecutor, memory_database, project_of


class FixedRandom(random.Random):
    """A random source whose every draw is ``value``: retry jitter becomes exact."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def create_run(
    db: Database,
    project: Project,
    clock: Callable[[], float],
    workflow: str,
    params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> str:
    """A run created like ``services.start_run`` does, but at the fake clock's time."""
    wf = project.workflow(workflow)
    with db.transaction() as tx:
        j = Journal(tx, clock())
        run_id = state.create_run(
            j,
            wf,
            trigger={"type": "manual"},
            params=check_params(wf, params or {}),
            logical_time=iso(clock()),
            **kwargs,
        )
        j.flush()
    assert run_id is not None
    return run_id


@dataclass
class Harness:
    project: Project
    db: Database
    clock: FakeClock
    ex: Any
    engine: Engine
    engines: list[Engine] = field(default_factory=list)

    def start(self, workflow: str, params: Mapping[str, Any] | None = None, **kw: Any) -> str:
        return create_run(self.db, self.project, self.clock, workflow, params, **kw)

    def step(self, times: int = 1) -> float:
        delay = 0.0
        for _ in range(times):
            delay = self.engine.step()
        return delay

    def new_engine(self, executor: Executor | None = None, **kw: Any) -> Engine:
        """Another engine on the same store and clock (e.g. after a restart)."""
        engine = Engine(
            self.project,
            self.db,
            executor=executor or ManualExecutor(),
            clock=self.clock,
            rng=random.Random(0),
            **kw,
        )
        engine.start()
        self.engines.append(engine)
        return engine

    def succeed_key(self, key: Key, output: Any = None) -> Job:
        """Ends one submitted attempt by its key (when several runs share a task id)."""
        job, done = self.ex.pending.pop(key)
        done(JobResult(key, True, output=json.dumps(output)))
        return job

    def fail_key(self, key: Key, error: str = "boom") -> Job:
        job, done = self.ex.pending.pop(key)
        done(JobResult(key, False, error=error))
        return job

    # -- reads ---------------------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any]:
        return queries.show_run(self.db, run_id)

    def status(self, run_id: str) -> str:
        return str(self.run(run_id)["status"])

    def tasks(self, run_id: str) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for t in self.run(run_id)["tasks"]}

    def task_status(self, run_id: str) -> dict[str, str]:
        return {task_id: t["status"] for task_id, t in self.tasks(run_id).items()}

    def attempts(self, run_id: str, task_id: str | None = None) -> list[tuple[str, int, str]]:
        """(task, number, status) of every stored attempt, in task and number order."""
        rows = self.db.read().fetchall(
            "SELECT task_id, number, status FROM attempts WHERE run_id = ?"
            " ORDER BY task_id, number",
            (run_id,),
        )
        return [(t, int(n), s) for t, n, s in rows if task_id is None or t == task_id]

    def events(self, kind: str, run_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.read().fetchall(
            "SELECT run_id, task_id, payload FROM events WHERE type = ? ORDER BY seq", (kind,)
        )
        return [
            {"run_id": r, "task_id": t, **json.loads(p)}
            for r, t, p in rows
            if run_id is None or r == run_id
        ]

    def runs(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """Every run (of ``workflow``), oldest first."""
        return list(reversed(queries.list_runs(self.db, workflow=workflow, limit=10_000)))

    def ready_at(self, run_id: str, task_id: str) -> float | None:
        row = self.db.read().fetchone(
            "SELECT ready_at FROM task_runs WHERE run_id = ? AND task_id = ?", (run_id, task_id)
        )
        assert row is not None
        return None if row[0] is None else float(row[0])


@pytest.fixture
def make_harness() -> Any:
    """``make_harness(*workflows, pools=…, settings=…, executor=…, rng=…, **engine_kw)``."""
    made: list[Harness] = []

    def make(
        *workflows: Workflow,
        pools: Mapping[str, int] | None = None,
        settings: EngineSettings | None = None,
        executor: Executor | None = None,
        rng: random.Random | None = None,
        root: str = ".",
        **engine_kw: Any,
    ) -> Harness:
        project = project_of(*workflows, pools=pools, engine=settings, root=root)
        db, clock = memory_database(), FakeClock()
        ex = executor if executor is not None else ManualExecutor()
        engine = Engine(
            project, db, executor=ex, clock=clock, rng=rng or random.Random(0), **engine_kw
        )
        engine.start()
        harness = Harness(project, db, clock, ex, engine, [engine])
        made.append(harness)
        return harness

    yield make
    for harness in made:
        for engine in harness.engines:
            engine.close()
        harness.db.close()
