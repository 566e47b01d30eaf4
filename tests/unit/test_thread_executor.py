"""The threads executor starts a job at once while a worker is free to be made, even when
the job before it was submitted a moment earlier and still runs."""

from __future__ import annotations

import importlib
import threading
import uuid
from pathlib import Path
from typing import Any

from podium.execution.base import Job, JobResult
from podium.execution.threads import ThreadExecutor

PROBE = """
import threading

release = threading.Event()


def block(ctx):
    release.wait(30)
    return "blocked"


def quick(ctx):
    return "quick"
"""


def job(root: Path, module: str, function: str) -> Job:
    return Job(
        key=("run1", function, 1),
        workflow="w",
        kind="run",
        target=f"{module}:{function}",
        project_root=str(root),
        params={},
        logical_time="2026-11-30T00:00:00+00:00",
        upstream={},
    )


def test_a_job_submitted_right_after_a_long_one_does_not_wait_for_it(tmp_path: Path) -> None:
    module = f"executor_probe_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(PROBE)
    for _ in range(300):  # the race this guards against needed the two submits back to back
        executor = ThreadExecutor(8, lambda *args: None)
        quick_done = threading.Event()

        def done(result: JobResult, event: Any = quick_done) -> None:
            if result.key[1] == "quick":
                event.set()

        executor.submit(job(tmp_path, module, "block"), done)
        executor.submit(job(tmp_path, module, "quick"), done)
        finished = quick_done.wait(10)
        probe = importlib.import_module(module)
        probe.release.set()  # let the long one end, then the next round blocks again
        executor.shutdown(wait=False)
        assert finished, "the quick job waited behind the blocking one"
        probe.release.clear()
