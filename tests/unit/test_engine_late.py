"""Late tasks: ``on_late`` continue (with a catch-up run), fail and wait."""

from __future__ import annotations

from typing import Any

from podium.core.status import OnLate
from podium.core.workflow import RetryPolicy, Task, Workflow


def daily(on_late: OnLate, **amazon: Any) -> Workflow:
    """amazon (late) and shopify share a pool of one; models and audience lie downstream of
    both; report lies downstream of shopify only."""
    return Workflow(
        "daily",
        (
            Task(
                "amazon",
                "run",
                "tasks:amazon",
                pool="ext",
                late_after=10,
                on_late=on_late,
                **amazon,
            ),
            Task("shopify", "run", "tasks:shopify", pool="ext"),
            Task(
                "models",
                "run",
                "tasks:models",
                ("amazon", "shopify"),
                produces=("commerce.orders",),
            ),
            Task("audience", "run", "tasks:audience", ("models",)),
            Task("report", "run", "tasks:report", ("shopify",)),
        ),
    )


def job_of(h: Any, run_id: str, task_id: str) -> Any:
    (job,) = [j for j in h.ex.submitted if j.key[:2] == (run_id, task_id)]
    return job


def test_on_late_continue_lets_dependants_run_then_catches_up(make_harness: Any) -> None:
    h = make_harness(daily(OnLate.CONTINUE), pools={"ext": 1})
    run = h.start("daily")
    h.step()
    assert h.ex.running() == ["amazon"]
    h.clock.advance(9)
    h.step()
    assert h.events("TaskLate") == []
    assert h.ex.running() == ["amazon"]

    h.clock.advance(2)
    h.step()
    (late,) = h.events("TaskLate")
    assert (late["run_id"], late["task_id"], late["attempt"]) == (run, "amazon", 1)
    assert (late["late_after"], late["on_late"]) == (10, "continue")
    assert h.ex.running() == ["amazon", "shopify"]  # amazon's pool slot was freed
    assert h.tasks(run)["amazon"]["late"] is True
    assert h.tasks(run)["amazon"]["status"] == "running"

    h.ex.succeed("shopify", {"rows": 5})
    h.step()
    assert h.ex.running() == ["amazon", "models", "report"]
    assert job_of(h, run, "models").late_upstreams == ("amazon",)
    assert job_of(h, run, "models").upstream == {"shopify": {"rows": 5}}
    assert job_of(h, run, "report").late_upstreams == ()
    models = h.tasks(run)["models"]
    assert (models["incomplete"], models["late_upstreams"]) == (True, ["amazon"])
    assert h.tasks(run)["report"]["incomplete"] is False

    h.ex.succeed("models", "v1")
    h.ex.succeed("report")
    h.step()
    assert h.tasks(run)["audience"]["incomplete"] is True  # incomplete flows downstream
    h.ex.succeed("audience")
    h.step()
    (asset,) = h.events("AssetUpdated")
    assert (asset["asset"], asset["incomplete"]) == ("commerce.orders", True)
    assert h.status(run) == "running"  # amazon is still out
    assert len(h.runs()) == 1

    h.ex.succeed("amazon", {"rows": 7})
    h.step()
    assert h.status(run) == "succeeded"
    (catchup_id,) = h.run(run)["catchup_runs"]
    catchup = h.run(catchup_id)
    assert catchup["kind"] == "catchup"
    assert catchup["parent_run_id"] == run
    assert catchup["trigger"]["late_task"] == "amazon"
    root = h.db.read().fetchone("SELECT root_id FROM runs WHERE id = ?", (catchup_id,))[0]
    assert root == run
    assert sorted(h.tasks(catchup_id)) == ["audience", "models"]
    (started,) = h.events("CatchupStarted")
    assert (started["source_run_id"], started["tasks"]) == (run, ["audience", "models"])

    h.step()
    assert h.ex.running() == ["models"]
    models_again = job_of(h, catchup_id, "models")
    assert models_again.upstream == {"amazon": {"rows": 7}, "shopify": {"rows": 5}}
    assert models_again.late_upstreams == ()
    h.ex.succeed("models", "v2")
    h.step()
    h.ex.succeed("audience")
    h.step()
    assert h.status(catchup_id) == "succeeded"
    assert h.tasks(catchup_id)["models"]["incomplete"] is False
    assert [e["incomplete"] for e in h.events("AssetUpdated")] == [True, False]
    ran = sorted((j.key[0], j.key[1]) for j in h.ex.submitted)
    assert [t for r, t in ran if r == catchup_id] == ["audience", "models"]
    assert [t for r, t in ran if r == run].count("report") == 1
    assert len(h.events("TaskLate")) == 1


def test_a_late_task_that_then_fails_starts_no_catchup(make_harness: Any) -> None:
    h = make_harness(daily(OnLate.CONTINUE), pools={"ext": 1})
    run = h.start("daily")
    h.step()
    h.clock.advance(11)
    h.step()
    for name in ("shopify", "models", "report", "audience"):
        h.ex.succeed(name)
        h.step()
    h.ex.fail("amazon", retryable=False)
    h.step()
    assert h.task_status(run)["amazon"] == "failed"
    assert h.status(run) == "failed"
    assert h.run(run)["catchup_runs"] == []


def test_on_late_fail_ends_the_task_failed_without_a_retry(make_harness: Any) -> None:
    h = make_harness(daily(OnLate.FAIL, retry=RetryPolicy(retries=3)), pools={"ext": 1})
    run = h.start("daily")
    h.step()
    key = h.ex.key_of("amazon")
    h.clock.advance(11)
    h.step()
    assert len(h.events("TaskLate")) == 1
    assert key in h.ex.cancelled
    assert h.attempts(run, "amazon") == [("amazon", 1, "failed")]
    assert h.task_status(run)["amazon"] == "failed"
    assert "late" in h.tasks(run)["amazon"]["error"]
    assert h.task_status(run)["models"] == "upstream_failed"
    assert h.ex.running() == ["amazon", "shopify"]  # amazon only abandoned; its slot is free
    h.clock.advance(3600)
    h.step()
    assert [j.key[2] for j in h.ex.submitted if j.key[1] == "amazon"] == [1]


def test_on_late_wait_only_records_the_event(make_harness: Any) -> None:
    h = make_harness(daily(OnLate.WAIT), pools={"ext": 1})
    run = h.start("daily")
    h.step()
    h.clock.advance(11)
    h.step()
    assert len(h.events("TaskLate")) == 1
    assert h.ex.running() == ["amazon"]  # shopify still waits for the pool slot
    assert h.task_status(run)["models"] == "queued"
    h.clock.advance(100)
    h.step()
    assert len(h.events("TaskLate")) == 1  # recorded once
    h.ex.succeed("amazon")
    h.step()
    assert h.ex.running() == ["shopify"]
    h.ex.succeed("shopify")
    h.step()
    h.ex.succeed("models")
    h.ex.succeed("report")
    h.step()
    h.ex.succeed("audience")
    h.step()
    assert h.status(run) == "succeeded"
    assert h.tasks(run)["models"]["incomplete"] is False
    assert h.run(run)["catchup_runs"] == []
    assert len(h.runs()) == 1


def test_a_late_task_landing_before_the_rest_waits_for_the_run_to_end(
    make_harness: Any,
) -> None:
    """The catch-up reads what the run's other tasks write: it must not start while they
    still run (it would build on tables they have not loaded yet)."""
    h = make_harness(daily(OnLate.CONTINUE), pools={"ext": 1})
    run = h.start("daily")
    h.step()
    h.clock.advance(11)
    h.step()
    assert h.ex.running() == ["amazon", "shopify"]
    h.ex.succeed("amazon", {"rows": 7})  # lands while shopify still loads
    h.step()
    assert h.run(run)["catchup_runs"] == [] and h.events("CatchupStarted") == []
    for name in ("shopify", "models", "report", "audience"):
        h.ex.succeed(name)
        h.step()
    assert h.status(run) == "succeeded"
    (catchup_id,) = h.run(run)["catchup_runs"]
    assert sorted(h.tasks(catchup_id)) == ["audience", "models"]
