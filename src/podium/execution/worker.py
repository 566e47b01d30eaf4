"""What runs on a Dask worker: one attempt, its log lines streamed back as they are written,
and stopped on the worker when it is no longer wanted.

``run_attempt`` is the function the engine submits. It says where it started (an event on
``STARTED``), imports the project's code at the engine's version (``shipping``), runs the
attempt through ``invoke`` (the kind's ``run`` and the one error rule) and streams each log
line as an event on ``LOGS``, which the engine's client receives.

An attempt is unwanted when its future is released: the engine timed it out or cancelled
it (``client.cancel``), or the engine itself died (its client's futures go with it). One
watcher thread per worker process notices within ``WATCH_EVERY`` seconds, sets the attempt's
``cancelled`` event (a shell command's process group is killed; a kind that checks it
stops) and raises ``AttemptStopped`` in its thread, which ends pure-Python work at once.
Code blocked in C (a long ``time.sleep``, a socket read) cannot be interrupted in its
thread: if it is still running ``stop_grace`` seconds later, the worker process is killed,
and its nanny starts a fresh one (other attempts on it end ``lost`` and are retried).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podium.errors import UsageError
from podium.execution.invoke import capture_prints, invoke
from podium.execution.shipping import unpack
from podium.kinds.base import Job, JobResult, Key
from podium.kinds.callables import activate_root

LOGS = "podium-logs"
STARTED = "podium-started"
WATCH_EVERY = 0.1
_UNWANTED = frozenset({"cancelled", "released", "forgotten"})

logger = logging.getLogger("podium.worker")


class AttemptStopped(BaseException):
    """Raised in an attempt's thread when it is stopped (timed out, cancelled, engine gone).

    A ``BaseException``: a task's ``except Exception`` does not swallow it."""


@dataclass
class _Running:
    key: Key
    thread: int
    cancelled: threading.Event
    grace: float
    stopping_since: float | None = None


_running: dict[str, _Running] = {}  # by Dask key
_guard = threading.Lock()
_watcher: threading.Thread | None = None
_code = threading.Condition()
_active: tuple[str, str] | None = None  # the folder and version imported from
_users = 0  # attempts running on the active version
SWITCH_WAIT = 30.0  # a version change waits this long for attempts of the last one to end


def run_attempt(
    job: Job, code: bytes | None, version: str, stop_grace: float, ship: str = "auto"
) -> JobResult:  # pragma: no cover - runs in Dask worker processes; tested through them
    from distributed import get_worker

    worker = get_worker()
    dask_key = str(worker.get_current_task())
    worker.log_event(STARTED, {"key": list(job.key), "worker": worker.address})
    capture_prints()

    def sink(key: Key, stream: str, line: str) -> None:
        worker.log_event(LOGS, (list(key), stream, line))

    entry = _Running(job.key, threading.get_ident(), threading.Event(), stop_grace)
    with _guard:
        _running[dask_key] = entry
    _watch(worker)
    try:
        try:
            job = _with_code(job, code, version, Path(worker.local_directory), ship)
        except UsageError as exc:
            sink(job.key, "stderr", str(exc))
            return JobResult(job.key, False, error=str(exc), retryable=False)
        try:
            return invoke(job, sink, entry.cancelled)
        finally:
            _leave()
    except AttemptStopped:
        return JobResult(job.key, False, error="stopped on the worker", retryable=True)
    finally:
        with _guard:
            _running.pop(dask_key, None)
            _clear_pending_stop(entry.thread)


def _with_code(job: Job, code: bytes | None, version: str, base: Path, ship: str) -> Job:
    """The job, importing its code at ``version``: from the project's own folder where this
    worker sees it (its modules imported afresh when the version changes), or from the copy
    the engine sent (``ship``: auto, always, never)."""
    global _active
    here = Path(job.project_root).is_dir()
    if ship == "always" or (ship == "auto" and not here):
        if code is None:
            raise UsageError(f"the engine sent no copy of the project's code for {job.key}")
        root = unpack(code, version, base)
    elif here:
        root = Path(job.project_root)
    else:
        raise UsageError(
            f"the project folder {job.project_root} is not on this Dask worker: mount it at"
            " the same path, or set engine: executor: {type: dask, ship: auto} to send the code"
        )
    global _users
    with _code:
        if (str(root), version) != _active:  # forget the last version's modules, once the
            _code.wait_for(lambda: _users == 0, SWITCH_WAIT)  # attempts importing them end
            activate_root(root)
            _active = (str(root), version)
        _users += 1
    if root == Path(job.project_root):
        return job
    if not here:  # another host: the project's files are the copy's
        return replace(job, project_root=str(root), code_root=str(root))
    return replace(job, code_root=str(root))


def _leave() -> None:
    global _users
    with _code:
        _users -= 1
        _code.notify_all()


def _watch(worker: Any) -> None:
    global _watcher
    with _guard:
        if _watcher is not None and _watcher.is_alive():
            return
        _watcher = threading.Thread(
            target=_watch_forever, args=(worker,), name="podium-attempt-watcher", daemon=True
        )
        _watcher.start()


def _watch_forever(worker: Any) -> None:
    while True:
        time.sleep(WATCH_EVERY)
        now = time.monotonic()
        with _guard:
            entries = list(_running.items())
        for dask_key, entry in entries:
            task = worker.state.tasks.get(dask_key)
            if task is not None and task.state not in _UNWANTED:
                continue
            with _guard:
                if _running.get(dask_key) is not entry:
                    continue  # it ended meanwhile
                if entry.stopping_since is None:
                    entry.stopping_since = now
                    entry.cancelled.set()
                    logger.warning("stopping attempt %s: it is no longer wanted", entry.key)
                if now - entry.stopping_since > entry.grace:
                    _kill_worker(entry)
                _raise_in(entry.thread)  # again each round: a bare except may swallow one


def _raise_in(thread: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(AttemptStopped)
    )


def _clear_pending_stop(thread: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), None)


def _kill_worker(entry: _Running) -> None:
    message = (
        f"podium: attempt {entry.key} is still running {entry.grace:g}s after it was stopped"
        " (blocked outside Python?): killing this worker process; its nanny starts another\n"
    )
    with contextlib.suppress(OSError):
        sys.__stderr__.write(message) if sys.__stderr__ else None
    os.kill(os.getpid(), signal.SIGKILL)
