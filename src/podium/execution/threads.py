"""The default executor: attempts run in threads of the engine's process.

Good for I/O-bound extract and load work. A timed-out or cancelled attempt cannot be
killed: it is abandoned (a fresh worker takes its place, and whatever it reports later is
refused by the store's lease check). Workers are daemon threads, so an abandoned attempt
never keeps podium from exiting.
"""

from __future__ import annotations

import queue
import threading

from podium.execution.base import Done, Job, JobResult, Key, LogSink
from podium.execution.invoke import capture_prints, invoke

_STOP = None


class ThreadExecutor:
    def __init__(self, workers: int, log_sink: LogSink) -> None:
        self._jobs: queue.SimpleQueue[tuple[Job, Done, threading.Event] | None] = (
            queue.SimpleQueue()
        )
        self._sink = log_sink
        self._cancel: dict[Key, threading.Event] = {}
        self._guard = threading.Lock()
        self._size = workers
        self._started = 0
        self._idle = 0  # workers waiting for a job, or just handed one
        self._waiting = 0  # jobs submitted that no worker has taken yet
        capture_prints()

    def submit(self, job: Job, done: Done) -> None:
        cancelled = threading.Event()
        with self._guard:
            self._cancel[job.key] = cancelled
            self._waiting += 1
            # A worker counts as idle from before it waits until after it has taken a job
            # (it takes the guard to say so): one idle worker about to take the previous
            # job must not count as a worker for this one too, or this job waits for the
            # previous one to end (a late task then held back a task beside it).
            if self._waiting > self._idle and self._started < self._size:
                self._spawn()
            self._jobs.put((job, done, cancelled))

    def _spawn(self) -> None:
        self._started += 1
        threading.Thread(
            target=self._work, name=f"podium-task-{self._started}", daemon=True
        ).start()

    def _work(self) -> None:
        while True:
            with self._guard:
                self._idle += 1
            item = self._jobs.get()
            with self._guard:
                self._idle -= 1
                if item is not _STOP:
                    self._waiting -= 1
            if item is _STOP:
                return
            job, done, cancelled = item
            if cancelled.is_set():  # given up on before it started: do not run it at all
                result = JobResult(job.key, False, error="cancelled before it started")
            else:
                try:
                    result = invoke(job, self._sink, cancelled)
                except BaseException as exc:  # noqa: BLE001 - never lose an attempt's end
                    result = JobResult(job.key, False, error=f"{type(exc).__name__}: {exc}")
            with self._guard:
                self._cancel.pop(job.key, None)
                abandoned = cancelled.is_set()
                if abandoned:  # a replacement took this worker's place: leave
                    self._started -= 1
                    self._size -= 1
            done(result)
            if abandoned:
                return

    def cancel(self, key: Key) -> None:
        with self._guard:
            event = self._cancel.pop(key, None)
            if event is None:
                return
            event.set()
            self._size += 1  # the abandoned worker's replacement
            self._spawn()

    def slots(self) -> int | None:
        return None

    def shutdown(self, wait: bool) -> None:
        with self._guard:
            count = self._started
        for _ in range(count):
            self._jobs.put(_STOP)
