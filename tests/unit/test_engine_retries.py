"""Retries with backoff and jitter, terminal failures, and timeouts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from conftest import FixedRandom
from podium.core.workflow import RetryPolicy, Task, Workflow

POLICY = RetryPolicy(retries=2, delay=10, backoff=2, max_delay=15)


def flaky(**kw: Any) -> Workflow:
    return Workflow(
        "wf", (Task("a", "run", "tasks:noop", **kw), Task("b", "run", "tasks:b", ("a",)))
    )


def submitted_attempts(h: Any, task_id: str) -> list[int]:
    return [job.key[2] for job in h.ex.submitted if job.key[1] == task_id]


def wait_for_resubmission(h: Any, earliest: float, latest: float) -> None:
    """The failed task is not submitted again before ``earliest`` seconds, and is by ``latest``."""
    before = len(h.ex.submitted)
    h.clock.advance(earliest - 0.01)
    h.step()
    assert len(h.ex.submitted) == before, "resubmitted before its retry delay"
    h.clock.advance(latest - earliest + 0.01)
    h.step()
    assert len(h.ex.submitted) == before + 1, "not resubmitted once its retry delay passed"


@pytest.mark.parametrize(
    ("draw", "first", "second"),
    [
        pytest.param(0.0, 5.0, 7.5, id="shortest-jitter"),
        pytest.param(0.99999, 10.0, 15.0, id="longest-jitter"),  # 2nd capped at max_delay
    ],
)
def test_retries_wait_the_backoff_delay_with_jitter_and_a_cap(
    make_harness: Any, draw: float, first: float, second: float
) -> None:
    h = make_harness(flaky(retry=POLICY), rng=FixedRandom(draw))
    run = h.start("wf")
    h.step()
    h.ex.fail("a", "Timeout: shopify")
    h.step()
    assert h.task_status(run)["a"] == "queued"
    assert h.tasks(run)["a"]["error"] == "Timeout: shopify"
    wait_for_resubmission(h, first, first)
    h.ex.fail("a")
    h.step()
    wait_for_resubmission(h, second, second)
    h.ex.fail("a", "still down")
    h.step()
    assert h.task_status(run) == {"a": "failed", "b": "upstream_failed"}
    assert h.tasks(run)["a"]["attempts"] == 3
    assert h.tasks(run)["a"]["error"] == "still down"
    assert h.attempts(run) == [("a", 1, "failed"), ("a", 2, "failed"), ("a", 3, "failed")]
    assert submitted_attempts(h, "a") == [1, 2, 3]
    assert len(h.events("AttemptFinished", run)) == 3
    assert [e["status"] for e in h.events("TaskFinished", run) if e["task_id"] == "a"] == ["failed"]
    assert h.status(run) == "failed"


def test_the_first_retry_comes_between_half_and_all_of_the_delay(make_harness: Any) -> None:
    h = make_harness(flaky(retry=POLICY), rng=random.Random(0))
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    wait_for_resubmission(h, 5.0, 10.0)
    h.ex.succeed("a", 1)
    h.step()
    assert h.ex.running() == ["b"]
    h.ex.succeed("b")
    h.step()
    assert h.status(run) == "succeeded"
    assert h.attempts(run) == [("a", 1, "failed"), ("a", 2, "succeeded"), ("b", 1, "succeeded")]


def test_a_fixed_delay_is_exact(make_harness: Any) -> None:
    h = make_harness(flaky(retry=RetryPolicy(retries=1, delay=30)), rng=FixedRandom(0.0))
    h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    wait_for_resubmission(h, 30.0, 30.0)


def test_a_terminal_failure_is_not_retried(make_harness: Any) -> None:
    h = make_harness(flaky(retry=POLICY))
    run = h.start("wf")
    h.step()
    h.ex.fail("a", "TerminalTaskError: bad credentials", retryable=False)
    h.step()
    h.clock.advance(3600)
    h.step()
    assert h.task_status(run) == {"a": "failed", "b": "upstream_failed"}
    assert h.attempts(run) == [("a", 1, "failed")]
    assert h.status(run) == "failed"


def test_without_retries_a_failure_is_final(make_harness: Any) -> None:
    h = make_harness(flaky())
    run = h.start("wf")
    h.step()
    h.ex.fail("a")
    h.step()
    assert h.task_status(run)["a"] == "failed"
    assert h.tasks(run)["a"]["attempts"] == 1


# -- timeouts ---------------------------------------------------------------------------


def test_a_timed_out_attempt_is_cancelled_and_retried(make_harness: Any) -> None:
    h = make_harness(flaky(timeout=5, retry=RetryPolicy(retries=1)))
    run = h.start("wf")
    h.step()
    first = h.ex.key_of("a")
    h.clock.advance(4.9)
    h.step()
    assert h.attempts(run) == [("a", 1, "running")]
    h.clock.advance(1.1)
    h.step()
    assert h.ex.cancelled == [first]
    assert h.attempts(run) == [("a", 1, "timed_out"), ("a", 2, "running")]
    assert submitted_attempts(h, "a") == [1, 2]
    error = h.db.read().fetchone("SELECT error FROM attempts WHERE number = 1")[0]
    assert error == "timed out after 5s"

    refused = h.engine.stats.stale_refused
    h.ex.report_late(first)  # the abandoned attempt ends after all
    h.step()
    assert h.engine.stats.stale_refused == refused + 1
    assert h.attempts(run) == [("a", 1, "timed_out"), ("a", 2, "running")]
    assert h.task_status(run)["a"] == "running"
    assert h.ex.running() == ["a"]

    h.ex.succeed("a")
    h.step()
    h.ex.succeed("b")
    h.step()
    assert h.attempts(run) == [("a", 1, "timed_out"), ("a", 2, "succeeded"), ("b", 1, "succeeded")]
    assert h.status(run) == "succeeded"
    assert h.tasks(run)["a"]["attempts"] == 2


def test_a_timeout_without_retries_ends_the_task_timed_out(make_harness: Any) -> None:
    h = make_harness(flaky(timeout=5))
    run = h.start("wf")
    h.step()
    key = h.ex.key_of("a")
    h.clock.advance(6)
    h.step()
    assert h.task_status(run) == {"a": "timed_out", "b": "upstream_failed"}
    assert h.status(run) == "failed"
    h.ex.report_late(key, ok=True)
    h.step()
    assert h.task_status(run)["a"] == "timed_out"
    assert h.attempts(run) == [("a", 1, "timed_out")]
    assert h.status(run) == "failed"
    assert len(h.events("RunFinished", run)) == 1


def test_the_engine_wakes_in_time_for_a_timeout(make_harness: Any) -> None:
    h = make_harness(flaky(timeout=0.5))
    h.start("wf")
    assert h.step() <= 0.5
