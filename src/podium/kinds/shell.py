"""``shell: COMMAND`` — runs a command in the project folder; its output lines are logged.

The attempt fails when the command exits non-zero; a cancelled or timed-out attempt kills
its whole process group. The command sees ``PODIUM_RUN_ID``, ``PODIUM_TASK_ID``,
``PODIUM_ATTEMPT``, ``PODIUM_IDEMPOTENCY_KEY``, ``PODIUM_LOGICAL_TIME``, ``PODIUM_PARAMS``
(JSON) and ``PODIUM_WORKFLOW``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.kinds.base import Job, ProjectView, TaskContext, TaskResult
from podium.settings.describe import Settings


class ShellKind:
    name = "shell"
    target = "a shell command"
    options = Settings(doc="A task that runs a shell command in the project folder.")

    def check_target(self, target: str) -> str | None:
        return None if target.strip() else "the command is empty"

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return None

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        proc = subprocess.Popen(
            job.target,
            shell=True,
            cwd=job.project_root,
            env=_environment(job),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
            errors="replace",
            preexec_fn=die_with_parent,
        )
        cancelled = context.cancelled
        killer = threading.Thread(target=_kill_when, args=(cancelled, proc), daemon=True)
        killer.start()
        last = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            last = line.rstrip("\n")
            context.sink(job.key, "stdout", last)
        code = proc.wait()
        cancelled.set()  # ends the killer thread
        if code != 0:
            raise RuntimeError(f"command exited with status {code}" + (f": {last}" if last else ""))
        return TaskResult(output={"exit_code": 0, "last_line": last})


def _environment(job: Job) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PODIUM_RUN_ID=job.key[0],
        PODIUM_TASK_ID=job.key[1],
        PODIUM_ATTEMPT=str(job.key[2]),
        PODIUM_IDEMPOTENCY_KEY=job.idempotency_key,
        PODIUM_LOGICAL_TIME=job.logical_time,
        PODIUM_PARAMS=json.dumps(dict(job.params), default=str),
        PODIUM_WORKFLOW=job.workflow,
    )
    return env


def _kill_when(cancelled: threading.Event, proc: subprocess.Popen[str]) -> None:
    cancelled.wait()
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the process that started it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


KIND = ShellKind()
