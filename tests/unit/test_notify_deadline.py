"""Workflow deadlines: the instants (time zones, daylight saving) and the engine recording
``SlaMissed`` once per day, waking up for it, on a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from podium.core.deadline import Deadline
from podium.core.workflow import EngineSettings, EventTrigger, Task, Workflow
from podium.testing import ManualExecutor

DAY = 86400.0
#: a long poll: the engine must wake up for the deadline by itself
SLOW = EngineSettings(poll_interval=DAY)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_deadline_instant_follows_its_time_zone_and_daylight_saving() -> None:
    ny = Deadline("07:00", "America/New_York")
    assert ny.on(date(2026, 1, 15)) == utc(2026, 1, 15, 12, 0)  # EST, UTC-5
    assert ny.on(date(2026, 7, 15)) == utc(2026, 7, 15, 11, 0)  # EDT, UTC-4
    gap = Deadline("02:30", "America/New_York")  # 2026-03-08: 02:00 jumps to 03:00
    assert gap.on(date(2026, 3, 8)) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert ny.day_start(date(2026, 1, 15)) == utc(2026, 1, 15, 5, 0)


def test_the_latest_passed_and_the_next_deadline() -> None:
    d = Deadline("07:00", "Europe/Paris")  # UTC+1 in January
    assert d.latest_passed(utc(2026, 1, 15, 5, 59)) == date(2026, 1, 14)
    assert d.latest_passed(utc(2026, 1, 15, 6, 0)) == date(2026, 1, 15)
    assert d.next_after(utc(2026, 1, 15, 5, 59)) == utc(2026, 1, 15, 6, 0)
    assert d.next_after(utc(2026, 1, 15, 6, 0)) == utc(2026, 1, 16, 6, 0)
    late = Deadline("23:30", "Pacific/Kiritimati")  # UTC+14: its day starts on the eve
    assert late.latest_passed(utc(2026, 1, 15, 9, 30)) == date(2026, 1, 15)


SEVEN = Deadline("07:00")


def daily(deadline: Deadline | None = SEVEN) -> Workflow:
    return Workflow("daily", (Task("load", "run", "tasks:load"),), deadline=deadline)


def at(h: Any, moment: datetime) -> None:
    h.clock.now = moment.timestamp()


def missed(h: Any) -> list[dict[str, Any]]:
    return h.events("SlaMissed")


def test_no_success_by_the_deadline_records_sla_missed_once(make_harness: Any) -> None:
    h = make_harness(daily(), settings=SLOW)
    at(h, utc(2026, 3, 2, 5, 0))
    assert h.step() == 2 * 3600  # asleep until the deadline, not the day-long poll
    assert missed(h) == []
    h.clock.advance(2 * 3600)
    h.step()  # woken by the deadline, no poke
    assert missed(h) == [
        {
            "run_id": None,
            "task_id": None,
            "workflow": "daily",
            "deadline_at": "2026-03-02T07:00:00+00:00",
            "date": "2026-03-02",
        }
    ]
    assert h.step() == DAY
    h.clock.advance(3600)
    h.engine.poke()
    h.step()
    h.new_engine(ManualExecutor(), owner="restarted").step()
    assert len(missed(h)) == 1


def test_a_success_that_day_before_the_deadline_meets_it(make_harness: Any) -> None:
    h = make_harness(daily(), settings=SLOW)
    at(h, utc(2026, 3, 2, 5, 0))
    run = h.start("daily")
    h.step()
    h.clock.advance(600)
    h.ex.succeed("load")
    h.step()
    assert h.status(run) == "succeeded"
    at(h, utc(2026, 3, 2, 7, 0))
    h.step()
    assert missed(h) == []
    at(h, utc(2026, 3, 3, 7, 0))  # nothing ran on the 3rd
    h.step()
    assert [e["date"] for e in missed(h)] == ["2026-03-03"]


def test_a_success_after_the_deadline_or_a_failure_does_not_meet_it(make_harness: Any) -> None:
    h = make_harness(daily(), settings=SLOW)
    at(h, utc(2026, 3, 2, 6, 0))
    h.start("daily")
    h.step()
    h.ex.fail("load")
    h.step()
    at(h, utc(2026, 3, 2, 7, 0))
    h.step()
    assert [e["date"] for e in missed(h)] == ["2026-03-02"]


def test_two_engines_record_one_day_once(make_harness: Any) -> None:
    h = make_harness(daily(), settings=SLOW)
    other = h.new_engine(ManualExecutor(), owner="other")
    at(h, utc(2026, 3, 2, 6, 59))
    h.step()
    other.step()
    at(h, utc(2026, 3, 2, 7, 0))
    other.step()
    h.step()
    assert len(missed(h)) == 1


def test_the_first_look_skips_yesterday_but_not_today(make_harness: Any) -> None:
    h = make_harness(daily(), settings=SLOW)
    at(h, utc(2026, 3, 2, 6, 0))  # yesterday's deadline passed long ago
    h.step()
    assert missed(h) == []
    g = make_harness(daily(), settings=SLOW)
    at(g, utc(2026, 3, 2, 9, 0))  # today's passed two hours ago, nothing succeeded
    g.step()
    assert [e["date"] for e in missed(g)] == ["2026-03-02"]


def test_a_deadline_in_its_own_time_zone(make_harness: Any) -> None:
    h = make_harness(daily(Deadline("07:00", "America/New_York")), settings=SLOW)
    at(h, utc(2026, 1, 15, 11, 0))
    assert h.step() == 3600
    at(h, utc(2026, 1, 15, 12, 0))
    h.step()
    assert [(e["date"], e["deadline_at"]) for e in missed(h)] == [
        ("2026-01-15", "2026-01-15T12:00:00+00:00")
    ]


def test_podium_run_engines_do_not_watch_deadlines(make_harness: Any) -> None:
    h = make_harness(daily(), settings=SLOW)
    at(h, utc(2026, 3, 2, 6, 0))
    run = h.start("daily")
    scoped = h.new_engine(ManualExecutor(), owner="run", scope_root=run)
    at(h, utc(2026, 3, 2, 8, 0))
    scoped.poke()
    scoped.step()
    assert missed(h) == []


def test_workflows_without_a_deadline_are_not_watched(make_harness: Any) -> None:
    h = make_harness(replace(daily(None), name="plain"), settings=SLOW)
    at(h, utc(2026, 3, 2, 8, 0))
    assert h.step() == DAY
    assert missed(h) == []


def test_a_missed_deadline_can_start_another_workflow(make_harness: Any) -> None:
    fallback = Workflow(
        "fallback",
        (Task("page", "run", "tasks:page"),),
        triggers=(EventTrigger("SlaMissed", {"workflow": "daily"}),),
    )
    h = make_harness(daily(), fallback, settings=SLOW)
    at(h, utc(2026, 3, 2, 7, 0))
    h.step()
    h.engine.poke()
    h.step()
    (run,) = h.runs("fallback")
    assert run["trigger"]["event"] == "SlaMissed"
