"""The default executor: attempts run in a pool of threads of the engine's process.

Good for I/O-bound extract and load work. A timed-out attempt cannot be killed: it is
abandoned, and whatever it reports later is refused by the store's lease check.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from podium.execution.base import Done, Job, JobResult, Key, LogSink
from podium.execution.invoke import capture_prints, invoke


class ThreadExecutor:
    def __init__(self, workers: int, log_sink: LogSink) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="podium-task")
        self._sink = log_sink
        self._cancel: dict[Key, threading.Event] = {}
        self._guard = threading.Lock()
        capture_prints()

    def submit(self, job: Job, done: Done) -> None:
        cancelled = threading.Event()
        with self._guard:
            self._cancel[job.key] = cancelled
        self._pool.submit(self._run, job, done, cancelled)

    def _run(self, job: Job, done: Done, cancelled: threading.Event) -> None:
        try:
            result = invoke(job, self._sink, cancelled)
        except BaseException as exc:  # noqa: BLE001 - never lose an attempt's end
            result = JobResult(job.key, False, error=f"{type(exc).__name__}: {exc}")
        with self._guard:
            self._cancel.pop(job.key, None)
        done(result)

    def cancel(self, key: Key) -> None:
        with self._guard:
            event = self._cancel.pop(key, None)
        if event is not None:
            event.set()

    def shutdown(self, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
