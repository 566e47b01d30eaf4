"""Pools bound concurrency across runs; priority decides who goes first."""

from __future__ import annotations

from typing import Any

from podium.core.workflow import EngineSettings, Task, Workflow


def pooled(task_id: str, pool: str = "api", **kw: Any) -> Task:
    return Task(task_id, "run", "tasks:noop", pool=pool, **kw)


def test_a_pool_of_two_never_runs_more_than_two(make_harness: Any) -> None:
    wf = Workflow("wf", tuple(pooled(f"t{i}") for i in range(6)))
    h = make_harness(wf, pools={"api": 2})
    run = h.start("wf")
    most, finished = 0, []
    for _ in range(20):
        h.step()
        running = h.ex.running()
        assert len(running) <= 2, running
        most = max(most, len(running))
        if not running:
            break
        finished.append(running[0])
        h.ex.succeed(running[0])
    assert most == 2
    assert sorted(finished) == [f"t{i}" for i in range(6)]
    assert h.status(run) == "succeeded"


def test_a_pool_is_shared_by_every_run_and_workflow(make_harness: Any) -> None:
    a = Workflow("a", (pooled("x"), pooled("y")))
    b = Workflow("b", (pooled("z"), Task("free", "run", "tasks:noop")))
    h = make_harness(a, b, pools={"api": 2})
    h.start("a")
    h.start("a")
    h.start("b")
    h.step()
    assert len(h.ex.running()) == 3  # two pooled tasks plus the unpooled one
    assert "free" in h.ex.running()
    while h.ex.pending:
        h.succeed_key(next(iter(h.ex.pending)))
        h.step()
        pooled_running = [t for t in h.ex.running() if t != "free"]
        assert len(pooled_running) <= 2
    assert {r["status"] for r in h.runs()} == {"succeeded"}


def test_a_freed_slot_goes_to_the_next_task_in_the_same_step(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (pooled("a"), pooled("b"))), pools={"api": 1})
    h.start("wf")
    h.step()
    assert h.ex.running() == ["a"]
    h.ex.succeed("a")
    h.step()
    assert h.ex.running() == ["b"]


def test_higher_priority_tasks_are_submitted_first(make_harness: Any) -> None:
    priorities = {"low": 0, "top": 10, "mid": 5, "lowish": 1}
    wf = Workflow("wf", tuple(pooled(name, priority=p) for name, p in priorities.items()))
    h = make_harness(wf, pools={"api": 1})
    run = h.start("wf")
    order = []
    for _ in range(len(priorities)):
        h.step()
        (name,) = h.ex.running()
        order.append(name)
        h.ex.succeed(name)
    h.step()
    assert order == ["top", "mid", "lowish", "low"]
    assert h.status(run) == "succeeded"


def test_priority_orders_claims_across_runs(make_harness: Any) -> None:
    background = Workflow("backfill", (pooled("load"),))
    urgent = Workflow("urgent", (pooled("load", priority=100),))
    h = make_harness(background, urgent, pools={"api": 1})
    h.start("backfill")
    h.start("backfill")
    h.clock.advance(1)
    h.start("urgent")
    h.step()
    (job,) = h.ex.submitted
    assert job.workflow == "urgent"


def test_a_full_pool_does_not_starve_tasks_outside_it(make_harness: Any) -> None:
    """Many ready tasks waiting for a full pool must not hide a task that could run."""
    bulk = Workflow("bulk", tuple(pooled(f"t{i}") for i in range(30)))
    other = Workflow("other", (Task("report", "run", "tasks:noop"),))
    h = make_harness(bulk, other, pools={"api": 1}, settings=EngineSettings(workers=2))
    h.start("bulk")
    h.clock.advance(1)
    h.start("other")
    h.step()
    h.step()
    assert "report" in h.ex.running()
    assert len([t for t in h.ex.running() if t != "report"]) == 1
