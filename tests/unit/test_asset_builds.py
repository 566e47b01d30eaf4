"""Building one asset and what it needs (the asset page's *Build* button): a run of the
task that produces it and the tasks it depends on, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from podium.core.workflow import Task, Workflow
from podium.engine import builds
from podium.errors import UsageError


def shell(task_id: str, *deps: str, **kw: Any) -> Task:
    return Task(task_id, "shell", "echo", depends_on=deps, **kw)


def daily() -> Workflow:
    return Workflow(
        "daily",
        (
            shell("shop"),
            shell("amazon"),
            shell("orders", "shop", "amazon", produces=("commerce.orders",)),
            shell("unrelated"),
            shell("report", "orders", produces=("marts.report",)),
        ),
    )


def test_a_build_runs_the_producer_and_what_it_needs_only(make_harness: Any) -> None:
    h = make_harness(daily())
    run_id = builds.build_asset(h.db, h.project, "commerce.orders", trigger={"type": "ui"})
    (run,) = h.runs("daily")
    assert run["run_id"] == run_id
    assert run["trigger"] == {"type": "ui", "asset": "commerce.orders", "task": "orders"}
    tasks = h.db.read().fetchall("SELECT task_id FROM task_runs WHERE run_id = ?", (run_id,))
    assert sorted(t for (t,) in tasks) == ["amazon", "orders", "shop"]


def test_an_asset_nothing_produces_cannot_be_built(make_harness: Any) -> None:
    h = make_harness(daily())
    with pytest.raises(UsageError, match="no workflow task produces or loads 'raw_x.y'"):
        builds.build_asset(h.db, h.project, "raw_x.y", trigger={"type": "ui"})
