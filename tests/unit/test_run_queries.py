"""The read models the CLI leans on: how long a run took, run-id prefixes, the runs a run
triggered, and a run's logs in time order."""

from __future__ import annotations

from typing import Any

import pytest

from podium.cli.render import render_run, render_runs
from podium.core.workflow import Task, Workflow, WorkflowTrigger
from podium.engine import queries
from podium.errors import NotFoundError, UsageError

ETL = Workflow("etl", (Task("load", "run", "tasks:load"),))
AFTER = Workflow(
    "after", (Task("report", "run", "tasks:report"),), triggers=(WorkflowTrigger("etl"),)
)


def test_took_counts_from_the_first_attempt_not_from_the_time_queued(make_harness: Any) -> None:
    h = make_harness(ETL)
    run_id = h.start("etl")
    h.clock.advance(100)  # queued: no engine looked for 100 s
    h.step()
    h.clock.advance(5)
    h.ex.succeed("load")
    h.step()
    (run,) = queries.list_runs(h.db)
    assert run["status"] == "succeeded"
    assert run["took_seconds"] == 5.0
    assert queries.show_run(h.db, run_id)["took_seconds"] == 5.0
    assert run["logical_time"].startswith("2027-01-15")  # the fake clock's day
    listed = render_runs([run])
    assert "LOGICAL DATE" in listed and "2027-01-15 08:00" in listed
    assert listed.splitlines()[1].endswith(" 5.00s")
    assert "took 5.00s" in render_run(queries.show_run(h.db, run_id))


def test_a_run_not_started_took_nothing_yet(make_harness: Any) -> None:
    h = make_harness(ETL)
    h.start("etl")
    (run,) = queries.list_runs(h.db)
    assert run["first_attempt_at"] is None and run["took_seconds"] is None
    assert render_runs([run]).splitlines()[1].endswith(" -")


def test_a_unique_prefix_names_its_run_and_an_ambiguous_one_lists_the_matches(
    make_harness: Any,
) -> None:
    h = make_harness(ETL)
    for run_id in ("96e1aa000001", "96e1bb000002", "a0000000000f"):
        h.start("etl", run_id=run_id)
    assert queries.resolve_run(h.db, "96e1aa000001") == "96e1aa000001"
    assert queries.resolve_run(h.db, "96e1a") == "96e1aa000001"
    assert queries.resolve_run(h.db, "a") == "a0000000000f"
    with pytest.raises(UsageError, match="ambiguous") as ambiguous:
        queries.resolve_run(h.db, "96e1")
    assert "96e1aa000001, 96e1bb000002" in str(ambiguous.value)
    for missing in ("96e2", "", "%", "_6e1"):  # LIKE's wildcards are taken literally
        with pytest.raises(NotFoundError, match="no run"):
            queries.resolve_run(h.db, missing)


def test_triggered_runs_are_the_waiting_ones_a_trigger_started(make_harness: Any) -> None:
    h = make_harness(ETL, AFTER)
    since = h.clock()
    first = h.start("etl")
    scoped = h.new_engine(h.ex, scope_root=first)  # as `podium run` runs it: this tree only
    scoped.step()
    h.ex.succeed("load")
    for _ in range(3):  # the run ends; its RunFinished starts `after`, left waiting
        scoped.poke()
        scoped.step()
    (waiting,) = queries.triggered_runs(h.db, since, exclude=[first])
    assert waiting["workflow"] == "after" and waiting["trigger"]["run_id"] == first
    assert waiting["status"] == "queued"
    assert queries.triggered_runs(h.db, since, exclude=[waiting["run_id"]]) == []
    assert queries.triggered_runs(h.db, h.clock() + 1, exclude=[]) == []
    h.step()  # an engine for every run starts it: no longer waiting
    assert queries.triggered_runs(h.db, since, exclude=[]) == []


def test_logs_come_in_time_order_across_tasks(make_harness: Any) -> None:
    h = make_harness(ETL)
    run_id = h.start("etl")
    rows = [("b", 1, 3.0, "third"), ("a", 1, 1.0, "first"), ("b", 1, 2.0, "second")]
    with h.db.transaction() as tx:
        tx.executemany(
            "INSERT INTO logs (run_id, task_id, attempt, at, stream, line) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, t, n, at, "stdout", line) for t, n, at, line in rows],
        )
    assert [r["line"] for r in queries.logs_of(h.db, run_id)] == ["first", "second", "third"]
    assert [r["line"] for r in queries.logs_of(h.db, run_id, since=2.0)] == ["second", "third"]
