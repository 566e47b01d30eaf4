"""Trigger rules end to end: what the engine starts, skips and fails as upstreams end."""

from __future__ import annotations

from typing import Any

from podium.core.status import TriggerRule
from podium.core.workflow import Task, Workflow

R = TriggerRule


def task(task_id: str, *deps: str, **kw: Any) -> Task:
    return Task(task_id, "run", "tasks:noop", depends_on=deps, **kw)


def test_a_chain_runs_in_order_and_the_run_succeeds(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("a"), task("b", "a"), task("c", "b"))))
    run = h.start("wf")
    for name in "abc":
        h.step()
        assert h.ex.running() == [name]
        h.ex.succeed(name, name.upper())
    h.step()
    assert h.task_status(run) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert h.tasks(run)["c"]["output"] == "C"
    assert h.status(run) == "succeeded"
    assert [e["run_id"] for e in h.events("RunFinished")] == [run]


def test_a_failure_fails_its_dependants_transitively(make_harness: Any) -> None:
    wf = Workflow("wf", (task("a"), task("b", "a"), task("c", "b"), task("x")))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    assert h.ex.running() == ["a", "x"]
    h.ex.fail("a")
    h.step()
    assert h.task_status(run) == {
        "a": "failed",
        "b": "upstream_failed",
        "c": "upstream_failed",
        "x": "running",
    }
    assert h.status(run) == "running"  # x still runs
    h.ex.succeed("x")
    h.step()
    assert h.status(run) == "failed"
    assert h.ex.running() == []
    assert [(e["task_id"], e["status"]) for e in h.events("TaskFinished")] == [
        ("a", "failed"),
        ("b", "upstream_failed"),
        ("c", "upstream_failed"),
        ("x", "succeeded"),
    ]


def test_all_done_runs_after_a_failure(make_harness: Any) -> None:
    wf = Workflow(
        "wf",
        (task("a"), task("b"), task("cleanup", "a", "b", trigger_rule=R.ALL_DONE)),
    )
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.ex.running() == ["b"]  # cleanup waits for b as well
    h.ex.succeed("b")
    h.step()
    assert h.ex.running() == ["cleanup"]
    h.ex.succeed("cleanup")
    h.step()
    assert h.task_status(run)["cleanup"] == "succeeded"
    assert h.status(run) == "failed"  # a's failure still fails the run


def test_one_success_starts_as_soon_as_one_upstream_succeeds(make_harness: Any) -> None:
    wf = Workflow("wf", (task("a"), task("b"), task("first", "a", "b", trigger_rule=R.ONE_SUCCESS)))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.succeed("a")
    h.step()
    assert h.ex.running() == ["b", "first"]
    h.ex.fail("b")
    h.step()
    h.ex.succeed("first")
    h.step()
    assert h.task_status(run) == {"a": "succeeded", "b": "failed", "first": "succeeded"}
    assert h.status(run) == "failed"


def test_one_success_fails_when_no_upstream_succeeds(make_harness: Any) -> None:
    wf = Workflow("wf", (task("a"), task("b"), task("first", "a", "b", trigger_rule=R.ONE_SUCCESS)))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.task_status(run)["first"] == "queued"  # b may still succeed
    h.ex.fail("b")
    h.step()
    assert h.task_status(run)["first"] == "upstream_failed"
    assert h.status(run) == "failed"


def test_all_failed_runs_only_when_every_upstream_failed(make_harness: Any) -> None:
    wf = Workflow(
        "wf",
        (
            task("a"),
            task("b"),
            task("c"),
            task("alarm", "a", "b", trigger_rule=R.ALL_FAILED),
            task("quiet", "a", "c", trigger_rule=R.ALL_FAILED),
        ),
    )
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.ex.succeed("c")
    h.step()
    assert h.task_status(run)["quiet"] == "skipped"  # c succeeded: at once
    assert h.task_status(run)["alarm"] == "queued"
    h.ex.fail("b")
    h.step()
    assert h.ex.running() == ["alarm"]
    h.ex.succeed("alarm")
    h.step()
    assert h.task_status(run) == {
        "a": "failed",
        "b": "failed",
        "c": "succeeded",
        "alarm": "succeeded",
        "quiet": "skipped",
    }
    assert h.status(run) == "failed"


def test_one_failed_runs_on_the_first_failure(make_harness: Any) -> None:
    wf = Workflow("wf", (task("a"), task("b"), task("alert", "a", "b", trigger_rule=R.ONE_FAILED)))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.ex.running() == ["alert", "b"]
    h.ex.succeed("alert")
    h.ex.succeed("b")
    h.step()
    assert h.task_status(run)["alert"] == "succeeded"


def test_none_failed_runs_with_a_skipped_upstream_and_the_run_succeeds(
    make_harness: Any,
) -> None:
    wf = Workflow(
        "wf",
        (
            task("a"),
            task("on_failure", "a", trigger_rule=R.ALL_FAILED),  # skipped: a succeeds
            task("after_skip", "on_failure"),  # all_success: the skip cascades
            task("join", "a", "on_failure", trigger_rule=R.NONE_FAILED),
        ),
    )
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.succeed("a")
    h.step()
    assert h.ex.running() == ["join"]
    h.ex.succeed("join")
    h.step()
    assert h.task_status(run) == {
        "a": "succeeded",
        "on_failure": "skipped",
        "after_skip": "skipped",
        "join": "succeeded",
    }
    assert h.status(run) == "succeeded"


def test_none_failed_is_upstream_failed_after_a_failure(make_harness: Any) -> None:
    wf = Workflow("wf", (task("a"), task("b"), task("join", "a", "b", trigger_rule=R.NONE_FAILED)))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.task_status(run)["join"] == "upstream_failed"
    h.ex.succeed("b")
    h.step()
    assert h.status(run) == "failed"


def test_all_done_after_an_upstream_failed_task_runs(make_harness: Any) -> None:
    """upstream_failed propagates as a failure that all_done still waits for and runs after."""
    wf = Workflow("wf", (task("a"), task("b", "a"), task("end", "b", trigger_rule=R.ALL_DONE)))
    h = make_harness(wf)
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.task_status(run)["b"] == "upstream_failed"
    assert h.ex.running() == ["end"]
