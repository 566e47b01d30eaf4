"""The Executor protocol and what flows through it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Key = tuple[str, str, int]  # run id, task id, attempt number


@dataclass(frozen=True)
class Job:
    """Everything needed to run one attempt, picklable for another process."""

    key: Key
    workflow: str
    kind: str
    target: str
    project_root: str
    params: Mapping[str, Any]
    logical_time: str
    upstream: Mapping[str, Any]
    late_upstreams: tuple[str, ...] = ()
    trigger: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this task in this run."""
        return f"{self.key[0]}:{self.key[1]}"


@dataclass(frozen=True)
class JobResult:
    key: Key
    ok: bool
    output: str | None = None  # JSON text of the return value
    error: str | None = None
    retryable: bool = True


LogSink = Callable[[Key, str, str], None]  # key, stream (log|stdout|stderr), line
Done = Callable[[JobResult], None]


class Executor(Protocol):
    """Runs attempts somewhere and reports each one's end exactly once through ``done``."""

    def submit(self, job: Job, done: Done) -> None: ...

    def cancel(self, key: Key) -> None:
        """Stops the attempt if it can (a process is killed); otherwise abandons it."""

    def shutdown(self, wait: bool) -> None: ...


def make_executor(name: str, workers: int, log_sink: LogSink) -> Executor:
    if name == "processes":
        from podium.execution.processes import ProcessExecutor

        return ProcessExecutor(workers, log_sink)
    from podium.execution.threads import ThreadExecutor

    return ThreadExecutor(workers, log_sink)
