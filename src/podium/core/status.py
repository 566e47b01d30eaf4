"""Every state a run, a task in a run and an attempt can be in."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self not in (TaskStatus.QUEUED, TaskStatus.RUNNING)

    @property
    def is_failure(self) -> bool:
        return self in (TaskStatus.FAILED, TaskStatus.TIMED_OUT, TaskStatus.UPSTREAM_FAILED)


RETRYABLE = frozenset(
    {TaskStatus.FAILED, TaskStatus.TIMED_OUT, TaskStatus.UPSTREAM_FAILED, TaskStatus.CANCELLED}
)


class AttemptStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LOST = "lost"  # its engine died; the lease expired and a new attempt took over
    CANCELLED = "cancelled"


class TriggerRule(StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"
    ALL_FAILED = "all_failed"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    NONE_FAILED = "none_failed"


class OnLate(StrEnum):
    WAIT = "wait"
    CONTINUE = "continue"
    FAIL = "fail"


class Catchup(StrEnum):
    LATEST = "latest"
    ALL = "all"
    NONE = "none"
