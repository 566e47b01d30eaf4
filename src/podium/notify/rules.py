"""Which stored events are alerts, and the key that makes each alert happen once.

Pure: no store, no clock. ``classify`` reads one event:

- ``failed``: a task ended ``failed`` or ``timed_out`` for good (``TaskFinished``; an
  attempt that fails while retries remain is not one). A failed run always has such a task.
- ``late``: ``TaskLate``.
- ``check_failed``: ``CheckEvaluated`` with ``passed: false`` (error or warn severity).
- ``recovered``: a candidate on every succeeded ``RunFinished``; the notifier keeps it
  only when the workflow's previous finished run failed and was alerted.
- ``sla_missed``: ``SlaMissed``.

An alert is keyed by notifier, state, run, task and *round* (how many times the run was
retried before the event): a task that fails again after ``podium retry`` is alerted
again, one that fails three attempts in a row is alerted once. An SLA alert is keyed by
workflow and local date.
"""

from __future__ import annotations

from dataclasses import dataclass

from podium.notify.feed import StoredEvent

KEY_PREFIX = "notify"
_FAILED = ("failed", "timed_out")


@dataclass(frozen=True)
class Candidate:
    """An event that may become an alert."""

    state: str
    seq: int
    run_id: str | None = None
    task_id: str | None = None
    workflow: str | None = None  # when the event names it (RunFinished, SlaMissed)
    date: str | None = None  # sla_missed: the local day


def classify(event: StoredEvent) -> Candidate | None:
    kind, payload = event.type, event.payload
    if kind == "TaskFinished" and payload.get("status") in _FAILED:
        return Candidate("failed", event.seq, event.run_id, event.task_id)
    if kind == "TaskLate":
        return Candidate("late", event.seq, event.run_id, event.task_id)
    if kind == "CheckEvaluated" and payload.get("passed") is False:
        return Candidate("check_failed", event.seq, event.run_id, event.task_id)
    if kind == "RunFinished" and payload.get("status") == "succeeded":
        return Candidate("recovered", event.seq, event.run_id, None, payload.get("workflow"))
    if kind == "SlaMissed":
        workflow, day = payload.get("workflow"), payload.get("date")
        return Candidate("sla_missed", event.seq, workflow=workflow, date=day)
    return None


@dataclass(frozen=True)
class AlertRef:
    """What one alert is about; ``key`` is its row in ``notifications_sent``."""

    notifier: str
    state: str
    run_id: str | None = None
    task_id: str | None = None
    round: int = 0
    workflow: str | None = None
    date: str | None = None

    @property
    def key(self) -> str:
        if self.state == "sla_missed":
            return ":".join(
                (KEY_PREFIX, self.notifier, self.state, str(self.workflow), str(self.date))
            )
        subject = (str(self.run_id), self.task_id or "-", str(self.round))
        return ":".join((KEY_PREFIX, self.notifier, self.state, *subject))


def run_prefix(notifier: str, state: str, run_id: str) -> str:
    """The start of the keys of ``notifier``'s ``state`` alerts about ``run_id``."""
    return ":".join((KEY_PREFIX, notifier, state, run_id)) + ":"


def parse_key(key: str) -> AlertRef:
    """The alert a key names (names, ids and dates hold no ``:``)."""
    parts = key.split(":")
    if len(parts) < 5 or parts[0] != KEY_PREFIX:
        raise ValueError(f"not a notification key: {key!r}")
    notifier, state = parts[1], parts[2]
    if state == "sla_missed":
        return AlertRef(notifier, state, workflow=parts[3], date=":".join(parts[4:]))
    run_id, task_id, round_ = parts[3], parts[4], parts[5]
    return AlertRef(notifier, state, run_id, None if task_id == "-" else task_id, int(round_))
