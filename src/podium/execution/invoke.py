"""Running one attempt in the current process: its kind's ``run``, the one error rule, logs.

Shared by every executor: the threads executor calls ``invoke`` in a worker thread, the
processes executor in a child process.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from datetime import datetime
from typing import Any

from podium.errors import TerminalTaskError, is_retryable
from podium.kinds.base import (
    ChecksFailed,
    Job,
    JobResult,
    Key,
    LogSink,
    TaskContext,
    Unprepared,
)
from podium.kinds.registry import kind_of

_current = threading.local()


def invoke(job: Job, sink: LogSink, cancelled: threading.Event) -> JobResult:
    """Runs the job's code and turns whatever happens into a JobResult."""
    _current.sink, _current.key = sink, job.key
    if isinstance(job.prepared, Unprepared):
        sink(job.key, "stderr", job.prepared.error)
        return JobResult(job.key, False, error=job.prepared.error, retryable=job.prepared.retryable)
    try:
        result = kind_of(job.kind).run(job, TaskContext(job, sink, cancelled))
        output = _to_json(result.output)
    except ChecksFailed as exc:  # the outcomes go with the failure: CheckEvaluated events
        # the data broke a rule, podium did not break: the message (the checks already
        # logged their results), never podium's own traceback
        sink(job.key, "stderr", str(exc))
        done = exc.result
        return JobResult(
            job.key,
            False,
            output=_to_json(done.output),
            error=f"ChecksFailed: {exc}",
            retryable=False,
            checks=done.checks,
        )
    except BaseException as exc:  # noqa: BLE001 - user code: any failure is the task's
        if (
            isinstance(exc, KeyboardInterrupt | SystemExit)
            and threading.current_thread() is threading.main_thread()
        ):
            raise
        return _failure(job.key, exc, sink, retryable=is_retryable(exc))
    finally:
        _current.sink = None
    return JobResult(
        job.key, True, output, assets=result.assets, checks=result.checks, produced=result.produced
    )


_PODIUM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _failure(key: Key, exc: BaseException, sink: LogSink, *, retryable: bool) -> JobResult:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PODIUM_DIR):
        tb = tb.tb_next  # the user's frames are what matter; podium's own come first
    for line in traceback.format_exception(type(exc), exc, tb or exc.__traceback__):
        for part in line.rstrip("\n").splitlines():
            sink(key, "stderr", part)
    message = f"{type(exc).__name__}: {exc}".strip().removesuffix(":")
    return JobResult(key, False, error=message, retryable=retryable)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TerminalTaskError(
            f"the task returned a {type(value).__name__}, which is not JSON-serialisable "
            f"({exc}); return dicts, lists, strings, numbers or None"
        ) from None


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class _StreamRouter:
    """Stands in for sys.stdout/stderr: text written by a task's thread goes to its log."""

    def __init__(self, real: Any, stream: str) -> None:
        self._real, self._stream = real, stream
        self._buffers: dict[int, str] = {}

    def write(self, text: str) -> int:
        sink = getattr(_current, "sink", None)
        if sink is None:
            return int(self._real.write(text))
        ident = threading.get_ident()
        buffered = self._buffers.get(ident, "") + text
        *lines, rest = buffered.split("\n")
        for line in lines:
            sink(_current.key, self._stream, line)
        self._buffers[ident] = rest
        return len(text)

    def flush(self) -> None:
        if getattr(_current, "sink", None) is None:
            self._real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_installed = False


def capture_prints() -> None:
    """Routes ``print`` from task threads into their logs (idempotent)."""
    global _installed
    if not _installed:
        sys.stdout = _StreamRouter(sys.stdout, "stdout")  # type: ignore[assignment]
        sys.stderr = _StreamRouter(sys.stderr, "stderr")  # type: ignore[assignment]
        _installed = True
