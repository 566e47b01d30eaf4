"""Attempts run each in its own local process, started from a fork server.

A task that segfaults, calls ``os._exit`` or leaks memory cannot take the engine down: the
attempt fails with the exit status. A timed-out or cancelled attempt is killed. Children
die with the engine (a lifeline pipe only the engine holds), so a killed engine leaves no
attempt running behind the lease that the next engine will hand out again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from podium.execution.base import Done, Job, JobResult, Key, LogSink
from podium.execution.invoke import invoke
from podium.kinds.shell import die_with_parent


class ProcessExecutor:
    def __init__(self, workers: int, log_sink: LogSink) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        self._sink = log_sink
        self._procs: dict[Key, Any] = {}
        self._guard = threading.Lock()
        self._slots = threading.Semaphore(workers)

    def submit(self, job: Job, done: Done) -> None:
        threading.Thread(target=self._supervise, args=(job, done), daemon=True).start()

    def _supervise(self, job: Job, done: Done) -> None:
        with self._slots:
            receive, send = self._ctx.Pipe(duplex=False)
            lifeline, alive = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(target=_child_main, args=(job, send, lifeline), daemon=True)
            with self._guard:
                self._procs[job.key] = proc
            proc.start()
            send.close()
            lifeline.close()
            result = self._follow(job, receive)
            proc.join()
            alive.close()
            with self._guard:
                self._procs.pop(job.key, None)
        done(result or _crashed(job.key, proc.exitcode))

    def _follow(self, job: Job, receive: Connection) -> JobResult | None:
        while True:
            try:
                message = receive.recv()
            except (EOFError, OSError):
                return None
            if message[0] == "log":
                self._sink(job.key, message[1], message[2])
            else:
                result: JobResult = message[1]
                return result

    def cancel(self, key: Key) -> None:
        with self._guard:
            proc = self._procs.get(key)
        if proc is not None and proc.is_alive():
            proc.kill()

    def slots(self) -> int | None:
        return None

    def shutdown(self, wait: bool) -> None:
        if not wait:
            with self._guard:
                procs = list(self._procs.values())
            for proc in procs:
                if proc.is_alive():
                    proc.kill()


def _exit_when_orphaned(lifeline: Connection) -> None:
    """Only the engine holds the other end of ``lifeline``: when the engine dies, even by
    SIGKILL, the read ends and the attempt stops with it (its own children, started with
    ``PR_SET_PDEATHSIG``, follow)."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(137)


def _crashed(key: Key, code: int | None) -> JobResult:
    if code is not None and code < 0:
        name = (
            signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        )
        reason = f"the task's process was killed by signal {name}"
    else:
        reason = f"the task's process exited with status {code} before reporting a result"
    return JobResult(key, False, error=reason, retryable=True)


def _child_main(job: Job, send: Connection, lifeline: Connection) -> None:
    die_with_parent()
    threading.Thread(target=_exit_when_orphaned, args=(lifeline,), daemon=True).start()
    lock = threading.Lock()

    def sink(key: Key, stream: str, line: str) -> None:
        with lock:
            send.send(("log", stream, line))

    from podium.execution.invoke import capture_prints

    capture_prints()
    result = invoke(job, sink, threading.Event())
    send.send(("result", result))
    send.close()
