"""Engines of two versions of a project on one store (a rolling deploy): each claims and
takes over only the tasks its own project has, and none stops on the others' runs."""

from __future__ import annotations

from typing import Any

from podium.core.workflow import EngineSettings, Task, Workflow
from podium.engine.loop import Engine
from podium.testing import ManualExecutor, project_of

SETTINGS = EngineSettings(lease_timeout=30)
OLD = Workflow("daily", (Task("a", "run", "tasks:a"),))
NEW = Workflow("daily", (Task("a", "run", "tasks:a"), Task("b", "run", "tasks:b")))
ADDED = Workflow("added", (Task("x", "run", "tasks:x"),))


def test_an_engine_leaves_alone_the_workflows_and_tasks_its_project_lacks(
    make_harness: Any,
) -> None:
    h = make_harness(NEW, ADDED, settings=SETTINGS, owner="new")
    old_ex = ManualExecutor()  # an engine started with the previous version of the project
    old = Engine(project_of(OLD, engine=SETTINGS), h.db, executor=old_ex, clock=h.clock)
    old.start()
    h.engines.append(old)
    daily, added = h.start("daily"), h.start("added")

    old.step()  # neither the added workflow nor the added task: no KeyError, no claim
    assert old_ex.running() == ["a"]
    h.step()
    assert sorted(h.ex.running()) == ["b", "x"]
    assert h.task_status(daily) == {"a": "running", "b": "running"}

    h.clock.advance(31)  # the new engine dies with b and x running; the old one lives on
    old.step()
    assert h.attempts(added) == [("x", 1, "running")]  # not taken over: it does not know x
    assert h.attempts(daily, "b") == [("b", 1, "running")]
    old_ex.succeed("a")
    old.step()
    assert h.task_status(daily)["a"] == "succeeded"

    later = h.new_engine(owner="later")  # an engine of the new version takes them over
    later.step()
    assert h.attempts(added) == [("x", 1, "lost"), ("x", 2, "running")]
    assert h.attempts(daily, "b") == [("b", 1, "lost"), ("b", 2, "running")]
