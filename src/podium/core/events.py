"""Events: immutable, typed facts. Everything the UI, notifications and triggers know comes
from these. Each has a past-tense name; ``to_record`` gives the stored form.

The *system* events (every class below but ``CustomEvent``) are podium's alone:
``SYSTEM_EVENT_TYPES`` lists their names, and ``custom_name_problem`` refuses a custom
event (``podium emit``, ``POST /api/events``) that would pass for one, whatever its case.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "Event"
    #: events of these types wake triggers (workflow, event and asset triggers)
    dispatch: ClassVar[bool] = False

    def to_record(self) -> tuple[str, str | None, str | None, dict[str, Any]]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        run_id = data.pop("run_id", None)
        task_id = data.pop("task_id", None)
        return self.type, run_id, task_id, data


@dataclass(frozen=True)
class CustomEvent(Event):
    """A named event from ``podium emit`` or ``POST /api/events``."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    dispatch: ClassVar[bool] = True

    def to_record(self) -> tuple[str, str | None, str | None, dict[str, Any]]:
        return self.name, None, None, dict(self.payload)


@dataclass(frozen=True)
class RunRequested(Event):
    type: ClassVar[str] = "RunRequested"
    run_id: str
    workflow: str
    trigger: str
    params: dict[str, Any]
    logical_time: str


@dataclass(frozen=True)
class RunFinished(Event):
    type: ClassVar[str] = "RunFinished"
    dispatch: ClassVar[bool] = True
    run_id: str
    workflow: str
    status: str


@dataclass(frozen=True)
class RunRetried(Event):
    type: ClassVar[str] = "RunRetried"
    run_id: str
    tasks: list[str]


@dataclass(frozen=True)
class RunCancelled(Event):
    type: ClassVar[str] = "RunCancelled"
    run_id: str


@dataclass(frozen=True)
class AttemptStarted(Event):
    type: ClassVar[str] = "AttemptStarted"
    run_id: str
    task_id: str
    attempt: int
    owner: str
    ready_at: float | None = None  # when the task became ready: claim lag is start − this


@dataclass(frozen=True)
class AttemptFinished(Event):
    """An attempt ended: succeeded, failed, timed_out, lost or cancelled."""

    type: ClassVar[str] = "AttemptFinished"
    run_id: str
    task_id: str
    attempt: int
    status: str
    error: str | None = None


@dataclass(frozen=True)
class TaskFinished(Event):
    type: ClassVar[str] = "TaskFinished"
    run_id: str
    task_id: str
    status: str


@dataclass(frozen=True)
class TaskLate(Event):
    type: ClassVar[str] = "TaskLate"
    run_id: str
    task_id: str
    attempt: int
    late_after: float
    on_late: str


@dataclass(frozen=True)
class AssetUpdated(Event):
    type: ClassVar[str] = "AssetUpdated"
    dispatch: ClassVar[bool] = True
    asset: str
    run_id: str
    task_id: str
    incomplete: bool = False
    stats: dict[str, Any] = field(default_factory=dict)  # rows inserted/updated/…, schema changes


@dataclass(frozen=True)
class CheckEvaluated(Event):
    """A data check ran after its model (or in a ``check`` task): its result, in the words
    of the data. Failed error-severity checks also fail their task."""

    type: ClassVar[str] = "CheckEvaluated"
    dispatch: ClassVar[bool] = True
    check: str
    run_id: str
    task_id: str
    passed: bool
    severity: str = "error"
    failing: int = 0
    message: str = ""
    sample: tuple[dict[str, Any], ...] = ()  # a few failing rows (masked when stored)


@dataclass(frozen=True)
class CatchupStarted(Event):
    """A late task landed: its downstream tasks are re-run and the earlier outputs were
    incomplete."""

    type: ClassVar[str] = "CatchupStarted"
    run_id: str
    source_run_id: str
    late_task: str
    tasks: list[str]


@dataclass(frozen=True)
class SlaMissed(Event):
    """A workflow's ``deadline`` passed and no run of it had succeeded that local ``date``
    (ISO, in the deadline's time zone) since midnight; ``deadline_at`` is the UTC instant.
    Recorded once per workflow and day."""

    type: ClassVar[str] = "SlaMissed"
    dispatch: ClassVar[bool] = True
    workflow: str
    deadline_at: str
    date: str


@dataclass(frozen=True)
class WebhookReceived(Event):
    """A verified delivery in the webhook inbox was processed: it started ``runs`` (the
    run ids, maybe none). A replayed delivery is processed, and recorded, again."""

    type: ClassVar[str] = "WebhookReceived"
    connection: str
    delivery_id: str
    inbox_id: int
    topic: str | None
    runs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WebhookFailed(Event):
    """Processing an inbox entry failed; it is tried again after a backoff, or, with
    ``dead``, no more (``podium webhooks replay ID`` tries it again)."""

    type: ClassVar[str] = "WebhookFailed"
    connection: str
    delivery_id: str
    inbox_id: int
    attempts: int
    error: str
    dead: bool = False


def _system_classes() -> list[type[Event]]:
    found: list[type[Event]] = []
    pending: list[type[Event]] = list(Event.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if cls is not CustomEvent:
            found.append(cls)
    return found


#: the type of every event podium itself records; a custom event may not take one
SYSTEM_EVENT_TYPES: frozenset[str] = frozenset(cls.type for cls in _system_classes())
#: the system events stored pending, so that triggers see them (``dispatch``)
DISPATCHED_EVENT_TYPES: frozenset[str] = frozenset(
    cls.type for cls in _system_classes() if cls.dispatch
)
_BY_FOLDED = {name.casefold(): name for name in SYSTEM_EVENT_TYPES}


def is_system_event(name: str) -> bool:
    """Whether ``name`` is exactly the type of one of podium's own events."""
    return name in SYSTEM_EVENT_TYPES


def system_event_like(name: str) -> str | None:
    """The system event type ``name`` passes for when case and outer blanks are ignored
    (``"runfinished"`` → ``"RunFinished"``), or None."""
    return _BY_FOLDED.get(name.strip().casefold())


def custom_name_problem(name: str) -> str | None:
    """Why a custom event may not be called ``name`` (None: it may)."""
    taken = system_event_like(name)
    if taken is None:
        return None
    how = "is" if name == taken else "differs only in case or spacing from"
    return (
        f"{name!r} {how} podium's system event {taken!r}, which only podium records;"
        " choose another name for your event, e.g. orders_dropped"
    )
