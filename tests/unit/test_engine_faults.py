"""A step whose transaction fails, before or after COMMIT, is safe to take again.

Each test plans one fault with ``FaultyDatabase.fail_next`` and checks that the engine,
stepping on, hands each attempt to the executor once and records each change once.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import create_run
from podium.core.status import Catchup
from podium.core.workflow import EngineSettings, ScheduleTrigger, Task, Workflow
from podium.engine.loop import Engine
from podium.errors import StoreError
from podium.testing import FakeClock, FaultyDatabase, ManualExecutor, project_of

PIPELINE = Workflow("wf", (Task("a", "run", "tasks:a"), Task("b", "run", "tasks:b", ("a",))))
MINUTELY = Workflow(
    "tick",
    (Task("a", "run", "tasks:a"),),
    triggers=(ScheduleTrigger("* * * * *", catchup=Catchup.LATEST),),
)


class Setup:
    def __init__(self, *workflows: Workflow) -> None:
        self.project = project_of(*workflows, engine=EngineSettings(lease_timeout=600))
        self.db = FaultyDatabase("sqlite:///:memory:")
        self.clock = FakeClock()
        self.ex = ManualExecutor()
        self.engine = Engine(
            self.project, self.db, executor=self.ex, clock=self.clock, rng=random.Random(0)
        )
        self.engine.start()

    def step_failing(self, where: str) -> None:
        self.db.fail_next(where)
        with pytest.raises(StoreError, match="injected fault"):
            self.engine.step()

    def count(self, sql: str, *args: Any) -> int:
        row = self.db.read().fetchone(sql, args)
        assert row is not None
        return int(row[0])

    def events(self, kind: str) -> list[tuple[str | None, dict[str, Any]]]:
        rows = self.db.read().fetchall(
            "SELECT task_id, payload FROM events WHERE type = ? ORDER BY seq", (kind,)
        )
        return [(t, json.loads(p)) for t, p in rows]


@pytest.fixture
def setup() -> Iterator[Any]:
    made: list[Setup] = []

    def make(*workflows: Workflow) -> Setup:
        made.append(Setup(*workflows))
        return made[-1]

    yield make
    for s in made:
        s.engine.close()
        s.db.close()


def test_a_claim_rolled_back_is_not_run_and_is_claimed_again(setup: Any) -> None:
    s = setup(PIPELINE)
    run = create_run(s.db, s.project, s.clock, "wf")
    s.step_failing("before_commit")
    assert s.ex.submitted == []
    assert s.count("SELECT COUNT(*) FROM attempts") == 0
    s.engine.step()
    assert [job.key for job in s.ex.submitted] == [(run, "a", 1)]
    assert s.engine.stats.attempts_started == 1


def test_a_claim_whose_commit_landed_is_run_once(setup: Any) -> None:
    s = setup(PIPELINE)
    run = create_run(s.db, s.project, s.clock, "wf")
    s.db.fail_next("after_commit")
    s.engine.step()  # the store says the step landed: no error, the attempt goes out
    assert [job.key for job in s.ex.submitted] == [(run, "a", 1)]
    s.engine.step()
    assert len(s.ex.submitted) == 1
    assert s.count("SELECT COUNT(*) FROM attempts") == 1
    assert s.db.injected["after_commit"] == 1


def test_an_end_rolled_back_is_recorded_on_the_next_step(setup: Any) -> None:
    s = setup(PIPELINE)
    run = create_run(s.db, s.project, s.clock, "wf")
    s.engine.step()
    s.ex.succeed("a", {"rows": 1})
    s.step_failing("before_commit")
    assert s.count("SELECT COUNT(*) FROM attempts WHERE status = 'running'") == 1
    s.engine.step()
    assert s.ex.running() == ["b"]
    s.ex.succeed("b")
    s.engine.step()
    assert s.count("SELECT COUNT(*) FROM runs WHERE id = ? AND status = 'succeeded'", run) == 1
    assert [t for t, _ in s.events("AttemptFinished")] == ["a", "b"]
    assert [t for t, _ in s.events("TaskFinished")] == ["a", "b"]
    assert s.engine.stats.stale_refused == 0


def test_logs_of_a_rolled_back_step_are_written_once(setup: Any) -> None:
    s = setup(PIPELINE)
    run = create_run(s.db, s.project, s.clock, "wf")
    s.engine.step()
    s.engine._on_log((run, "a", 1), "stdout", "hello")
    s.step_failing("before_commit")
    s.engine.step()
    assert s.count("SELECT COUNT(*) FROM logs WHERE line = 'hello'") == 1


def test_when_the_store_cannot_say_the_next_step_asks_first(setup: Any) -> None:
    s = setup(PIPELINE)
    run = create_run(s.db, s.project, s.clock, "wf")
    s.db.fail_reads = 1  # the read that would settle the step fails too
    s.step_failing("after_commit")
    assert s.ex.submitted == []  # not known yet whether the claim landed
    s.engine.step()  # asks, learns it landed, hands the attempt out, then steps
    assert [job.key for job in s.ex.submitted] == [(run, "a", 1)]
    s.engine.step()
    assert len(s.ex.submitted) == 1 and s.count("SELECT COUNT(*) FROM attempts") == 1


def test_a_step_that_stays_in_doubt_does_nothing_else(setup: Any) -> None:
    s = setup(PIPELINE)
    create_run(s.db, s.project, s.clock, "wf")
    s.db.fail_reads = 2
    s.step_failing("after_commit")
    with pytest.raises(StoreError, match="on a read"):
        s.engine.step()
    assert s.ex.submitted == [] and s.db.injected["read"] == 2
    s.engine.step()
    assert len(s.ex.submitted) == 1


@pytest.mark.parametrize("where", ["before_commit", "after_commit"])
def test_a_failed_schedule_step_neither_skips_nor_repeats_the_tick(setup: Any, where: str) -> None:
    s = setup(MINUTELY)
    s.engine.step()  # first sight of the schedule: remembers now as its last tick
    s.clock.advance(60)  # the next minute is due
    s.db.fail_reads = 0
    s.db.fail_next(where)
    if where == "before_commit":
        with pytest.raises(StoreError):
            s.engine.step()
    else:
        s.engine.step()
    s.clock.advance(5)
    s.engine.step()
    s.engine.step()
    assert s.count("SELECT COUNT(*) FROM runs WHERE workflow = 'tick'") == 1
    assert len(s.ex.submitted) == 1


def test_a_cancel_rolled_back_is_not_sent_to_the_executor(setup: Any) -> None:
    slow = Workflow("wf", (Task("a", "run", "tasks:a", timeout=10),))
    s = setup(slow)
    run = create_run(s.db, s.project, s.clock, "wf")
    s.engine.step()
    s.clock.advance(11)
    s.step_failing("before_commit")
    assert s.ex.cancelled == []
    s.engine.step()
    assert s.ex.cancelled == [(run, "a", 1)]
    assert [p["status"] for _, p in s.events("AttemptFinished")] == ["timed_out"]


def test_an_engine_whose_row_was_removed_registers_again_and_still_settles(setup: Any) -> None:
    s = setup(PIPELINE)
    run = create_run(s.db, s.project, s.clock, "wf")
    with s.db.transaction() as tx:
        tx.execute("DELETE FROM engines")
    s.db.fail_next("after_commit")
    s.engine.step()
    assert [job.key for job in s.ex.submitted] == [(run, "a", 1)]
    assert s.count("SELECT COUNT(*) FROM engines WHERE owner = ?", s.engine.owner) == 1
