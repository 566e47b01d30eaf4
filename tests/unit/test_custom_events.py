"""Custom events (``podium emit``, ``POST /api/events``) may not pass for podium's own."""

from __future__ import annotations

from typing import Any

import pytest

from podium.core import events as ev
from podium.core.workflow import AssetTrigger, EventTrigger, Task, Workflow, WorkflowTrigger
from podium.engine import services
from podium.errors import UsageError

FORGED = [
    ("RunFinished", {"workflow": "extract", "status": "succeeded", "run_id": "r1"}),
    ("runfinished", {"workflow": "extract", "status": "succeeded"}),
    (" RUNFINISHED ", {"workflow": "extract", "status": "succeeded"}),
    ("AssetUpdated", {"asset": "raw.orders", "run_id": "r1", "task_id": "load"}),
    ("assetUpdated", {"asset": "raw.orders"}),
]


def task(task_id: str) -> Task:
    return Task(task_id, "run", f"tasks:{task_id}")


def watchers() -> tuple[Workflow, ...]:
    """Workflows a forged RunFinished or AssetUpdated would start if it were stored."""
    return (
        Workflow("extract", (task("pull"),)),
        Workflow("report", (task("build"),), triggers=(WorkflowTrigger("extract"),)),
        Workflow("model", (task("run"),), triggers=(AssetTrigger(("raw.orders",)),)),
        Workflow("lookalike", (task("see"),), triggers=(EventTrigger("runfinished"),)),
    )


@pytest.mark.parametrize(("name", "payload"), FORGED, ids=[n for n, _ in FORGED])
def test_a_forged_system_event_starts_nothing(
    make_harness: Any, name: str, payload: dict[str, Any]
) -> None:
    h = make_harness(*watchers())
    try:
        services.emit_event(h.db, name, payload)
        refusal = ""
    except UsageError as exc:
        refusal = str(exc)
    for _ in range(3):
        h.engine.poke()
        h.step()
    assert [r["workflow"] for r in h.runs()] == []
    assert h.db.read().fetchall("SELECT type FROM events") == []
    assert f"podium's system event {ev.system_event_like(name)!r}" in refusal
    assert "choose another name" in refusal


def test_podiums_own_run_finished_still_starts_workflow_triggers(make_harness: Any) -> None:
    h = make_harness(*watchers())
    h.start("extract")
    h.step()
    h.ex.succeed("pull")
    h.step()
    h.engine.poke()
    h.step()
    assert sorted(r["workflow"] for r in h.runs()) == ["extract", "report"]


def test_names_that_only_look_alike_are_free(make_harness: Any) -> None:
    h = make_harness()
    for name in ("RunFinishedLate", "run_finished", "orders_dropped", "Event", "CustomEvent"):
        assert services.emit_event(h.db, name, {}) > 0


def test_the_system_event_types_are_every_event_class_but_the_custom_one() -> None:
    classes = [
        value
        for value in vars(ev).values()
        if isinstance(value, type) and issubclass(value, ev.Event) and value is not ev.Event
    ]
    assert {c.type for c in classes if c is not ev.CustomEvent} == ev.SYSTEM_EVENT_TYPES
    assert {
        c.type for c in classes if c.dispatch and c is not ev.CustomEvent
    } == ev.DISPATCHED_EVENT_TYPES
    assert {"RunFinished", "AssetUpdated", "TaskFinished"} <= ev.SYSTEM_EVENT_TYPES
    assert ev.is_system_event("RunFinished") and not ev.is_system_event("runfinished")
    assert ev.system_event_like(" taskFINISHED ") == "TaskFinished"
    assert ev.custom_name_problem("orders_dropped") is None
