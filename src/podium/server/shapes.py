"""What the API's routes answer, as ``/openapi.json`` shows it.

These models document the bodies the read models (``podium.engine.queries``,
``podium.webhooks.inbox``) build; routes name them in ``responses=`` with
``response_model=None``, so nothing is filtered or re-validated on the way out. The fuzz
test (``tests/e2e/test_api_fuzz.py``) checks every answer against them, which keeps the
two in step. Extra fields are allowed: a field added to an answer is not a break.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from podium.core.status import RunStatus


class RunOut(BaseModel):
    run_id: str
    workflow: str
    status: RunStatus
    kind: str
    trigger: dict[str, Any]
    params: dict[str, Any]
    logical_time: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    parent_run_id: str | None
    #: when its first attempt began, and the seconds from then to its end (time queued,
    #: waiting for an engine or a free slot, does not count)
    first_attempt_at: str | None = None
    took_seconds: float | None = None


class TaskRunOut(BaseModel):
    id: str
    status: str
    attempts: int
    started_at: str | None
    finished_at: str | None
    late: bool
    error: str | None
    incomplete: bool
    late_upstreams: list[str]
    output: Any


class RunDetailOut(RunOut):
    tasks: list[TaskRunOut]
    catchup_runs: list[str]


class AttemptOut(BaseModel):
    task_id: str
    attempt: int
    status: str
    owner: str
    started_at: str | None
    finished_at: str | None
    error: str | None


class EventOut(BaseModel):
    seq: int
    type: str
    at: str
    run_id: str | None
    task_id: str | None
    payload: Any


class WorkflowOut(BaseModel):
    name: str
    tasks: int
    params: dict[str, Any]
    triggers: list[dict[str, Any]]
    last_run: RunOut | None


class RetriedOut(BaseModel):
    run_id: str
    tasks: list[str]


class CancelledOut(BaseModel):
    run_id: str
    cancelling: bool


class PausedOut(BaseModel):
    workflow: str
    paused: bool  # the workflow's schedules are paused now
    changed: bool  # False when it already was (pause) or was not (resume)


class EventPostedOut(BaseModel):
    seq: int
    name: str


class DeliveryOut(BaseModel):
    id: int
    connection: str
    delivery_id: str
    topic: str | None
    received_at: str
    status: str
    attempts: int
    last_error: str | None
    processed_at: str | None
    next_attempt_at: str | None
    replays: int


class DeliveryDetailOut(DeliveryOut):
    headers: dict[str, str]
    body: str
    payload: Any


class ReplayedOut(DeliveryOut):
    replayed_at: str


def answers(model: type[BaseModel] | Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A route's success answer for ``responses=``, beside its errors."""
    return {status: {"model": model, "description": "Successful Response"}}
