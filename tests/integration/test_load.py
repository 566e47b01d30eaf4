"""Correctness under load: `make bench`'s load benchmark, smaller, as a test.

100 runs of a 10-task workflow arriving at once, then a chain of 40 tasks, through a real
`podium up` on SQLite (and on PostgreSQL when PODIUM_TEST_POSTGRES_URL is set): every run
succeeded, every task ran and was recorded exactly once (bench/load.py's ``check``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import POSTGRES_URL, SKIP_POSTGRES

BENCH_LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def bench_load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("podium_bench_load", BENCH_LOAD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_100_runs_of_10_tasks_and_a_chain_of_40_nothing_lost_or_doubled(store: str) -> None:
    if store == "postgres" and not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    load = bench_load()
    kw = {"postgres_url": POSTGRES_URL} if store == "postgres" else {}
    result = load.run_load(store, 100, timeout=240, **kw)
    assert result.problems == []
    fan, chain = result.phases
    assert (fan.runs, fan.tasks) == (100, 1000)
    assert (chain.runs, chain.tasks) == (1, 40)
    assert fan.tasks_per_s > 0 and chain.p95_ms >= 0


def test_the_check_names_what_was_lost_or_doubled(tmp_path: Path) -> None:
    from podium.project import load_project
    from podium.store.database import open_database

    load = bench_load()
    url = f"sqlite:///{tmp_path / 'state.db'}"
    marks = load.write_project(tmp_path)
    db = open_database(url)
    run_ids = load._create_runs(
        db, load_project(tmp_path, environ={"PODIUM_STORE_URL": url}), "fan10", 2
    )
    marks.write_text(f"{run_ids[0]} t0 1\n" * 2)  # one task ran twice, the others never
    problems = load.check(db, {**dict.fromkeys(run_ids, 10), "gone": 10}, marks)
    db.close()
    assert problems == [
        "2 runs in the store, 3 created",
        "runs not succeeded: {'queued': 2}",
        "0 of 30 tasks succeeded (20 stored)",
        "0 attempts for 30 tasks: {}",
        "0 attempt events for 30 attempts",
        "task functions ran 2 times for 30 tasks",
    ]
