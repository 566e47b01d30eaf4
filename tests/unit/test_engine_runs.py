"""Runs as a whole: ``workflow`` tasks and child runs, ``max_active_runs``, the job context."""

from __future__ import annotations

from typing import Any

from podium.core.status import OnLate
from podium.core.workflow import RetryPolicy, Task, Workflow
from podium.engine import services


def task(task_id: str, *deps: str, **kw: Any) -> Task:
    return Task(task_id, "run", f"tasks:{task_id}", depends_on=deps, **kw)


CHILD = Workflow("child", (task("c1"), task("c2", "c1")))


def parent(**sub: Any) -> Workflow:
    return Workflow(
        "parent",
        (task("prep"), Task("sub", "workflow", "child", ("prep",), **sub), task("after", "sub")),
    )


def child_runs(h: Any) -> list[dict[str, Any]]:
    return h.runs("child")


# -- workflow tasks ---------------------------------------------------------------------


def test_a_workflow_task_starts_a_child_run_and_ends_with_it(make_harness: Any) -> None:
    h = make_harness(parent(), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step()
    (child,) = child_runs(h)
    assert child["parent_run_id"] == run
    row = h.db.read().fetchone(
        "SELECT parent_task_id, root_id FROM runs WHERE id = ?", (child["run_id"],)
    )
    assert row == ("sub", run)
    assert h.task_status(run)["sub"] == "running"
    assert h.ex.running() == []  # the workflow task itself is not an executor job

    h.step()
    assert h.ex.running() == ["c1"]
    h.ex.succeed("c1")
    h.step()
    h.ex.succeed("c2")
    h.step()
    assert h.status(child["run_id"]) == "succeeded"
    assert h.tasks(run)["sub"]["status"] == "succeeded"
    assert h.tasks(run)["sub"]["output"] == {"run_id": child["run_id"], "status": "succeeded"}
    assert h.ex.running() == ["after"]
    h.ex.succeed("after")
    h.step()
    assert h.status(run) == "succeeded"


def test_a_failed_child_run_fails_the_workflow_task(make_harness: Any) -> None:
    h = make_harness(parent(), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step(2)
    h.ex.fail("c1")
    h.step()
    (child,) = child_runs(h)
    assert h.status(child["run_id"]) == "failed"
    assert h.task_status(run) == {"prep": "succeeded", "sub": "failed", "after": "upstream_failed"}
    assert h.status(run) == "failed"
    assert f"workflow run {child['run_id']} ended failed" in h.tasks(run)["sub"]["error"]


def test_a_retried_workflow_task_starts_a_new_child_run(make_harness: Any) -> None:
    h = make_harness(parent(retry=RetryPolicy(retries=1)), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step(2)
    h.ex.fail("c1")
    h.step()
    assert sorted(r["status"] for r in child_runs(h)) == ["failed", "queued"]
    second = next(r for r in child_runs(h) if r["status"] == "queued")
    h.step()
    h.ex.succeed("c1")
    h.step()
    h.ex.succeed("c2")
    h.step()
    assert h.attempts(run, "sub") == [("sub", 1, "failed"), ("sub", 2, "succeeded")]
    assert h.tasks(run)["sub"]["output"]["run_id"] == second["run_id"]


def test_cancelling_the_parent_cancels_the_child_run(make_harness: Any) -> None:
    h = make_harness(parent(), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step(2)
    (child,) = child_runs(h)
    services.cancel_run(h.db, h.project, run)
    h.engine.poke()
    h.step()
    assert h.status(child["run_id"]) == "cancelled"
    assert h.status(run) == "cancelled"
    assert h.task_status(run) == {"prep": "succeeded", "sub": "cancelled", "after": "cancelled"}


def test_a_workflow_task_ended_before_late_after_is_never_late(make_harness: Any) -> None:
    h = make_harness(parent(late_after=10, on_late=OnLate.CONTINUE), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step(2)
    h.ex.succeed("c1")
    h.step()
    h.ex.succeed("c2")
    h.step()
    h.ex.succeed("after")
    h.step()
    assert h.status(run) == "succeeded"
    h.clock.advance(60)
    h.step()
    assert h.events("TaskLate") == []
    assert h.tasks(run)["sub"]["late"] is False


def test_the_engine_is_not_busy_once_a_workflow_task_ended(make_harness: Any) -> None:
    h = make_harness(parent(), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step(2)
    h.ex.succeed("c1")
    h.step()
    h.ex.succeed("c2")
    h.step()
    h.ex.succeed("after")
    h.step()
    assert h.status(run) == "succeeded"
    assert not h.engine.busy


def test_an_ended_workflow_attempt_does_not_time_out_its_retry(make_harness: Any) -> None:
    h = make_harness(parent(timeout=100, retry=RetryPolicy(retries=1)), CHILD)
    run = h.start("parent")
    h.step()
    h.ex.succeed("prep")
    h.step(2)
    h.clock.advance(60)
    h.ex.fail("c1")  # child run 1 fails: attempt 1 ends, attempt 2 starts child run 2
    h.step()
    h.step()  # child run 2 is under way; attempt 2 has 100 s from now
    h.clock.advance(50)  # past attempt 1's deadline, well within attempt 2's
    h.step()
    h.engine.poke()
    h.step()
    (second,) = [r["run_id"] for r in child_runs(h) if r["status"] != "failed"]
    assert h.task_status(second) == {"c1": "running", "c2": "queued"}
    assert h.status(second) == "running"
    assert h.attempts(run, "sub")[-1] == ("sub", 2, "running")


# -- max_active_runs --------------------------------------------------------------------


def test_max_active_runs_holds_a_second_run_until_the_first_ends(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a"), task("b", "a")), max_active_runs=1))
    first = h.start("wf")
    h.clock.advance(1)
    second = h.start("wf")
    h.step()
    assert (h.status(first), h.status(second)) == ("running", "queued")
    assert [j.key[0] for j in h.ex.submitted] == [first]
    h.ex.succeed("a")
    h.step()
    h.clock.advance(600)
    h.step()
    assert h.status(second) == "queued"
    assert [j.key[0] for j in h.ex.submitted] == [first, first]
    h.ex.succeed("b")
    h.step()
    assert (h.status(first), h.status(second)) == ("succeeded", "running")
    assert [j.key[:2] for j in h.ex.submitted][-1] == (second, "a")
    h.ex.succeed("a")
    h.step()
    h.ex.succeed("b")
    h.step()
    assert h.status(second) == "succeeded"


def test_max_active_runs_counts_failed_runs_as_ended(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a"),), max_active_runs=1))
    first, second, third = h.start("wf"), h.start("wf"), h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert [h.status(r) for r in (first, second, third)] == ["failed", "running", "queued"]


# -- the job context --------------------------------------------------------------------


def test_a_job_gets_merged_params_upstream_outputs_and_a_stable_idempotency_key(
    make_harness: Any,
) -> None:
    wf = Workflow(
        "wf",
        (
            task("extract", retry=RetryPolicy(retries=1)),
            task("load", "extract", params={"mode": "merge", "days": 3}),
        ),
        params={"store": "us", "days": 1, "mode": "append"},
    )
    h = make_harness(wf)
    run = h.start("wf", {"days": 7})
    other = h.start("wf")
    h.step()
    first = h.fail_key(next(k for k in h.ex.pending if k[0] == run))
    h.step()
    jobs = [j for j in h.ex.submitted if j.key[0] == run]
    second = jobs[-1]
    assert (first.key[2], second.key[2]) == (1, 2)
    assert first.idempotency_key == second.idempotency_key == f"{run}:extract"
    other_key = next(j for j in h.ex.submitted if j.key[0] == other).idempotency_key
    assert other_key != first.idempotency_key
    assert first.params == {"store": "us", "days": 7, "mode": "append"}
    assert first.logical_time == h.run(run)["logical_time"]
    assert first.trigger == {"type": "manual"}

    h.succeed_key(second.key, {"rows": 42})
    h.step()
    (load,) = [j for j in h.ex.submitted if j.key[:2] == (run, "load")]
    assert load.params == {"store": "us", "days": 3, "mode": "merge"}  # task params win
    assert load.upstream == {"extract": {"rows": 42}}
    assert load.late_upstreams == ()
    assert load.workflow == "wf"
    assert load.kind == "run" and load.target == "tasks:load"
