"""The engine while its store is away: a step that cannot commit loses nothing, changes
nothing, and the loop waits and carries on.

A real SQLite file, locked by another connection (``BEGIN EXCLUSIVE``) with a 50 ms busy
timeout, stands for a store that is away; a commit cut off after it happened (the lost
PostgreSQL connection's ambiguity) is a Database whose transaction raises after COMMIT.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import create_run
from podium.core.workflow import EngineSettings, Task, Workflow
from podium.engine.loop import Engine
from podium.errors import StoreUnavailableError
from podium.store.database import Database, Tx
from podium.testing import FakeClock, ManualExecutor, project_of

FLOW = Workflow(
    "wf",
    (
        Task("a", "run", "tasks:a"),
        Task("b", "run", "tasks:b", ("a",)),
        Task("c", "run", "tasks:c"),
    ),
)


class CutOffDatabase(Database):
    """Raises StoreUnavailableError right after the next commit: the commit happened but
    its caller cannot know (a connection lost while COMMIT's answer was on its way)."""

    cut_next = False

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with super().transaction() as tx:
            yield tx
        if self.cut_next:
            self.cut_next = False
            raise StoreUnavailableError("the connection was lost while committing")


class Setup:
    def __init__(self, tmp_path: Path, db_class: type[Database] = Database) -> None:
        self.path = tmp_path / "state.db"
        self.db = db_class(f"sqlite:///{self.path}", busy_timeout=0.05)
        self.project = project_of(FLOW, engine=EngineSettings(lease_timeout=30))
        self.clock = FakeClock()
        self.ex = ManualExecutor()
        self.engine = Engine(
            self.project, self.db, executor=self.ex, clock=self.clock, rng=random.Random(0)
        )
        self.engine.start()
        self.run_id = create_run(self.db, self.project, self.clock, "wf")
        self._holder: sqlite3.Connection | None = None

    def lock(self) -> None:
        """Another process's write lock on the store, held until ``unlock``."""
        self._holder = sqlite3.connect(self.path, isolation_level=None)
        self._holder.execute("BEGIN EXCLUSIVE")

    def unlock(self) -> None:
        assert self._holder is not None
        self._holder.execute("ROLLBACK")
        self._holder.close()
        self._holder = None

    def attempts(self) -> list[tuple[str, int, str]]:
        rows = self.db.read().fetchall(
            "SELECT task_id, number, status FROM attempts ORDER BY task_id, number"
        )
        return [(t, int(n), s) for t, n, s in rows]

    def close(self) -> None:
        if self._holder is not None:
            self.unlock()
        self.engine.close()
        self.db.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    made = Setup(tmp_path)
    yield made
    made.close()


def test_a_step_the_store_refuses_loses_no_result_and_claims_nothing(setup: Setup) -> None:
    setup.engine.step()
    assert setup.ex.running() == ["a", "c"]
    setup.lock()
    setup.ex.succeed("a", "A")
    setup.ex.fail("c", "boom", retryable=False)
    with pytest.raises(StoreUnavailableError, match="write lock"):
        setup.engine.step()
    assert setup.ex.running() == []  # b was not claimed: its upstream is not recorded
    assert setup.engine.busy  # a and c still count as running here

    setup.unlock()
    setup.engine.step()
    assert setup.attempts() == [("a", 1, "succeeded"), ("b", 1, "running"), ("c", 1, "failed")]
    assert setup.ex.running() == ["b"]
    assert [job.key[1] for job in setup.ex.submitted] == ["a", "c", "b"]  # each once


def test_a_step_cut_off_after_its_commit_is_finished_once_the_store_says_it_landed(
    tmp_path: Path,
) -> None:
    made = Setup(tmp_path, CutOffDatabase)
    try:
        assert isinstance(made.db, CutOffDatabase)
        made.db.cut_next = True
        made.engine.step()  # claims a and c; reads its step token back: the commit landed
        assert made.attempts() == [("a", 1, "running"), ("c", 1, "running")]
        assert sorted(job.key[1:] for job in made.ex.submitted) == [("a", 1), ("c", 1)]
        made.engine.step()
        assert made.attempts() == [("a", 1, "running"), ("c", 1, "running")]
        assert len(made.ex.submitted) == 2
    finally:
        made.close()


def test_an_end_recorded_by_a_cut_off_commit_is_not_recorded_twice(tmp_path: Path) -> None:
    """The step's token shows its commit landed: a's end is not written again and b,
    claimed by that commit, is handed out once (no lost attempt)."""
    made = Setup(tmp_path, CutOffDatabase)
    try:
        assert isinstance(made.db, CutOffDatabase)
        made.engine.step()
        made.ex.succeed("a", "A")
        made.db.cut_next = True
        made.engine.step()  # a's end and b's claim committed; the error is settled
        made.engine.step()
        assert made.engine.stats.stale_refused == 0
        finished = made.db.read().fetchall(
            "SELECT task_id FROM events WHERE type = 'AttemptFinished' ORDER BY seq"
        )
        assert finished == [("a",)]
        assert made.attempts() == [("a", 1, "succeeded"), ("b", 1, "running"), ("c", 1, "running")]
        assert [job.key[1:] for job in made.ex.submitted] == [("a", 1), ("c", 1), ("b", 1)]
    finally:
        made.close()


def test_run_waits_out_the_outage_and_says_when_it_began_and_ended(setup: Setup) -> None:
    reported: list[str | None] = []
    away = threading.Event()

    def on_outage(reason: str | None) -> None:
        reported.append(reason)
        away.set()

    setup.engine.on_outage = on_outage
    setup.lock()
    stop = threading.Event()
    thread = threading.Thread(
        target=setup.engine.run, args=(lambda: bool(setup.ex.pending), stop), daemon=True
    )
    thread.start()
    try:
        assert away.wait(10), "the engine never reported the store away"
        assert setup.engine.outage is not None
        assert "write lock" in setup.engine.outage.reason
        assert thread.is_alive()  # waiting, not dead
        setup.unlock()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the engine did not carry on once the store was back"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert setup.engine.outage is None
    assert len(reported) == 2 and reported[0] is not None and reported[1] is None
    assert setup.engine.stats.store_failures >= 1
    assert setup.ex.running() == ["a", "c"]


def test_a_full_or_locked_store_is_unavailable_but_bad_sql_is_not(setup: Setup) -> None:
    with pytest.raises(sqlite3.OperationalError):  # a bug, not an outage: not waited for
        setup.db.read().fetchall("SELECT no_such_column FROM runs")
    setup.lock()
    with pytest.raises(StoreUnavailableError) as caught, setup.db.transaction() as tx:
        tx.execute("UPDATE runs SET status = status")
    message = str(caught.value)
    assert str(setup.path) in message and "nothing is lost" in message
