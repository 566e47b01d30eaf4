"""A crash at each step of firing a schedule: exactly one run per (schedule, logical time).

``podium up`` starts with three ticks of a ``* * * * *`` schedule (``catchup: all``) due:
the store says the schedule last fired three minutes ago, as after an outage. The test
hook ``PODIUM_TEST_CRASH_AT=POINT:SIGNAL`` (podium/engine/crashpoints.py) makes the engine
send itself SIGKILL, or SIGTERM (``podium up`` then drains), the first time it reaches
POINT:

- ``tick_claimed``: a due tick found, inside the step's transaction;
- ``run_created``: the tick's run inserted, still inside that transaction;
- ``task_claimed``: the commit that claimed the runs' first attempts, before they run;
- ``state_committed``: the commit that recorded an attempt's end.

Then ``podium up`` starts again without the hook and the test waits for the three runs to
end. Whatever the point and the signal: one run per logical time, each succeeded, each
task with exactly one succeeded attempt whose function ran to its end, nothing running.
On SQLite with both signals; on PostgreSQL (when PODIUM_TEST_POSTGRES_URL is set) with
SIGKILL, where the restarted engine takes the dead one's attempts over once their 2 s
leases expire.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.mark_lines import APPEND_LINE_PY
from tests.postgres_schemas import (
    POSTGRES_URL,
    SKIP_POSTGRES,
    drop_schema,
    postgres_url_with_schema,
)

from .conftest import MakeProject, Project, free_port, wait_until

POINTS = ("tick_claimed", "run_created", "task_claimed", "state_committed")
TASKS = ("load", "report")
SCHEDULE_KEY = "schedule:* * * * *@UTC"

TASKS_PY = (
    """
import os
from pathlib import Path

MARKS = Path(__file__).resolve().parent.parent / "marks.txt"

"""
    + APPEND_LINE_PY
    + """


def step(ctx):
    who = f"{ctx.run_id} {ctx.task_id} {ctx.attempt}"
    append_line(MARKS, f"START {who}")
    append_line(MARKS, f"END {who}")
    return {"tick": ctx.logical_time.isoformat()}
"""
)

FILES = {
    "podium.yaml": """
        store: sqlite:///.podium/state.db
        engine:
          lease_timeout: 2s
    """,
    "pipeline/tasks.py": TASKS_PY,
    "workflows/nightly.yaml": """
        name: nightly
        triggers:
          - schedule: "* * * * *"
            catchup: all
        tasks:
          - id: load
            run: pipeline.tasks:step
          - id: report
            run: pipeline.tasks:step
            depends_on: [load]
    """,
}


class Store:
    """The project's store, read (and seeded) by the test: SQLite, or a PostgreSQL schema."""

    def __init__(self, project: Project, schema: str | None) -> None:
        self.project, self.schema = project, schema

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.schema is None:
            return self.project.query(sql, params)
        return self._postgres(sql, params)

    def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        if self.schema is not None:
            self._postgres(sql, params, fetch=False)
            return
        conn = sqlite3.connect(self.project.root / ".podium" / "state.db", timeout=10)
        with conn:
            conn.execute(sql, params)
        conn.close()

    def _postgres(
        self, sql: str, params: tuple[Any, ...], fetch: bool = True
    ) -> list[tuple[Any, ...]]:
        import psycopg

        assert POSTGRES_URL
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            cur = conn.execute(sql.replace("?", "%s"), params)
            return [tuple(r) for r in cur.fetchall()] if fetch else []


def seed_missed_ticks(store: Store, count: int) -> list[str]:
    """Records the schedule's last tick ``count`` minutes back; returns the ticks now due."""
    store.project.ok("runs", "--json")  # creates the store
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    last = now - timedelta(minutes=count)
    store.execute(
        "INSERT INTO trigger_state (workflow, trigger_key, value) VALUES (?, ?, ?)",
        ("nightly", SCHEDULE_KEY, json.dumps({"last_tick": last.isoformat()})),
    )
    return [(last + timedelta(minutes=i)).isoformat() for i in range(1, count + 1)]


def runs_of(store: Store) -> list[tuple[str, str, str]]:
    rows = store.query("SELECT id, logical_time, status FROM runs WHERE workflow = ?", ("nightly",))
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize(
    ("store_kind", "signame"), [("sqlite", "KILL"), ("sqlite", "TERM"), ("postgres", "KILL")]
)
@pytest.mark.parametrize("point", POINTS)
def test_a_crash_while_firing_a_schedule_leaves_one_run_per_tick(
    make_project: MakeProject, point: str, store_kind: str, signame: str
) -> None:
    schema = None
    env: dict[str, str] = {}
    if store_kind == "postgres":
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        env["PODIUM_STORE_URL"], schema = postgres_url_with_schema("podium_crash")
    try:
        crash_and_restart(Store(make_project(FILES, env=env), schema), point, signame)
    finally:
        if schema is not None:
            drop_schema(schema)


def crash_and_restart(store: Store, point: str, signame: str) -> None:
    project = store.project
    ticks = seed_missed_ticks(store, 3)

    crashed = project.start(
        "up", "--port", str(free_port()), env={"PODIUM_TEST_CRASH_AT": f"{point}:{signame}"}
    )
    code = crashed.wait(timeout=60)
    if signame == "KILL":
        assert code == -signal.SIGKILL, crashed.describe()
        check_what_the_crash_left(store, point, ticks)
    else:
        assert code == 0 and "podium up: stopped" in crashed.out, crashed.describe()

    up = project.up()
    wait_until(
        lambda: {t for _, t, s in runs_of(store) if s == "succeeded"} >= set(ticks),
        60,
        interval=0.1,
        message=f"the runs of ticks {ticks} to succeed after the restart",
    )
    up.proc.signal(signal.SIGTERM)
    assert up.proc.wait(timeout=60) == 0, up.proc.describe()
    check_exactly_once(store, ticks)


def check_what_the_crash_left(store: Store, point: str, ticks: list[str]) -> None:
    runs = runs_of(store)
    attempts = store.query("SELECT task_id, status FROM attempts")
    if point in ("tick_claimed", "run_created"):
        assert runs == [] and attempts == []  # killed before COMMIT: nothing was written
    elif point == "task_claimed":
        assert {t for _, t, _ in runs} >= set(ticks)  # committed with the claims
        assert attempts and {s for _, s in attempts} == {"running"}
        assert not (store.project.root / "marks.txt").exists()  # the claimed attempts never ran
    else:
        assert ("load", "succeeded") in attempts


def check_exactly_once(store: Store, ticks: list[str]) -> None:
    runs = runs_of(store)
    per_tick = Counter(t for _, t, _ in runs)
    assert set(per_tick.values()) == {1}, per_tick  # one run per (schedule, logical time)
    assert set(ticks) <= set(per_tick)
    assert {s for _, _, s in runs} == {"succeeded"}
    run_ids = {r for r, _, _ in runs}

    attempts = store.query("SELECT run_id, task_id, number, status FROM attempts")
    assert not [a for a in attempts if a[3] == "running"]
    succeeded = Counter((r, t) for r, t, _, s in attempts if s == "succeeded")
    assert succeeded == Counter({(r, t): 1 for r in run_ids for t in TASKS})
    assert {s for *_, s in attempts} <= {"succeeded", "lost"}  # lost: claimed by the dead one

    marks = [line.split() for line in (store.project.root / "marks.txt").read_text().splitlines()]
    ended = {(r, t, int(n)) for kind, r, t, n in marks if kind == "END"}
    for run_id, task_id, number, status in attempts:
        if status == "succeeded":
            assert (run_id, task_id, int(number)) in ended  # recorded only once it ran
    started = Counter((r, t, n) for kind, r, t, n in marks if kind == "START")
    assert set(started.values()) == {1}  # an attempt never runs twice

    events = store.query("SELECT type, run_id, task_id, payload FROM events")
    transitions = Counter(
        (kind, r, t, json.loads(p).get("attempt"))
        for kind, r, t, p in events
        if kind
        in ("RunRequested", "RunFinished", "TaskFinished", "AttemptStarted", "AttemptFinished")
    )
    assert set(transitions.values()) == {1}, [k for k, n in transitions.items() if n > 1]
    assert sum(1 for k in transitions if k[0] == "RunRequested") == len(runs)
