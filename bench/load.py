"""Load: --load-runs runs of a 10-task workflow arriving at once, then a chain of 40 tasks,
through `podium up` on SQLite and on PostgreSQL; nothing may be lost or doubled.

`podium up` (a subprocess, default threads executor) serves a project with two workflows:
``fan10`` (t0 → t1…t8 → t9) and ``chain40`` (c0 → c1 → … → c39), no-op Python tasks that
note when they start. The benchmark writes the runs of ``fan10`` straight into the store,
100 per transaction (as a burst of events or a catch-up would), wakes the engine, and waits
for them to end; then it starts one run of ``chain40`` alone and waits again.

Reported per store and phase: tasks/s (tasks ÷ first run created → last task finished)
and schedule-to-start p50/p95: for each task, from the moment it became ready (its run's
creation for a first task, else the step that recorded its last upstream's end) to the
moment its function started. In the burst that includes waiting for a free worker; in the
chain it is the engine's own hop latency.

Checked in the store afterwards ("nothing lost or doubled"): every run succeeded; every
task succeeded with exactly one attempt (none lost, none retried); one AttemptStarted and
one AttemptFinished per attempt; every task function ran exactly once.

PostgreSQL is the shared server of PODIUM_BENCH_POSTGRES_URL (default the local test
server), in a schema of the benchmark's own, dropped at the end.

    python bench/load.py [--load-runs 1000] [--load-stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PODIUM = [sys.executable, "-m", "podium.cli.main"]
POSTGRES_URL = os.environ.get(
    "PODIUM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WIDTH = 10  # tasks of fan10
CHAIN = 40  # tasks of chain40

TASKS_PY = """
import os
import time


def noop(ctx):
    started = time.time()
    fd = os.open(ctx.params["marks"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{ctx.run_id} {ctx.task_id} {ctx.attempt}\\n".encode())
    finally:
        os.close(fd)
    return {"started": started}
"""


def fan_deps() -> dict[str, list[str]]:
    middle = [f"t{i}" for i in range(1, WIDTH - 1)]
    return {"t0": [], **{t: ["t0"] for t in middle}, f"t{WIDTH - 1}": middle}


def chain_deps() -> dict[str, list[str]]:
    return {f"c{i}": [f"c{i - 1}"] if i else [] for i in range(CHAIN)}


def workflow_yaml(name: str, deps: dict[str, list[str]], marks: Path) -> str:
    lines = [f"name: {name}", f"params: {{marks: {json.dumps(str(marks))}}}", "tasks:"]
    for task_id, ups in deps.items():
        lines += [f"  - id: {task_id}", "    run: load_tasks:noop"]
        if ups:
            lines.append(f"    depends_on: [{', '.join(ups)}]")
    return "\n".join(lines) + "\n"


def write_project(root: Path) -> Path:
    marks = root / "marks.txt"
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "podium.yaml").write_text("store: sqlite:///.podium/state.db\n")
    (root / "load_tasks.py").write_text(TASKS_PY)
    (root / "workflows" / "fan10.yaml").write_text(workflow_yaml("fan10", fan_deps(), marks))
    (root / "workflows" / "chain40.yaml").write_text(workflow_yaml("chain40", chain_deps(), marks))
    return marks


# -- one store -----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    runs: int
    tasks: int
    seconds: float
    tasks_per_s: float
    p50_ms: float
    p95_ms: float


@dataclass
class LoadResult:
    store: str
    phases: list[Phase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_load(
    store: str, runs: int, *, postgres_url: str = POSTGRES_URL, timeout: float = 900
) -> LoadResult:
    """Both phases on ``store`` ("sqlite", or "postgres" in a schema of its own at
    ``postgres_url``); what was lost or doubled is listed in ``problems``, not raised."""
    schema = f"podium_bench_load_{uuid.uuid4().hex[:8]}" if store == "postgres" else None
    with tempfile.TemporaryDirectory(prefix="podium-load-") as tmp:
        root = Path(tmp)
        marks = write_project(root)
        url = f"sqlite:///{root / '.podium' / 'state.db'}"
        if schema:
            sep = "&" if "?" in postgres_url else "?"
            url = f"{postgres_url}{sep}schema={schema}"
        try:
            return _run(store, url, root, marks, runs, timeout)
        finally:
            if schema:
                _drop_schema(postgres_url, schema)


def _run(store: str, url: str, root: Path, marks: Path, runs: int, timeout: float) -> LoadResult:
    from podium.project import load_project
    from podium.store.database import open_database

    env = {**os.environ, "PODIUM_STORE_URL": url}
    project = load_project(root, environ=env)
    db = open_database(url)
    up = _start_up(root, env)
    result = LoadResult(store)
    try:
        fan = _create_runs(db, project, "fan10", runs)
        _wait_done(db, fan, timeout, up)
        chain = _create_runs(db, project, "chain40", 1)
        _wait_done(db, chain, timeout, up)
    finally:
        _stop_up(up)
    result.phases.append(measure(db, f"{runs} runs × {WIDTH} tasks", fan, fan_deps()))
    result.phases.append(measure(db, f"chain of {CHAIN}", chain, chain_deps()))
    result.problems = check(db, {**dict.fromkeys(fan, WIDTH), **dict.fromkeys(chain, CHAIN)}, marks)
    db.close()
    return result


def _start_up(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = open(root / "up.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [*PODIUM, "up", "--port", str(port), "--project", str(root)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    _wait_for(lambda: (root / "up.log").read_text().find("podium up: engine") >= 0, 60, proc)
    return proc


def _stop_up(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_for(done: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            raise RuntimeError(f"podium up exited {proc.returncode} during the load benchmark")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the load benchmark did not finish within {timeout:g}s")
        time.sleep(0.05)


def _create_runs(db: Any, project: Any, workflow: str, count: int) -> list[str]:
    """``count`` runs of ``workflow`` written into the store, 100 per transaction."""
    from podium.engine import state
    from podium.engine.journal import Journal
    from podium.engine.triggers import iso

    wf = project.workflow(workflow)
    made: list[str] = []
    while len(made) < count:
        with db.transaction() as tx:
            now = time.time()
            j = Journal(tx, now)
            for _ in range(min(100, count - len(made))):
                run_id = state.create_run(
                    j, wf, trigger={"type": "manual"}, params=dict(wf.params), logical_time=iso(now)
                )
                assert run_id is not None
                made.append(run_id)
            j.flush()
            tx.notify = True
    return made


def _wait_done(db: Any, run_ids: list[str], timeout: float, up: subprocess.Popen[bytes]) -> None:
    marks = ",".join("?" * len(run_ids))

    def ended() -> bool:
        row = db.read().fetchone(
            f"SELECT COUNT(*) FROM runs WHERE id IN ({marks}) AND finished_at IS NOT NULL",
            run_ids,
        )
        return bool(row and int(row[0]) == len(run_ids))

    _wait_for(ended, timeout, up)


# -- figures and checks --------------------------------------------------------------------


def measure(db: Any, name: str, run_ids: list[str], deps: dict[str, list[str]]) -> Phase:
    """tasks/s and schedule-to-start (ready → the task function started) of one phase."""
    rows = _task_rows(db, run_ids)
    created = {r: c for r, _, c, _, _ in rows}
    finished = {(r, t): f for r, t, _, f, _ in rows}
    waits = []
    for run_id, task_id, _, _, output in rows:
        if output is None:
            continue
        ups = deps[task_id]
        ready = max(finished[(run_id, u)] for u in ups) if ups else created[run_id]
        waits.append((json.loads(output)["started"] - ready) * 1000)
    seconds = max(f for *_, f, _ in rows) - min(created.values())
    waits.sort()
    return Phase(
        name,
        len(run_ids),
        len(rows),
        seconds,
        len(rows) / seconds if seconds > 0 else 0.0,
        statistics.median(waits) if waits else 0.0,
        waits[max(0, int(len(waits) * 0.95) - 1)] if waits else 0.0,
    )


def _task_rows(db: Any, run_ids: list[str]) -> list[tuple[str, str, float, float, str | None]]:
    rows = []
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows += db.read().fetchall(
            "SELECT t.run_id, t.task_id, r.created_at, t.finished_at, t.output FROM task_runs t"
            f" JOIN runs r ON r.id = t.run_id WHERE t.run_id IN ({marks})",
            chunk,
        )
    return [(r, t, float(c), float(f or 0), o) for r, t, c, f, o in rows]


def check(db: Any, expected: dict[str, int], marks: Path) -> list[str]:
    """What was lost or doubled (empty when nothing was): ``expected`` maps each run to its
    number of tasks."""
    read, problems = db.read(), []
    runs = dict(read.fetchall("SELECT id, status FROM runs"))
    if set(runs) != set(expected):
        problems.append(f"{len(runs)} runs in the store, {len(expected)} created")
    if bad := Counter(s for s in runs.values() if s != "succeeded"):
        problems.append(f"runs not succeeded: {dict(bad)}")
    tasks = Counter(r for (r,) in read.fetchall("SELECT run_id FROM task_runs"))
    ok = Counter(
        r for (r,) in read.fetchall("SELECT run_id FROM task_runs WHERE status = ?", ("succeeded",))
    )
    total = sum(expected.values())
    if tasks != Counter(expected) or ok != Counter(expected):
        problems.append(
            f"{sum(ok.values())} of {total} tasks succeeded ({sum(tasks.values())} stored)"
        )
    attempts = read.fetchall("SELECT run_id, task_id, number, status FROM attempts")
    if len(attempts) != total or {(n, s) for _, _, n, s in attempts} != {(1, "succeeded")}:
        kinds = Counter((int(n), s) for _, _, n, s in attempts)
        problems.append(f"{len(attempts)} attempts for {total} tasks: {dict(kinds)}")
    events = Counter(
        (kind, r, t, json.loads(p).get("attempt"))
        for kind, r, t, p in read.fetchall(
            "SELECT type, run_id, task_id, payload FROM events WHERE type IN (?, ?)",
            ("AttemptStarted", "AttemptFinished"),
        )
    )
    if len(events) != 2 * total or set(events.values()) != {1}:
        problems.append(f"{sum(events.values())} attempt events for {total} attempts")
    ran = Counter(marks.read_text().splitlines() if marks.exists() else [])
    if len(ran) != total or set(ran.values()) != {1}:
        problems.append(f"task functions ran {sum(ran.values())} times for {total} tasks")
    return problems


def _drop_schema(postgres_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def is_postgres_up() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


# -- the table -----------------------------------------------------------------------------


def rows(result: LoadResult) -> list[tuple[str, str]]:
    out = []
    for p in result.phases:
        out.append(
            (
                f"load {result.store}: {p.name}",
                f"{p.tasks_per_s:.0f} tasks/s ({p.tasks} in {p.seconds:.1f} s),"
                f" schedule→start p50 {p.p50_ms:.1f} ms, p95 {p.p95_ms:.1f} ms",
            )
        )
    verdict = "nothing lost or doubled" if not result.problems else "; ".join(result.problems)
    out.append((f"load {result.store}: check", verdict))
    return out


def run_stores(stores: list[str], runs: int) -> tuple[list[tuple[str, str]], bool]:
    """The table rows for each store, and whether every check passed."""
    table, ok = [], True
    for store in stores:
        if store == "postgres" and not is_postgres_up():
            table.append(("load postgres", f"skipped: no server at {POSTGRES_URL}"))
            continue
        result = run_load(store, runs)
        table.extend(rows(result))
        ok = ok and not result.problems
    return table, ok


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load-runs", type=int, default=1000)
    parser.add_argument("--load-stores", default="sqlite,postgres")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    args = parser.parse_args()
    table, ok = run_stores(args.load_stores.split(","), args.load_runs)
    width = max(len(name) for name, _ in table)
    for name, value in table:
        print(f"{name:<{width}}  {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
