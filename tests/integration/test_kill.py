"""THE KILL TEST: SIGKILL ``podium up`` again and again in the middle of a 30-task run.

The run must still end ``succeeded`` with every task succeeded exactly once in the store
(every other attempt ``lost``, none left ``running``), and no two attempts of one task may
ever have run at the same time: each task appends ``START task attempt pid time`` and
``END task attempt pid time`` to its own file, and an attempt whose process was killed
(a START without an END) must have been dead before the next attempt of that task started.

Variants: SQLite with the threads executor, SQLite with the processes executor, and
PostgreSQL (only when PODIUM_TEST_POSTGRES_URL is set). ``podium up`` runs in a session of
its own and the whole process group is SIGKILLed; the last test kills the engine process
alone, which its task processes must not outlive.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from tests.mark_lines import APPEND_LINE_PY

from .conftest import (
    POSTGRES_URL,
    SKIP_POSTGRES,
    drop_postgres_schema,
    pid_alive,
    postgres_schema_url,
    wait_until,
)

KILLS = 4
LEASE = "2s"

TASK_PY = (
    """
import os
import time
from pathlib import Path

MARKS = Path(__file__).resolve().parent.parent / "marks"

"""
    + APPEND_LINE_PY
    + """


def work(ctx):
    MARKS.mkdir(exist_ok=True)
    path = MARKS / f"{ctx.task_id}.log"
    who = f"{ctx.task_id} {ctx.attempt} {os.getpid()}"
    append_line(path, f"START {who} {time.time():.6f}")
    time.sleep(float(ctx.params["seconds"]))
    append_line(path, f"END {who} {time.time():.6f}")
    return {"task": ctx.task_id, "attempt": ctx.attempt, "upstream": sorted(ctx.upstream)}
"""
)


def workflow_yaml(rng: random.Random) -> tuple[str, list[str]]:
    """30 tasks: 3 roots fanning out to 12, 3 chains of 4, then a fan-in of 3."""
    deps: dict[str, list[str]] = {}
    roots = [f"root{r}" for r in range(3)]
    for root in roots:
        deps[root] = []
    for r, root in enumerate(roots):
        for i in range(4):
            deps[f"fan{r}_{i}"] = [root]
    for r in range(3):
        previous = [f"fan{r}_0", f"fan{r}_1"]
        for i in range(4):
            deps[f"chain{r}_{i}"] = previous
            previous = [f"chain{r}_{i}"]
    deps["join"] = [f"chain{r}_3" for r in range(3)] + [
        f"fan{r}_{i}" for r in range(3) for i in (2, 3)
    ]
    deps["after_join"] = ["join"]
    deps["final"] = ["after_join", "root0"]
    assert len(deps) == 30
    lines = ["name: big", "tasks:"]
    for task, upstream in deps.items():
        lines += [
            f"  - id: {task}",
            "    run: pipeline.kill:work",
            f"    params: {{seconds: {rng.uniform(0.2, 0.6):.2f}}}",
        ]
        if upstream:
            lines.append(f"    depends_on: [{', '.join(upstream)}]")
    return "\n".join(lines) + "\n", list(deps)


# -- reading what happened ---------------------------------------------------------------


def read_marks(root: Path) -> dict[str, dict[tuple[int, int], list[float | None]]]:
    """task -> (attempt, pid) -> [start, end or None], from the START/END lines."""
    found: dict[str, dict[tuple[int, int], list[float | None]]] = defaultdict(dict)
    folder = root / "marks"
    for path in sorted(folder.glob("*.log")) if folder.is_dir() else []:
        for line in path.read_text().splitlines():
            kind, task, attempt, pid, at = line.split()
            key = (int(attempt), int(pid))
            entry = found[task].setdefault(key, [None, None])
            entry[0 if kind == "START" else 1] = float(at)
    return found


def unfinished_pids(root: Path) -> set[int]:
    return {
        pid
        for entries in read_marks(root).values()
        for (_, pid), (_, end) in entries.items()
        if end is None
    }


def session_members(sid: int) -> list[str]:
    """Live processes (not zombies) in session ``sid``, described."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append(f"{entry}: {cmd[:120]}")
    return members


def store_attempts(project: Any, schema: str | None) -> list[tuple[str, int, str]]:
    sql = "SELECT task_id, number, status FROM attempts ORDER BY task_id, number"
    if schema is None:
        conn = sqlite3.connect(f"file:{project.root / '.podium' / 'state.db'}?mode=ro", uri=True)
        try:
            return [(t, int(n), s) for t, n, s in conn.execute(sql)]
        finally:
            conn.close()
    import psycopg

    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return [(t, int(n), s) for t, n, s in conn.execute(sql).fetchall()]


# -- the test --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "executor"),
    [
        pytest.param("sqlite", "threads", id="sqlite-threads"),
        pytest.param("sqlite", "processes", id="sqlite-processes"),
        pytest.param("postgres", "threads", id="postgres-threads"),
    ],
)
def test_sigkill_podium_up_repeatedly_loses_nothing_and_never_doubles(
    make_project: Any, backend: str, executor: str
) -> None:
    env: dict[str, str] = {}
    schema: str | None = None
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        env["PODIUM_STORE_URL"], schema = postgres_schema_url()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    where = f"(seed {seed}, {backend}, {executor})"
    yaml_text, task_ids = workflow_yaml(rng)
    project = make_project(
        {
            "podium.yaml": "store: sqlite:///.podium/state.db\n"
            f"engine: {{lease_timeout: {LEASE}, executor: {executor}, workers: 8}}\n",
            "pipeline/kill.py": TASK_PY,
            "workflows/big.yaml": yaml_text,
        },
        env=env,
    )
    try:
        _kill_and_check(project, schema, task_ids, rng, executor, where)
    finally:
        if schema is not None:
            drop_postgres_schema(schema)


def _kill_and_check(
    project: Any,
    schema: str | None,
    task_ids: list[str],
    rng: random.Random,
    executor: str,
    where: str,
) -> None:
    up = project.up()
    created = up.http.post("/api/workflows/big/runs", json={})
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    deaths: dict[int, float] = {}  # pid -> a moment it was known dead
    kills: list[float] = []  # when each engine had been killed (read once the signal was sent)
    statuses_at_kill = []

    for _ in range(KILLS):
        time.sleep(rng.uniform(0.5, 1.5))  # the chaos: a random moment to die
        statuses_at_kill.append(up.run(run_id)["status"])
        engine = up.proc.pid
        up.proc.kill_group()  # podium up and everything it started (see the test below)
        kills.append(time.time())
        up.proc.popen.wait(timeout=10)
        deaths[engine] = time.time()
        # an attempt cut off by the kill: its process dies with the engine, at once
        for pid in sorted(unfinished_pids(project.root) - deaths.keys()):
            wait_until(
                lambda pid=pid: not pid_alive(pid),
                1,
                interval=0.005,
                message=f"task process {pid} to die with its engine {engine} {where}",
            )
            deaths[pid] = time.time()
        wait_until(
            lambda engine=engine: not session_members(engine),
            5,
            interval=0.05,
            message=f"every process of killed engine {engine} to be gone: "
            f"{session_members(engine)} {where}",
        )
        up.http.close()
        up = project.up()

    final = up.wait_run(run_id, timeout=90)
    up.proc.signal(signal.SIGTERM)
    assert up.proc.wait(timeout=20) == 0, up.proc.describe()

    assert statuses_at_kill[0] == "running", f"the first kill came too late {where}"
    assert final["status"] == "succeeded", (where, final)
    assert {t["id"]: t["status"] for t in final["tasks"]} == dict.fromkeys(task_ids, "succeeded")

    # the store: one succeeded attempt per task, every other one lost, none running
    by_task: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for task, number, status in store_attempts(project, schema):
        by_task[task].append((number, status))
    assert set(by_task) == set(task_ids)
    lost = 0
    for task, attempts in by_task.items():
        statuses = [status for _, status in attempts]
        assert statuses.count("succeeded") == 1, (task, attempts, where)
        assert set(statuses) <= {"succeeded", "lost"}, (task, attempts, where)
        assert statuses[-1] == "succeeded", (task, attempts, where)
        assert len(attempts) <= 1 + KILLS, (task, attempts, where)
        lost += statuses.count("lost")
    assert lost >= 1, f"no kill caught an attempt running {where}"

    # the task files: no two attempts of one task ever ran at the same time
    marks = read_marks(project.root)
    assert set(marks) == set(task_ids)
    for task, entries in marks.items():
        numbers = {number for number, _ in by_task[task]}
        succeeded = next(n for n, s in by_task[task] if s == "succeeded")
        ran = {attempt for attempt, _ in entries}
        assert ran <= numbers, (task, sorted(ran), sorted(numbers), where)
        assert any(
            attempt == succeeded and end is not None for (attempt, _), (_, end) in entries.items()
        ), (task, entries, where)
        spans = []
        for (attempt, pid), (start, end) in entries.items():
            assert start is not None, (task, attempt, "END without START", where)
            if end is None:
                assert pid in deaths, (
                    f"{task} attempt {attempt} (pid {pid}) started, never ended, and its "
                    f"process was not one that was killed {where}"
                )
                end = deaths[pid]
            else:  # an attempt that ended did not outlive an engine killed under it
                for killed in kills:
                    assert not start < killed < end - 0.01, (
                        f"{task} attempt {attempt} (pid {pid}) ran from {start:.3f} to "
                        f"{end:.3f}, past the kill of its engine at {killed:.3f} {where}"
                    )
            spans.append((start, end, attempt, pid))
        spans.sort()
        for earlier, later in zip(spans, spans[1:], strict=False):
            assert later[0] >= earlier[1], (
                f"{task}: attempt {later[2]} (pid {later[3]}) started at {later[0]:.3f} while "
                f"attempt {earlier[2]} (pid {earlier[3]}) ran until {earlier[1]:.3f} {where}"
            )

    # nothing a task started is still alive
    every_pid = {pid for entries in marks.values() for (_, pid) in entries}
    assert not [pid for pid in every_pid if pid_alive(pid)], where


SLEEPER_PY = """
import os
import time
from pathlib import Path

MARKS = Path(__file__).resolve().parent.parent / "marks"


def sleep(ctx):
    MARKS.mkdir(exist_ok=True)
    (MARKS / f"pid.{ctx.attempt}").write_text(str(os.getpid()))
    time.sleep(10)
    (MARKS / f"end.{ctx.attempt}").write_text(str(time.time()))
    return "slept"
"""


def test_task_processes_die_with_a_killed_engine(make_project: Any) -> None:
    project = make_project(
        {
            "podium.yaml": "store: sqlite:///.podium/state.db\n"
            f"engine: {{lease_timeout: {LEASE}, executor: processes}}\n",
            "pipeline/sleeper.py": SLEEPER_PY,
            "workflows/sleepy.yaml": "name: sleepy\ntasks:\n  - id: nap\n    run: pipeline.sleeper:sleep\n",
        }
    )
    up = project.up()
    created = up.http.post("/api/workflows/sleepy/runs", json={})
    assert created.status_code == 201, created.text
    pid_file = project.root / "marks" / "pid.1"
    wait_until(pid_file.exists, 15, message="the task process to start")
    task_pid = int(wait_until(pid_file.read_text, 5, message="the task pid"))
    assert pid_alive(task_pid)

    os.kill(up.proc.pid, signal.SIGKILL)  # the engine process only
    up.proc.popen.wait(timeout=10)
    wait_until(
        lambda: not pid_alive(task_pid),
        2,
        interval=0.01,
        message=f"task process {task_pid} to die with its engine {up.proc.pid}; still there: "
        f"{session_members(up.proc.pid)}",
    )
    assert not (project.root / "marks" / "end.1").exists()
