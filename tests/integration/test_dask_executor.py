"""``executor: {type: dask}`` on a real ``distributed.LocalCluster`` of two worker processes.

The engine's guarantees hold on Dask: attempts run in the workers' processes with their log
lines streamed back; a project whose code changed runs its new code without restarting the
workers; a worker SIGKILLed mid-task makes its attempt ``lost`` and the task is retried,
never running twice at once; a timed-out or cancelled attempt is stopped on the worker (at
once in Python code, with its worker process when it is blocked in C).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dask_clusters import EngineThread, local_cluster, wait_for, write_project
from podium.engine import services

distributed = pytest.importorskip("distributed", reason="executor dask needs podium[dask]")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_cluster() as local:
        client = distributed.Client(local, set_as_default=False)
        yield client
        client.close()


def worker_pids(client: Any) -> set[int]:
    return set(client.run(os.getpid).values())


@pytest.fixture
def engines() -> Iterator[list[EngineThread]]:
    started: list[EngineThread] = []
    yield started
    for engine in started:
        engine.close()


def run(root: Path, engines: list[EngineThread], **kw: Any) -> EngineThread:
    engine = EngineThread(root, **kw)
    engines.append(engine)
    return engine


WORK_PY = """
import os
import sys

def work(ctx):
    print(f"hello from {ctx.task_id}")
    ctx.log.info("working on %s", ctx.task_id)
    return {"pid": os.getpid(), "task": ctx.task_id, "version": VERSION}

VERSION = "v1"
"""
FAN_OUT = """name: w
tasks:
  - {id: a, run: tasks:work}
  - {id: b, run: tasks:work, depends_on: [a], priority: 5}
  - {id: c, run: tasks:work, depends_on: [a]}
"""


def test_attempts_run_in_the_workers_and_their_logs_stream_back(
    tmp_path: Path, cluster: Any, engines: list[EngineThread]
) -> None:
    write_project(tmp_path, cluster.scheduler.address, WORK_PY, FAN_OUT)
    shown = run(tmp_path, engines).wait()
    assert shown["status"] == "succeeded", shown
    outputs = {t["id"]: t["output"] for t in shown["tasks"]}
    pids = {o["pid"] for o in outputs.values()}
    assert pids <= worker_pids(cluster) and os.getpid() not in pids
    for task in "abc":
        assert f"hello from {task}" in shown["logs"]
        assert f"INFO working on {task}" in shown["logs"]


@pytest.mark.parametrize("ship", ["auto", "always"])
def test_a_changed_project_runs_its_new_code_without_restarting_workers(
    tmp_path: Path, cluster: Any, engines: list[EngineThread], ship: str
) -> None:
    write_project(tmp_path, cluster.scheduler.address, WORK_PY, FAN_OUT, ship=ship)
    before = worker_pids(cluster)
    first = run(tmp_path, engines).wait()
    assert {t["output"]["version"] for t in first["tasks"]} == {"v1"}
    (tmp_path / "tasks.py").write_text(WORK_PY.replace('"v1"', '"v2, changed"'))
    second = run(tmp_path, engines).wait()
    assert {t["output"]["version"] for t in second["tasks"]} == {"v2, changed"}
    assert worker_pids(cluster) == before  # the same worker processes


SLOW_PY = """
import os
import time
from pathlib import Path

def slow(ctx):
    marks = Path(ctx.params["marks"])
    marks.mkdir(exist_ok=True)
    (marks / f"pid-{ctx.attempt}").write_text(str(os.getpid()))
    if ctx.attempt > 1 and ctx.params.get("once"):
        return {"attempt": ctx.attempt}
    beat = marks / f"beat-{ctx.attempt}"
    for _ in range(3000):
        with beat.open("a") as out:
            out.write(".")
        time.sleep(0.02)
    return {"attempt": ctx.attempt}

def blocked(ctx):
    marks = Path(ctx.params["marks"])
    marks.mkdir(exist_ok=True)
    (marks / f"pid-{ctx.attempt}").write_text(str(os.getpid()))
    time.sleep(600)
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_worker_killed_mid_task_loses_the_attempt_and_the_task_is_retried(
    tmp_path: Path, cluster: Any, engines: list[EngineThread]
) -> None:
    marks = tmp_path / "marks"
    write_project(
        tmp_path,
        cluster.scheduler.address,
        SLOW_PY,
        "name: w\nparams: {marks: '', once: false}\ntasks:\n  - {id: slow, run: tasks:slow, retries: 0}\n",
    )
    engine = run(tmp_path, engines, params={"marks": str(marks), "once": True})
    pid = int(wait_for(lambda: _read(marks / "pid-1"), 30, "attempt 1 to start"))
    os.kill(pid, signal.SIGKILL)
    shown = engine.wait()
    assert shown["status"] == "succeeded", [
        (a["status"], a["error"]) for a in shown["attempt_rows"]
    ]
    attempts = sorted(shown["attempt_rows"], key=lambda a: a["attempt"])
    assert [a["status"] for a in attempts] == ["lost", "succeeded"], attempts
    assert "Dask worker running it died" in attempts[0]["error"]
    assert not pid_alive(pid)
    assert attempts[1]["started_at"] >= attempts[0]["finished_at"]  # never two at once
    wait_for(lambda: len(worker_pids(cluster)) == 2, 30, "the nanny to restart the worker")


def test_a_timed_out_attempt_is_stopped_on_the_worker(
    tmp_path: Path, cluster: Any, engines: list[EngineThread]
) -> None:
    marks = tmp_path / "marks"
    write_project(
        tmp_path,
        cluster.scheduler.address,
        SLOW_PY,
        "name: w\nparams: {marks: '', once: false}\ntasks:\n  - {id: slow, run: tasks:slow, timeout: 3s, retries: 0}\n",
    )
    engine = run(tmp_path, engines, params={"marks": str(marks)})
    shown = engine.wait()
    assert shown["status"] == "failed"
    assert shown["attempt_rows"][0]["status"] == "timed_out"
    pid = int(_read(marks / "pid-1"))
    _assert_stops(marks / "beat-1")
    assert pid_alive(pid)  # interrupted in its thread: the worker process goes on


def test_cancel_stops_the_attempt_on_the_worker(
    tmp_path: Path, cluster: Any, engines: list[EngineThread]
) -> None:
    marks = tmp_path / "marks"
    write_project(
        tmp_path,
        cluster.scheduler.address,
        SLOW_PY,
        "name: w\nparams: {marks: '', once: false}\ntasks:\n  - {id: slow, run: tasks:slow}\n",
    )
    engine = run(tmp_path, engines, params={"marks": str(marks)})
    wait_for(lambda: (marks / "beat-1").exists(), 30, "the attempt to start beating")
    assert services.cancel_run(engine.db, engine.project, engine.run_id)
    shown = engine.wait()
    assert shown["status"] == "cancelled"
    _assert_stops(marks / "beat-1")


def test_an_attempt_blocked_outside_python_is_stopped_with_its_worker(
    tmp_path: Path, cluster: Any, engines: list[EngineThread]
) -> None:
    marks = tmp_path / "marks"
    write_project(
        tmp_path,
        cluster.scheduler.address,
        SLOW_PY,
        "name: w\nparams: {marks: '', once: false}\ntasks:\n  - {id: stuck, run: tasks:blocked, timeout: 1s, retries: 0}\n",
        stop_grace="1s",
    )
    engine = run(tmp_path, engines, params={"marks": str(marks)})
    shown = engine.wait()
    assert shown["attempt_rows"][0]["status"] == "timed_out"
    pid = int(_read(marks / "pid-1"))
    wait_for(lambda: not pid_alive(pid), 15, "the blocked worker process to be killed")
    wait_for(lambda: len(worker_pids(cluster)) == 2, 30, "the nanny to restart the worker")


def _assert_stops(beat: Path) -> None:
    """The heartbeat file stops growing within a second and stays still."""
    wait_for(lambda: _still(beat, 0.3), 3, f"{beat.name} to stop growing")
    size = beat.stat().st_size
    time.sleep(0.5)
    assert beat.stat().st_size == size


def _still(path: Path, seconds: float) -> bool:
    size = path.stat().st_size
    time.sleep(seconds)
    return path.stat().st_size == size


def _read(path: Path) -> str | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    return text or None


SPAN_PY = """
import os
import time

def span(ctx):
    started = time.time()
    time.sleep(0.4)
    return {"pid": os.getpid(), "start": started, "end": time.time()}
"""


def test_a_pool_mapped_to_dask_resources_limits_each_worker(
    tmp_path: Path, engines: list[EngineThread]
) -> None:
    """The engine's own LocalCluster (``workers``): 2 workers of 2 threads, each with one
    ``SLOT``; the ``heavy`` pool's attempts need a ``SLOT``, so each worker runs one of
    them at a time although the pool has 4 slots and the workers 4 threads."""
    (tmp_path / "workflows").mkdir()
    (tmp_path / "podium.yaml").write_text(
        "pools: {heavy: 4}\n"
        "engine:\n"
        "  executor: {type: dask, workers: 2, threads_per_worker: 2,"
        " worker_resources: {SLOT: 1}, resources: {heavy: {SLOT: 1}}}\n"
        "  poll_interval: 0.2s\n"
    )
    (tmp_path / "tasks.py").write_text(SPAN_PY)
    tasks = "".join(f"  - {{id: t{i}, run: tasks:span, pool: heavy}}\n" for i in range(6))
    (tmp_path / "workflows/w.yaml").write_text("name: w\ntasks:\n" + tasks)
    shown = run(tmp_path, engines).wait(120)
    assert shown["status"] == "succeeded"
    spans = [t["output"] for t in shown["tasks"]]
    assert len({s["pid"] for s in spans}) == 2
    for pid in {s["pid"] for s in spans}:
        mine = sorted((s["start"], s["end"]) for s in spans if s["pid"] == pid)
        assert all(a[1] <= b[0] for a, b in zip(mine, mine[1:], strict=False)), mine
