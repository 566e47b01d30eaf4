"""An engine on a Dask cluster outlives its scheduler restarting.

A real ``dask scheduler`` and ``dask worker`` run as processes; the scheduler is SIGKILLed
while an attempt runs (its worker goes with it, as Dask workers do) and comes back on the
same address after the Dask client has given up on it. Meanwhile the engine's loop keeps
stepping — its heartbeat and leases go on being renewed, nothing waits on the scheduler —
the attempt on the dead cluster ends ``lost`` without a storm of new attempts, and once the
scheduler is back the engine reconnects on its own and the run finishes.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dask_clusters import EngineThread, wait_for, write_project
from podium.engine import queries

pytest.importorskip("distributed", reason="executor dask needs podium[dask]")

DASK = str(Path(sys.executable).with_name("dask"))
TASKS_PY = """
import time

def slow(ctx):
    time.sleep(1.5)
    return {"slept": 1.5}

def quick(ctx):
    return {"ok": True}
"""
WORKFLOW = """name: w
tasks:
  - {id: a, run: tasks:slow}
  - {id: b, run: tasks:quick, depends_on: [a]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A scheduler and one worker as separate processes, so either can be killed."""

    def __init__(self, port: int) -> None:
        self.address = f"tcp://127.0.0.1:{port}"
        self.port = port
        self.procs: list[subprocess.Popen[bytes]] = []
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
        self._env = env

    def start(self) -> None:
        self.procs = [
            self._spawn("scheduler", "--host", "127.0.0.1", "--port", str(self.port)),
            self._spawn("worker", self.address, "--nthreads", "2"),
        ]

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [DASK, *args, "--no-dashboard"],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    running = Cluster(free_port())
    running.start()
    yield running
    running.kill()


def test_the_engine_outlives_its_scheduler_restarting(tmp_path: Path, cluster: Cluster) -> None:
    write_project(tmp_path, cluster.address, TASKS_PY, WORKFLOW, lease_timeout="1.5s")
    engine = EngineThread(tmp_path)
    db, run_id = engine.db, engine.run_id
    peek = sqlite3.connect(tmp_path / "state.db", timeout=5)

    def attempts(task: str) -> list[str]:
        rows = queries.attempts_of(db, run_id)
        return [r["status"] for r in rows if r["task_id"] == task]

    try:
        wait_for(lambda: attempts("a") == ["running"], 30, "task a to start on the cluster")
        time.sleep(0.3)  # the attempt is on the worker
        cluster.kill()

        # 12 s away: longer than the Dask client waits before giving up on its scheduler
        beats: list[float] = []
        outage_ends = time.monotonic() + 12
        while time.monotonic() < outage_ends:
            (beat,) = peek.execute("SELECT MAX(heartbeat_at) FROM engines").fetchone()
            beats.append(float(beat))
            time.sleep(0.2)
        gaps = [b - a for a, b in zip(beats, beats[1:], strict=False) if b != a]
        assert beats[-1] - beats[0] > 10, "the engine stopped renewing during the outage"
        assert max(gaps) < 3, f"a step waited on the absent scheduler: gaps {max(gaps):.1f}s"
        during = attempts("a")
        assert during[0] == "lost", during
        assert len(during) <= 3, f"attempts kept being handed to an absent cluster: {during}"

        cluster.start()  # the same address, a new scheduler and worker
        shown = engine.wait(60)
        assert shown["status"] == "succeeded", shown
        final = [r["status"] for r in shown["attempt_rows"] if r["task_id"] == "a"]
        assert final[0] == "lost" and final[-1] == "succeeded", final
        assert [r["status"] for r in shown["attempt_rows"] if r["task_id"] == "b"] == ["succeeded"]
    finally:
        peek.close()
        engine.close()
