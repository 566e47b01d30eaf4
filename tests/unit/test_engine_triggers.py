"""Triggers: events, other workflows, assets and schedules start runs, each exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from podium.core.events import CustomEvent
from podium.core.status import Catchup, RunStatus
from podium.core.workflow import (
    AssetTrigger,
    EventTrigger,
    ScheduleTrigger,
    Task,
    Workflow,
    WorkflowTrigger,
)
from podium.engine import services
from podium.engine.journal import Journal
from podium.testing import ManualExecutor

HOUR = 3600.0


def task(task_id: str, **kw: Any) -> Task:
    return Task(task_id, "run", f"tasks:{task_id}", **kw)


def emit(h: Any, name: str, payload: dict[str, Any]) -> None:
    """A custom event stored at the fake clock's time; the store's wake-up pokes the engine."""
    with h.db.transaction() as tx:
        j = Journal(tx, h.clock())
        j.add(CustomEvent(name, payload))
        j.flush()
    h.engine.poke()


def settle(h: Any) -> None:
    """Ends every submitted attempt successfully, stepping (and waking) until none is left."""
    idle = 0
    for _ in range(50):
        h.engine.poke()
        h.step()
        idle = 0 if h.ex.pending else idle + 1
        if idle == 2:  # a step to dispatch what the last one recorded, then nothing new
            return
        for key in list(h.ex.pending):
            h.succeed_key(key)
    raise AssertionError("runs did not settle")


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


# -- events -----------------------------------------------------------------------------


def test_an_event_trigger_starts_one_run_per_matching_event(make_harness: Any) -> None:
    wf = Workflow(
        "on_orders",
        (task("load"),),
        triggers=(EventTrigger("orders_dropped", {"store": "us"}),),
        params={"store": None, "day": "today"},
    )
    h = make_harness(wf)
    emit(h, "orders_dropped", {"store": "us", "day": "2026-11-01", "extra": 1})
    emit(h, "orders_dropped", {"store": "eu"})
    emit(h, "orders_shipped", {"store": "us"})
    emit(h, "orders_dropped", {"store": "us"})
    h.step()
    runs = sorted(h.runs("on_orders"), key=lambda r: r["trigger"]["seq"])
    assert len(runs) == 2
    assert runs[1]["params"] == {"store": "us", "day": "today"}
    assert runs[0]["trigger"]["type"] == "event"
    assert runs[0]["trigger"]["event"] == "orders_dropped"
    assert runs[0]["params"] == {"store": "us", "day": "2026-11-01"}  # declared params only
    for _ in range(3):
        h.engine.poke()
        h.step()
    assert len(h.runs("on_orders")) == 2  # events are dispatched once
    assert h.ex.running() == ["load", "load"]


def test_an_event_from_the_service_starts_a_run(make_harness: Any) -> None:
    wf = Workflow("wf", (task("load"),), triggers=(EventTrigger("go"),))
    h = make_harness(wf)
    seq = services.emit_event(h.db, "go", {"n": 1})
    h.engine.poke()
    h.step()
    (run,) = h.runs("wf")
    assert run["trigger"]["seq"] == seq


def test_two_engines_dispatch_an_event_once(make_harness: Any) -> None:
    h = make_harness(Workflow("wf", (task("load"),), triggers=(EventTrigger("go"),)))
    other = h.new_engine(ManualExecutor(), owner="other")
    emit(h, "go", {})
    other.poke()
    other.step()
    h.step()
    assert len(h.runs("wf")) == 1


# -- other workflows --------------------------------------------------------------------


def chained(status: str = "success") -> tuple[Workflow, Workflow]:
    upstream = Workflow("extract", (task("pull"),))
    downstream = Workflow(
        "report", (task("build"),), triggers=(WorkflowTrigger("extract", status),)
    )
    return upstream, downstream


def test_a_workflow_trigger_starts_after_the_other_workflow_succeeds(make_harness: Any) -> None:
    h = make_harness(*chained())
    run = h.start("extract")
    h.step()
    h.ex.succeed("pull")
    h.step()
    assert h.status(run) == "succeeded"
    h.engine.poke()
    h.step()
    (report,) = h.runs("report")
    assert report["trigger"] == {
        "type": "workflow",
        "workflow": "extract",
        "run_id": run,
        "status": "succeeded",
    }
    assert h.ex.running() == ["build"]


def test_a_workflow_trigger_ignores_a_failed_run(make_harness: Any) -> None:
    h = make_harness(*chained())
    h.start("extract")
    h.step()
    h.ex.fail("pull")
    h.step()
    h.engine.poke()
    h.step()
    assert h.runs("report") == []


def test_a_workflow_trigger_on_failure(make_harness: Any) -> None:
    h = make_harness(*chained("failed"))
    h.start("extract")
    h.step()
    h.ex.succeed("pull")
    h.step()
    h.start("extract")
    h.engine.poke()
    h.step()
    h.ex.fail("pull")
    h.step()
    h.engine.poke()
    h.step()
    (report,) = h.runs("report")
    assert report["trigger"]["status"] == "failed"


def test_a_memory_store_wakes_its_engine_for_its_own_events(make_harness: Any) -> None:
    h = make_harness(*chained())
    h.start("extract")
    h.step()
    h.ex.succeed("pull")
    h.step()
    h.step()  # no time passes: only a wake-up can make this step dispatch RunFinished
    assert len(h.runs("report")) == 1


# -- assets -----------------------------------------------------------------------------


def producers() -> tuple[Workflow, ...]:
    return (
        Workflow("orders", (task("load_orders", produces=("raw.orders",)),)),
        Workflow("refunds", (task("load_refunds", produces=("raw.refunds",)),)),
    )


def test_an_asset_trigger_fires_on_any_listed_asset(make_harness: Any) -> None:
    consumer = Workflow(
        "consumer", (task("model"),), triggers=(AssetTrigger(("raw.orders", "raw.refunds")),)
    )
    h = make_harness(*producers(), consumer)
    h.start("orders")
    settle(h)
    (run,) = h.runs("consumer")
    assert run["trigger"]["type"] == "asset"
    assert run["trigger"]["assets"] == ["raw.orders"]
    h.start("refunds")
    settle(h)
    assert len(h.runs("consumer")) == 2


def test_all_of_fires_only_once_every_asset_was_updated(make_harness: Any) -> None:
    consumer = Workflow(
        "consumer",
        (task("model"),),
        triggers=(AssetTrigger(("raw.orders", "raw.refunds"), all_of=True),),
    )
    h = make_harness(*producers(), consumer)
    h.start("orders")
    settle(h)
    h.start("orders")
    settle(h)
    assert h.runs("consumer") == []
    h.start("refunds")
    settle(h)
    (run,) = h.runs("consumer")
    assert run["trigger"]["assets"] == ["raw.orders", "raw.refunds"]
    assert run["trigger"]["missing_assets"] == []
    h.start("refunds")  # a new round starts from nothing
    settle(h)
    assert len(h.runs("consumer")) == 1


def test_all_of_with_a_deadline_fires_anyway_naming_the_missing_assets(
    make_harness: Any,
) -> None:
    consumer = Workflow(
        "consumer",
        (task("model"),),
        triggers=(AssetTrigger(("raw.orders", "raw.refunds"), all_of=True, deadline=60),),
    )
    h = make_harness(*producers(), consumer)
    h.start("orders")
    settle(h)  # the first update is seen now
    h.clock.advance(59)
    h.step()
    assert h.runs("consumer") == []
    h.clock.advance(2)
    h.step()
    (run,) = h.runs("consumer")
    assert run["trigger"]["missing_assets"] == ["raw.refunds"]
    assert run["trigger"]["assets"] == ["raw.orders"]
    assert run["trigger"]["deadline_passed"] is True
    h.clock.advance(600)
    h.step()
    assert len(h.runs("consumer")) == 1


# -- schedules --------------------------------------------------------------------------


def hourly(catchup: Catchup = Catchup.LATEST) -> Workflow:
    return Workflow(
        "hourly", (task("tick"),), triggers=(ScheduleTrigger("0 * * * *", catchup=catchup),)
    )


def test_a_schedule_fires_once_per_tick_with_the_tick_as_logical_time(make_harness: Any) -> None:
    h = make_harness(hourly())
    start = h.clock()
    assert start % HOUR == 0  # the fake clock starts on the hour
    h.clock.advance(1)
    h.step()
    assert h.runs("hourly") == []
    for _ in range(3):
        h.clock.advance(HOUR / 2)
        h.step()
        h.step()
    runs = h.runs("hourly")
    assert [r["logical_time"] for r in runs] == [utc(start + HOUR)]
    h.clock.advance(HOUR / 2)
    h.step()
    runs = h.runs("hourly")
    assert [r["logical_time"] for r in runs] == [utc(start + HOUR), utc(start + 2 * HOUR)]
    assert runs[0]["trigger"]["tick"] == utc(start + HOUR)
    assert runs[0]["trigger"]["type"] == "schedule"


def test_the_engine_wakes_for_the_next_tick(make_harness: Any) -> None:
    h = make_harness(hourly(), settings=None)
    h.clock.advance(HOUR - 10)
    h.step()
    assert h.engine.triggers.next_tick == h.clock() + 10


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [(Catchup.LATEST, [5]), (Catchup.ALL, [1, 2, 3, 4, 5]), (Catchup.NONE, [])],
)
def test_catchup_after_the_engine_was_down(
    make_harness: Any, catchup: Catchup, expected: list[int]
) -> None:
    h = make_harness(hourly(catchup))
    start = h.clock()
    h.clock.advance(HOUR / 2)
    h.step()  # the schedule is known from half past
    h.engine.close()
    h.engines.remove(h.engine)

    h.clock.advance(5 * HOUR)  # down over five ticks
    engine = h.new_engine(ManualExecutor(), owner="after-restart")
    engine.step()
    ticks = [utc(start + n * HOUR) for n in expected]
    assert sorted(r["logical_time"] for r in h.runs("hourly")) == ticks
    engine.step()
    assert len(h.runs("hourly")) == len(expected)

    h.clock.advance(HOUR / 2)  # the next tick, on time, fires whatever the catchup
    engine.step()
    assert sorted(r["logical_time"] for r in h.runs("hourly")) == ticks + [utc(start + 6 * HOUR)]


def test_a_tick_is_never_fired_twice(make_harness: Any) -> None:
    h = make_harness(hourly(Catchup.ALL))
    start = h.clock()
    other = h.new_engine(ManualExecutor(), owner="second")
    for _ in range(6):
        h.clock.advance(HOUR / 2)
        h.step()
        other.step()
        other.step()
        h.step()
    restarted = h.new_engine(ManualExecutor(), owner="third")
    restarted.step()
    ticks = [utc(start + n * HOUR) for n in (1, 2, 3)]
    assert sorted(r["logical_time"] for r in h.runs("hourly")) == ticks
    created, skipped = services.backfill(
        h.db,
        h.project,
        "hourly",
        datetime.fromtimestamp(start + HOUR, UTC),
        datetime.fromtimestamp(start + 4 * HOUR, UTC),
    )
    assert (len(created), skipped) == (1, 3)  # only the 4th tick is new


def test_a_scoped_engine_fires_no_schedule(make_harness: Any) -> None:
    h = make_harness(hourly(), scope_root="some-run")
    for _ in range(3):
        h.clock.advance(HOUR)
        h.step()
    assert h.runs("hourly") == []


def test_scheduled_runs_run(make_harness: Any) -> None:
    h = make_harness(hourly())
    h.step()
    h.clock.advance(HOUR)
    h.step()
    assert h.ex.running() == ["tick"]
    h.ex.succeed("tick")
    h.step()
    assert [r["status"] for r in h.runs("hourly")] == [RunStatus.SUCCEEDED]
