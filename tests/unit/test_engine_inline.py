"""Real task code through ``InlineExecutor``: ``run`` tasks name the functions below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podium.core.workflow import RetryPolicy, Task, Workflow
from podium.errors import TerminalTaskError
from podium.execution.invoke import TaskContext
from podium.testing import InlineExecutor

HERE = Path(__file__).parent
MODULE = Path(__file__).stem


# -- task functions (targets "test_engine_inline:<name>") -------------------------------


def extract(ctx: TaskContext) -> dict[str, Any]:
    ctx.log.info("extracting %s", ctx.params["store"])
    return {
        "rows": 3,
        "params": dict(ctx.params),
        "key": ctx.idempotency_key,
        "attempt": ctx.attempt,
        "logical_time": ctx.logical_time.isoformat(),
    }


def transform(ctx: TaskContext) -> int:
    return int(ctx.upstream["extract"]["rows"]) * 2


def flaky(ctx: TaskContext) -> dict[str, Any]:
    if ctx.attempt < 2:
        raise ConnectionError("connection reset by peer")
    return {"attempt": ctx.attempt, "key": ctx.idempotency_key}


def terminal(ctx: TaskContext) -> None:
    raise TerminalTaskError("the API key was revoked")


def unserialisable(ctx: TaskContext) -> object:
    return object()


# -- tests ------------------------------------------------------------------------------


def run_task(name: str, *deps: str, **kw: Any) -> Task:
    return Task(name, "run", f"{MODULE}:{name}", depends_on=deps, **kw)


def make(make_harness: Any, *tasks: Task, **wf: Any) -> Any:
    return make_harness(Workflow("wf", tasks, **wf), executor=InlineExecutor(), root=str(HERE))


def run_to_end(h: Any, run_id: str) -> dict[str, Any]:
    for _ in range(30):
        h.step()
        if h.status(run_id) in ("succeeded", "failed", "cancelled"):
            return h.tasks(run_id)
    raise AssertionError(f"run {run_id} did not end: {h.task_status(run_id)}")


def test_functions_run_with_their_context_and_pass_outputs_downstream(make_harness: Any) -> None:
    h = make(
        make_harness,
        run_task("extract", params={"store": "eu"}),
        run_task("transform", "extract"),
        params={"store": "us", "days": 1},
    )
    run = h.start("wf", {"days": 7})
    tasks = run_to_end(h, run)
    assert h.status(run) == "succeeded"
    assert tasks["extract"]["output"] == {
        "rows": 3,
        "params": {"store": "eu", "days": 7},
        "key": f"{run}:extract",
        "attempt": 1,
        "logical_time": h.run(run)["logical_time"],
    }
    assert tasks["transform"]["output"] == 6
    assert any("extracting eu" in line for _key, _stream, line in h.ex.logs)


def test_an_exception_is_retried_with_the_same_idempotency_key(make_harness: Any) -> None:
    h = make(make_harness, run_task("flaky", retry=RetryPolicy(retries=2)))
    run = h.start("wf")
    tasks = run_to_end(h, run)
    assert tasks["flaky"]["output"] == {"attempt": 2, "key": f"{run}:flaky"}
    assert h.attempts(run) == [("flaky", 1, "failed"), ("flaky", 2, "succeeded")]
    error = h.db.read().fetchone("SELECT error FROM attempts WHERE number = 1")[0]
    assert error == "ConnectionError: connection reset by peer"


def test_a_terminal_task_error_is_not_retried(make_harness: Any) -> None:
    h = make(make_harness, run_task("terminal", retry=RetryPolicy(retries=5)))
    run = h.start("wf")
    tasks = run_to_end(h, run)
    assert tasks["terminal"]["status"] == "failed"
    assert tasks["terminal"]["error"] == "TerminalTaskError: the API key was revoked"
    assert h.attempts(run) == [("terminal", 1, "failed")]


def test_an_unserialisable_return_value_fails_without_retry(make_harness: Any) -> None:
    h = make(make_harness, run_task("unserialisable", retry=RetryPolicy(retries=5)))
    run = h.start("wf")
    tasks = run_to_end(h, run)
    assert tasks["unserialisable"]["status"] == "failed"
    assert "not JSON-serialisable" in tasks["unserialisable"]["error"]
    assert tasks["unserialisable"]["attempts"] == 1


def test_an_unknown_target_fails_the_task_with_a_useful_error(make_harness: Any) -> None:
    h = make(make_harness, Task("ghost", "run", f"{MODULE}:no_such_function"))
    run = h.start("wf")
    tasks = run_to_end(h, run)
    assert tasks["ghost"]["status"] == "failed"
    assert "no_such_function" in tasks["ghost"]["error"]
