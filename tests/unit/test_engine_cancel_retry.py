"""Cancelling a run, and re-running what failed."""

from __future__ import annotations

from typing import Any

import pytest

from podium.core.status import TriggerRule
from podium.core.workflow import RetryPolicy, Task, Workflow
from podium.engine import services, state
from podium.engine.journal import Journal
from podium.engine.state import Graphs
from podium.errors import UsageError


def task(task_id: str, *deps: str, **kw: Any) -> Task:
    return Task(task_id, "run", f"tasks:{task_id}", depends_on=deps, **kw)


def retry(h: Any, run_id: str, failed_only: bool = True) -> list[str]:
    """``state.retry_run`` at the fake clock's time (the service reads the real clock)."""
    with h.db.transaction() as tx:
        j = Journal(tx, h.clock())
        tasks = state.retry_run(
            j, run_id, failed_only=failed_only, graphs=Graphs(h.project.workflows)
        )
        j.flush()
    return tasks


def cancel(h: Any, run_id: str) -> bool:
    with h.db.transaction() as tx:
        j = Journal(tx, h.clock())
        changed = state.request_cancel(j, run_id, Graphs(h.project.workflows))
        j.flush()
    return changed


# -- cancel -----------------------------------------------------------------------------

CANCEL_WF = Workflow("wf", (task("a", pool="p"), task("b", "a"), task("c", pool="p"), task("d")))


def test_cancel_ends_queued_tasks_at_once_and_running_ones_at_the_next_step(
    make_harness: Any,
) -> None:
    h = make_harness(CANCEL_WF, pools={"p": 1})
    run = h.start("wf")
    h.step()
    assert h.ex.running() == ["a", "d"]  # c waits for the pool, b for a
    key_a, key_d = h.ex.key_of("a"), h.ex.key_of("d")
    h.ex.succeed("d")

    assert services.cancel_run(h.db, h.project, run) is True
    assert h.task_status(run) == {
        "a": "running",
        "b": "cancelled",
        "c": "cancelled",
        "d": "running",
    }
    assert h.status(run) == "running"

    h.engine.poke()  # what the store's wake-up does
    h.step()
    assert sorted(h.ex.cancelled) == [key_a]  # d had ended already
    assert h.task_status(run) == {
        "a": "cancelled",
        "b": "cancelled",
        "c": "cancelled",
        "d": "succeeded",
    }
    assert h.attempts(run) == [("a", 1, "cancelled"), ("d", 1, "succeeded")]
    assert h.status(run) == "cancelled"
    assert [e["status"] for e in h.events("RunFinished", run)] == ["cancelled"]
    assert len(h.events("RunCancelled", run)) == 1
    assert key_d not in h.ex.pending

    h.ex.report_late(key_a)  # the killed attempt reports after all
    h.step()
    assert h.attempts(run)[0] == ("a", 1, "cancelled")
    assert h.status(run) == "cancelled"
    assert h.ex.running() == []  # nothing new was started


def test_cancel_of_a_run_with_only_queued_tasks_ends_it_at_once(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a"), task("b", "a")), max_active_runs=1))
    first = h.start("wf")
    second = h.start("wf")
    h.step()
    assert (h.status(first), h.status(second)) == ("running", "queued")
    assert cancel(h, second) is True
    assert h.status(second) == "cancelled"
    assert h.task_status(second) == {"a": "cancelled", "b": "cancelled"}
    assert h.status(first) == "running"
    h.ex.succeed("a")
    h.step()
    assert [j.key[0] for j in h.ex.submitted] == [first, first]


def test_cancel_of_a_finished_run_changes_nothing(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a"),)))
    run = h.start("wf")
    h.step()
    h.ex.succeed("a")
    h.step()
    assert services.cancel_run(h.db, h.project, run) is False
    assert h.status(run) == "succeeded"
    assert h.events("RunCancelled") == []


def test_cancel_stops_a_task_waiting_for_its_retry(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a", retry=RetryPolicy(retries=3, delay=60)),)))
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert cancel(h, run) is True
    assert h.status(run) == "cancelled"
    h.clock.advance(120)
    h.step()
    assert h.attempts(run) == [("a", 1, "failed")]


# -- retry ------------------------------------------------------------------------------

RETRY_WF = Workflow("wf", (task("a"), task("b", "a"), task("c", "b"), task("x")))


def failed_run(h: Any) -> str:
    """a succeeds, b fails, c is upstream_failed, x succeeds."""
    run = h.start("wf")
    h.step()
    h.ex.succeed("a", {"orders": 3})
    h.ex.succeed("x")
    h.step()
    h.ex.fail("b", "warehouse down")
    h.step()
    assert h.status(run) == "failed"
    return run


def test_retry_failed_only_reruns_failed_tasks_on_kept_outputs(make_harness: Any) -> None:
    h = make_harness(RETRY_WF)
    run = failed_run(h)
    assert retry(h, run) == ["b", "c"]
    assert h.status(run) == "running"
    assert h.task_status(run) == {"a": "succeeded", "b": "queued", "c": "queued", "x": "succeeded"}
    (retried,) = h.events("RunRetried")
    assert retried["tasks"] == ["b", "c"]

    h.step()
    assert h.ex.running() == ["b"]
    job_b = h.ex.succeed("b", "ok")
    assert job_b.key[2] == 2  # attempt numbers go on
    assert job_b.upstream == {"a": {"orders": 3}}
    h.step()
    h.ex.succeed("c")
    h.step()
    assert h.status(run) == "succeeded"
    assert h.attempts(run) == [
        ("a", 1, "succeeded"),
        ("b", 1, "failed"),
        ("b", 2, "succeeded"),
        ("c", 1, "succeeded"),
        ("x", 1, "succeeded"),
    ]
    assert [j.key[1] for j in h.ex.submitted].count("a") == 1
    assert h.tasks(run)["a"]["output"] == {"orders": 3}
    assert h.tasks(run)["b"]["error"] is None
    assert [e["status"] for e in h.events("RunFinished", run)] == ["failed", "succeeded"]


def test_retry_of_everything_reruns_succeeded_tasks_too(make_harness: Any) -> None:
    h = make_harness(RETRY_WF)
    run = failed_run(h)
    assert retry(h, run, failed_only=False) == ["a", "b", "c", "x"]
    h.step()
    assert h.ex.running() == ["a", "x"]
    assert h.ex.succeed("a").key[2] == 2


def test_a_retried_task_gets_its_retries_again(make_harness: Any) -> None:
    wf = Workflow("wf", (task("a", retry=RetryPolicy(retries=1)),))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.status(run) == "failed"
    retry(h, run)
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.attempts(run)[-1] == ("a", 4, "running")  # the retry budget starts again
    h.ex.succeed("a")
    h.step()
    assert [n for _, n, _ in h.attempts(run)] == [1, 2, 3, 4]
    assert h.status(run) == "succeeded"


def test_retry_reruns_cancelled_tasks(make_harness: Any) -> None:
    h = make_harness(RETRY_WF)
    run = h.start("wf")
    h.step()
    cancel(h, run)
    h.engine.poke()
    h.step()
    assert h.status(run) == "cancelled"
    assert retry(h, run) == ["a", "b", "c", "x"]
    h.step()
    assert h.ex.running() == ["a", "a", "x", "x"]  # the cancelled attempts never reported
    assert [n for t, n, s in h.attempts(run) if s == "running"] == [2, 2]


def test_retry_starts_a_root_task_whatever_its_trigger_rule(make_harness: Any) -> None:
    """``defaults: {trigger_rule: one_success}`` gives root tasks that rule too."""
    wf = Workflow("wf", (task("a", trigger_rule=TriggerRule.ONE_SUCCESS),))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert retry(h, run) == ["a"]
    h.step()
    assert h.ex.running() == ["a"]
    h.ex.succeed("a")
    h.step()
    assert h.status(run) == "succeeded"


def test_retry_of_a_running_run_is_refused(make_harness: Any) -> None:
    h = make_harness(RETRY_WF)
    run = h.start("wf")
    h.step()
    assert retry(h, run) == []
    with pytest.raises(UsageError, match="still running"):
        services.retry_run(h.db, h.project, run, failed_only=True)
    assert h.events("RunRetried") == []
    assert h.task_status(run)["a"] == "running"


def test_retry_of_a_succeeded_run_with_failed_only_is_refused(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a"),)))
    run = h.start("wf")
    h.step()
    h.ex.succeed("a")
    h.step()
    assert retry(h, run) == []
    with pytest.raises(UsageError, match="no failed tasks"):
        services.retry_run(h.db, h.project, run, failed_only=True)
    assert h.status(run) == "succeeded"
