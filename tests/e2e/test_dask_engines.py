"""Engines on one Dask cluster: a SIGKILLed ``podium up`` loses nothing and its attempts do
not go on running beside the ones that replace them.

The cluster is a real ``distributed.LocalCluster`` (two worker processes) started by the
test; each ``podium up`` is a real subprocess whose executor is that cluster's address.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dask_clusters import local_cluster

from .conftest import MakeProject, pid_alive, wait_until

# timing-sensitive: make test runs it by itself, after the parallel pass (Makefile)
pytestmark = pytest.mark.alone

distributed = pytest.importorskip("distributed", reason="executor dask needs podium[dask]")

SLOW_PY = """
import os
import time
from pathlib import Path

def slow(ctx):
    marks = Path(ctx.params["marks"])
    marks.mkdir(exist_ok=True)
    (marks / f"pid-{ctx.attempt}").write_text(str(os.getpid()))
    beat = marks / f"beat-{ctx.attempt}"
    for _ in range(int(ctx.params["beats"])):
        with beat.open("a") as out:
            out.write(".")
        time.sleep(0.02)
    return {"attempt": ctx.attempt}
"""


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with local_cluster() as cluster:
        yield cluster.scheduler_address


def test_a_killed_engine_s_attempt_stops_on_its_worker_and_is_retried_once(
    make_project: MakeProject, address: str, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    project = make_project(
        {
            "podium.yaml": f"""
                store: sqlite:///.podium/state.db
                engine:
                  executor: {{type: dask, address: '{address}'}}
                  lease_timeout: 2s
                  poll_interval: 0.2s
            """,
            "pipeline/tasks.py": SLOW_PY,
            "workflows/w.yaml": """
                name: w
                params: {marks: '', beats: 150}
                tasks:
                  - {id: slow, run: pipeline.tasks:slow}
            """,
        }
    )
    up = project.up()
    started = up.http.post(
        "/api/workflows/w/runs", json={"params": {"marks": str(marks), "beats": 150}}
    )
    assert started.status_code in (200, 201), started.text
    run_id = started.json()["run_id"]
    wait_until(lambda: (marks / "beat-1").exists(), 30, message="attempt 1 to beat")
    worker = int((marks / "pid-1").read_text())
    up.proc.kill_group()  # SIGKILL the engine: its Dask client goes with it
    killed_at = time.monotonic()
    _wait_still(marks / "beat-1", 10)
    assert time.monotonic() - killed_at < 8, "the orphaned attempt went on too long"
    assert pid_alive(worker)  # the attempt was interrupted; its worker lives on

    second = project.up()  # adopts the lost attempt after the lease and runs it again
    shown = second.wait_run(run_id, timeout=60)
    assert shown["status"] == "succeeded", shown
    rows = project.query(
        "SELECT number, status, started_at, finished_at FROM attempts WHERE run_id = ?"
        " ORDER BY number",
        (run_id,),
    )
    assert [(n, s) for n, s, _, _ in rows] == [(1, "lost"), (2, "succeeded")]
    assert (marks / "beat-2").stat().st_size == 150
    assert (marks / "beat-1").stat().st_size < 150  # stopped, never finished beside it


def _wait_still(beat: Path, timeout: float) -> None:
    def still() -> bool:
        size = beat.stat().st_size
        time.sleep(0.3)
        return beat.stat().st_size == size

    wait_until(still, timeout, interval=0.0, message=f"{beat.name} to stop growing")
