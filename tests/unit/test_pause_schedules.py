"""Pausing a workflow's schedules (``podium pause`` / ``resume``): a paused schedule does
not tick, on any engine of the store; resuming fires the ticks missed meanwhile only as
the schedule's ``catchup`` says. Time is the harness's fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from podium.core.status import Catchup
from podium.core.workflow import ScheduleTrigger, Task, Workflow
from podium.engine import pauses
from podium.errors import ConflictError, NotFoundError
from podium.testing import ManualExecutor

HOUR = 3600.0


def hourly(catchup: Catchup) -> Workflow:
    return Workflow(
        "hourly",
        (Task("tick", "shell", "echo tick"),),
        triggers=(ScheduleTrigger("0 * * * *", catchup=catchup),),
    )


def ticks(h: Any) -> list[str]:
    return sorted(r["logical_time"] for r in h.runs("hourly"))


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.mark.parametrize(
    ("catchup", "after_resume"),
    [(Catchup.NONE, []), (Catchup.LATEST, [4]), (Catchup.ALL, [2, 3, 4])],
)
def test_a_paused_schedule_does_not_tick_and_resume_follows_its_catchup(
    make_harness: Any, catchup: Catchup, after_resume: list[int]
) -> None:
    h = make_harness(hourly(catchup))
    start = h.clock()
    h.clock.advance(HOUR / 2)
    h.step()  # the schedule is known from half past
    h.clock.advance(HOUR / 2)
    h.step()
    assert ticks(h) == [utc(start + HOUR)]

    assert pauses.pause_workflow(h.db, h.project, "hourly", by="alice", now=h.clock())
    assert not pauses.pause_workflow(h.db, h.project, "hourly", by="bob")  # already
    assert pauses.paused_workflows(h.db)["hourly"]["by"] == "alice"
    second = h.new_engine(ManualExecutor(), owner="second")  # every engine honours it
    for _ in range(3):  # ticks 2, 3 and 4 come and go
        h.clock.advance(HOUR)
        h.step()
        second.step()
    assert ticks(h) == [utc(start + HOUR)]

    h.clock.advance(HOUR / 4)  # a quarter past tick 4: all three were missed
    assert pauses.resume_workflow(h.db, h.project, "hourly")
    assert not pauses.resume_workflow(h.db, h.project, "hourly")
    second.step()
    h.step()
    assert ticks(h) == [utc(start + n * HOUR) for n in [1, *after_resume]]
    h.clock.advance(HOUR * 3 / 4)  # tick 5, on time: fires whatever the catchup
    h.step()
    assert ticks(h) == [utc(start + n * HOUR) for n in [1, *after_resume, 5]]


def test_only_a_scheduled_workflow_can_be_paused(make_harness: Any) -> None:
    manual = Workflow("manual", (Task("t", "shell", "echo"),))
    h = make_harness(hourly(Catchup.NONE), manual)
    with pytest.raises(ConflictError, match="'manual' has no schedule trigger"):
        pauses.pause_workflow(h.db, h.project, "manual", by="alice")
    with pytest.raises(NotFoundError, match="did you mean 'hourly'"):
        pauses.resume_workflow(h.db, h.project, "hourlyy")
