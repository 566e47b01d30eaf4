"""The Executor protocol. What flows through it (``Job``, ``JobResult``) is defined with
the task kinds (``podium.kinds.base``): an executor only decides *where* an attempt runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from podium.core.workflow import DaskSettings, EngineSettings
from podium.kinds.base import Job, JobResult, Key, LogSink

__all__ = ["Done", "Executor", "Job", "JobResult", "Key", "LogSink", "make_executor"]

Done = Callable[[JobResult], None]


class Executor(Protocol):
    """Runs attempts somewhere and reports each one's end exactly once through ``done``."""

    def submit(self, job: Job, done: Done) -> None: ...

    def cancel(self, key: Key) -> None:
        """Stops the attempt if it can (a process is killed); otherwise abandons it."""

    def shutdown(self, wait: bool) -> None: ...

    def slots(self) -> int | None:
        """How many attempts it wants at once (a Dask cluster: twice its threads; none while
        its scheduler is away), which the engine's ``workers`` setting caps; None:
        ``workers``."""


def make_executor(settings: EngineSettings, root: str, log_sink: LogSink) -> Executor:
    if settings.executor == "dask":
        from podium.execution.cluster import DaskExecutor

        return DaskExecutor(settings.dask or DaskSettings(), root, log_sink)
    if settings.executor == "processes":
        from podium.execution.processes import ProcessExecutor

        return ProcessExecutor(settings.workers, log_sink)
    from podium.execution.threads import ThreadExecutor

    return ThreadExecutor(settings.workers, log_sink)
