"""Triggers in words, and when a workflow's schedules fire next (in their own time zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from podium.core.cron import Cron, CronError
from podium.core.durations import format_duration
from podium.core.workflow import (
    AssetTrigger,
    EventTrigger,
    ScheduleTrigger,
    WebhookTrigger,
    Workflow,
    WorkflowTrigger,
)


@dataclass(frozen=True)
class NextTick:
    at: datetime  # aware, UTC
    local: str  # "2026-03-02 05:00 America/New_York"
    cron: str


def describe_trigger(trigger: object) -> str:
    """One line a person reads: what starts the workflow."""
    if isinstance(trigger, ScheduleTrigger):
        return f"schedule {trigger.cron} ({trigger.timezone}; catch-up {trigger.catchup})"
    if isinstance(trigger, EventTrigger):
        where = ", ".join(f"{k} = {v}" for k, v in trigger.filters.items())
        return f"event {trigger.event}" + (f" where {where}" if where else "")
    if isinstance(trigger, WorkflowTrigger):
        return f"after workflow {trigger.workflow} ({trigger.status})"
    if isinstance(trigger, AssetTrigger):
        joined = ", ".join(trigger.assets)
        if not trigger.all_of:
            return f"asset updated: {joined}"
        deadline = (
            f", or {format_duration(trigger.deadline)} after the first" if trigger.deadline else ""
        )
        return f"assets all updated: {joined}{deadline}"
    if isinstance(trigger, WebhookTrigger):
        return _webhook(trigger)
    return _generic(trigger)


def _webhook(trigger: WebhookTrigger) -> str:
    topics = f" on {', '.join(trigger.topics)}" if trigger.topics else ""
    where = ", ".join(f"{k} = {v}" for k, v in trigger.filters.items())
    return f"webhook from {trigger.connection}{topics}" + (f" where {where}" if where else "")


def _generic(trigger: object) -> str:
    """A trigger kind this page does not know by name (e.g. ``webhook``): its fields."""
    kind = type(trigger).__name__.removesuffix("Trigger").lower()
    fields = {k: v for k, v in getattr(trigger, "__dict__", {}).items() if k != "location" and v}
    details = ", ".join(f"{k} {v}" for k, v in fields.items())
    return f"{kind} {details}".strip()


def next_ticks(wf: Workflow, now: datetime) -> list[NextTick]:
    """The next tick of each schedule trigger, soonest first (a bad cron is left out)."""
    found = []
    for trigger in wf.triggers:
        if not isinstance(trigger, ScheduleTrigger):
            continue
        try:
            at = _cron(trigger.cron, trigger.timezone).next_after(now)
        except CronError:
            continue
        local = at.astimezone(ZoneInfo(trigger.timezone))
        found.append(NextTick(at, f"{local:%Y-%m-%d %H:%M} {trigger.timezone}", trigger.cron))
    return sorted(found, key=lambda t: t.at)


@lru_cache(maxsize=1024)
def _cron(expression: str, timezone: str) -> Cron:
    return Cron.parse(expression, timezone)
