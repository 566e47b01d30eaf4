"""Leases: a dead engine's attempts are taken over, and its late writes are refused."""

from __future__ import annotations

from typing import Any

from podium.core.status import AttemptStatus, OnLate
from podium.core.workflow import EngineSettings, Task, Workflow
from podium.engine import state
from podium.engine.journal import Journal
from podium.engine.state import MAX_LOST, Graphs, Outcome
from podium.testing import ManualExecutor

SETTINGS = EngineSettings(lease_timeout=30)


def pipeline(**a: Any) -> Workflow:
    return Workflow(
        "wf",
        (
            Task("a", "run", "tasks:a", produces=("raw.orders",), **a),
            Task("b", "run", "tasks:b", ("a",)),
        ),
    )


def owners(h: Any, run_id: str) -> list[tuple[int, str, str]]:
    rows = h.db.read().fetchall(
        "SELECT number, status, owner FROM attempts WHERE run_id = ? AND task_id = 'a'"
        " ORDER BY number",
        (run_id,),
    )
    return [(int(n), s, o) for n, s, o in rows]


def test_an_expired_lease_is_taken_over_and_the_late_report_refused(make_harness: Any) -> None:
    h = make_harness(pipeline(), settings=SETTINGS, owner="A")
    ex_b = ManualExecutor()
    b = h.new_engine(ex_b, owner="B")
    run = h.start("wf")
    h.step()  # A claims
    assert h.ex.running() == ["a"]
    b.step()
    assert ex_b.running() == []  # A's lease is live: B leaves it alone

    h.clock.advance(31)  # A stops stepping (its process hangs or died)
    b.step()
    assert owners(h, run) == [(1, "lost", "A"), (2, "running", "B")]
    assert ex_b.running() == ["a"]
    assert b.stats.recovered == 1
    assert h.tasks(run)["a"]["attempts"] == 2

    h.ex.succeed("a", "from A")  # A comes back and reports its attempt
    h.step()
    assert h.engine.stats.stale_refused == 1
    assert owners(h, run) == [(1, "lost", "A"), (2, "running", "B")]
    assert h.task_status(run) == {"a": "running", "b": "queued"}
    assert h.ex.running() == []  # A did not claim anything

    ex_b.succeed("a", "from B")
    b.step()
    assert owners(h, run) == [(1, "lost", "A"), (2, "succeeded", "B")]
    assert h.tasks(run)["a"]["output"] == "from B"
    assert ex_b.running() == ["b"]
    ex_b.succeed("b")
    b.step()
    assert h.status(run) == "succeeded"
    finished = [(e["task_id"], e["attempt"], e["status"]) for e in h.events("AttemptFinished")]
    assert finished == [("a", 1, "lost"), ("a", 2, "succeeded"), ("b", 1, "succeeded")]
    assert [e["task_id"] for e in h.events("TaskFinished")] == ["a", "b"]
    assert len(h.events("AssetUpdated")) == 1
    assert len(h.events("RunFinished")) == 1


def test_a_lost_attempt_does_not_use_a_retry(make_harness: Any) -> None:
    h = make_harness(pipeline(), settings=SETTINGS, owner="A")  # no retries
    b = h.new_engine(ManualExecutor(), owner="B")
    run = h.start("wf")
    h.step()
    h.clock.advance(31)
    b.step()
    b.executor.fail("a")  # type: ignore[attr-defined]
    b.step()
    assert owners(h, run) == [(1, "lost", "A"), (2, "failed", "B")]
    assert h.task_status(run)["a"] == "failed"


def test_a_live_engine_keeps_its_leases(make_harness: Any) -> None:
    h = make_harness(pipeline(), settings=SETTINGS, owner="A")
    b = h.new_engine(ManualExecutor(), owner="B")
    run = h.start("wf")
    h.step()
    for _ in range(6):  # 120 s in all, A renewing every 20 s
        h.clock.advance(20)
        h.step()
        b.step()
    assert owners(h, run) == [(1, "running", "A")]
    assert b.stats.recovered == 0


def test_an_attempt_lost_too_often_fails(make_harness: Any) -> None:
    h = make_harness(pipeline(), settings=SETTINGS, owner="E0")
    run = h.start("wf")
    h.step()
    for n in range(1, MAX_LOST + 2):
        h.clock.advance(31)
        h.new_engine(ManualExecutor(), owner=f"E{n}").step()
    statuses = [status for _, status, _ in owners(h, run)]
    assert statuses == ["lost"] * (MAX_LOST + 1)
    assert h.task_status(run)["a"] == "failed"
    assert h.status(run) == "failed"


def test_finish_attempts_refuses_a_wrong_owner(make_harness: Any) -> None:
    h = make_harness(pipeline(), settings=SETTINGS, owner="A")
    run = h.start("wf")
    h.step()
    graphs = Graphs(h.project.workflows)
    outcome = Outcome(run, "a", 1, AttemptStatus.SUCCEEDED, output='"x"')
    with h.db.transaction() as tx:
        j = Journal(tx, h.clock())
        stale = state.finish_attempts(j, [outcome], owner="B", graphs=graphs, draw=lambda: 0.5)
        j.flush()
    assert stale == [outcome]
    assert owners(h, run) == [(1, "running", "A")]
    assert h.events("AttemptFinished") == []

    with h.db.transaction() as tx:
        j = Journal(tx, h.clock())
        stale = state.finish_attempts(j, [outcome], owner="A", graphs=graphs, draw=lambda: 0.5)
        again = state.finish_attempts(j, [outcome], owner="A", graphs=graphs, draw=lambda: 0.5)
        j.flush()
    assert (stale, again) == ([], [outcome])  # recorded once; the repeat is refused
    assert owners(h, run) == [(1, "succeeded", "A")]
    assert len(h.events("AttemptFinished")) == 1


def test_a_fenced_off_engine_does_not_mark_the_new_attempt_late(make_harness: Any) -> None:
    h = make_harness(pipeline(late_after=10, on_late=OnLate.CONTINUE), settings=SETTINGS, owner="A")
    ex_b = ManualExecutor()
    b = h.new_engine(ex_b, owner="B")
    run = h.start("wf")
    h.step()
    h.clock.advance(31)
    b.step()  # B takes over; its own attempt is not late yet
    h.step()  # A wakes up: its attempt 1 is long past late_after, but no longer A's
    assert h.events("TaskLate") == []
    assert h.tasks(run)["a"]["late"] is False
    assert h.task_status(run)["b"] == "queued"
    assert ex_b.running() == ["a"] and h.ex.running() == ["a"]
    assert not [j for j in h.ex.submitted + ex_b.submitted if j.key[1] == "b"]
