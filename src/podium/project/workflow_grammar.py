"""What a workflow file may say: every key described once.

``workflow_yaml`` reads a file with these descriptions' keys (an unknown key is a problem
at its line, with a did-you-mean), and ``podium schema workflow`` prints them as JSON
Schema, so the two cannot drift apart: a key added here is both read and described. The
readers keep their own messages (``retries must be a whole number 0 or more``); the
descriptions say the shape, for editors and the visual builder.

A task's keys are the shared ones here (``TASK``, ``TASK_OPTIONS``), the key of exactly
one kind (``extract: shopify``) and that kind's own options, from each kind's
``options`` (``podium.kinds``; plugins included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.core.status import Catchup, OnLate, TriggerRule
from podium.kinds.base import Kind
from podium.notify.settings import DEADLINE, WORKFLOW_RULE
from podium.settings.describe import (
    DURATION,
    JSON_OBJECT,
    NAME,
    NAMES,
    POSITIVE_DURATION,
    Option,
    Settings,
)
from podium.webhooks.grammar import TRIGGER as WEBHOOK_TRIGGER

WORKFLOW_STATUSES = ("success", "failed", "any")

TASK_OPTIONS = Settings(
    (
        Option("trigger_rule", {"type": "string", "enum": [r.value for r in TriggerRule]},
               "when the task may start, given its upstreams (default all_success)"),
        Option("retries", {"type": "integer", "minimum": 0}, "tries after a failure (0)"),
        Option("retry_delay", DURATION, "the wait before the first retry (0)"),
        Option("retry_backoff", {"anyOf": [{"type": "number", "minimum": 1},
                                           {"type": "boolean"}]},
               "each retry waits this many times longer (true: 2, false: 1)"),
        Option("retry_max_delay", POSITIVE_DURATION, "the longest wait between retries (1h)"),
        Option("timeout", POSITIVE_DURATION, "an attempt running longer fails"),
        Option("pool", {"type": "string", "minLength": 1}, "the pool whose slot it takes"),
        Option("priority", {"type": "integer"}, "higher starts first when slots are short"),
        Option("late_after", POSITIVE_DURATION, "the task is late when it has not finished this long "
               "after its run started"),
        Option("on_late", {"type": "string", "enum": [o.value for o in OnLate]},
               "wait (the default), or continue: dependants go ahead and are restated later"),
        Option("params", JSON_OBJECT, "params for this task, over the workflow's"),
    ),
    doc="Options any task takes; defaults: gives them to every task.",
)  # fmt: skip
TASK = Settings(
    (
        Option("id", NAME, "the task's name, unique within its workflow", required=True),
        Option("depends_on", NAMES, "the tasks that run before it"),
        Option("produces", NAMES, "the assets it updates (schema.table)"),
    ),
    doc="One task: an id, exactly one kind key (run, shell, extract, …) and options.",
)

SCHEDULE = Settings(
    (
        Option("schedule", {"type": "string", "minLength": 1},
               'a cron expression: "0 5 * * *"', required=True),
        Option("timezone", {"type": "string"}, "an IANA time zone (default UTC)"),
        Option("catchup", {"type": "string", "enum": [c.value for c in Catchup]},
               "after downtime: latest (the default: one run for the newest tick), all or none"),
    ),
    doc="Starts the workflow at each tick of a cron expression.",
)  # fmt: skip
EVENT = Settings(
    (
        Option("event", {"type": "string", "minLength": 1}, "the event's name", required=True),
        Option("filter", JSON_OBJECT, "payload values the event must have"),
    ),
    doc="Starts the workflow when a named event is emitted (podium emit, the API).",
)
AFTER_WORKFLOW = Settings(
    (
        Option("workflow", {"type": "string", "minLength": 1}, "another workflow's name",
               required=True),
        Option("status", {"type": "string", "enum": list(WORKFLOW_STATUSES)},
               "how its run must end (default success)"),
    ),
    doc="Starts the workflow when another workflow's run ends.",
)  # fmt: skip
ASSET_SET = Settings(
    (
        Option("all_of", NAMES, "start when every one of these assets was updated"),
        Option("any_of", NAMES, "start when any of these assets is updated"),
        Option(
            "deadline", POSITIVE_DURATION, "with all_of: start with what is there after this long"
        ),
    ),
    also={"oneOf": [{"required": ["all_of"]}, {"required": ["any_of"]}]},
)
ASSET = Settings(
    (
        Option("asset", {"anyOf": [NAMES, ASSET_SET.json_schema()]},
               "an asset, a list (any of them), or {all_of: [...], deadline: 2h}", required=True),
    ),
    doc="Starts the workflow when assets are updated.",
)  # fmt: skip
TRIGGERS: Mapping[str, Settings] = {
    "schedule": SCHEDULE,
    "event": EVENT,
    "workflow": AFTER_WORKFLOW,
    "asset": ASSET,
    "webhook": WEBHOOK_TRIGGER,
}

WORKFLOW = Settings(
    (
        Option("name", NAME, "the workflow's name (default: the file's)"),
        Option("description", {"type": "string"}, "what it does, for people"),
        Option("params", JSON_OBJECT, "params and their defaults; a run may override them"),
        Option("max_active_runs", {"type": "integer", "minimum": 1}, "runs at once"),
        Option("triggers", {"type": "array", "items": {"oneOf": [
            t.json_schema() for t in TRIGGERS.values()]}}, "when it runs"),
        Option("defaults", TASK_OPTIONS.json_schema(), "options every task takes unless it "
               "sets its own"),
        Option("tasks", {"type": "array", "minItems": 1}, "the tasks, a graph by depends_on",
               required=True),
        Option("deadline", DEADLINE, "a run must have succeeded by this time each day"),
        Option("notify", {"type": "array", "items": WORKFLOW_RULE.json_schema()},
               "alerts about this workflow"),
    ),
    doc="A workflow: a graph of tasks and the triggers that start it.",
)  # fmt: skip


def task_schema(kinds: list[Kind]) -> dict[str, Any]:
    """A task of one of ``kinds``: its shared keys, one kind key, that kind's options.

    Every key is listed under ``properties`` (for completion); ``oneOf`` has one branch
    per kind that names the keys it allows, so two kind keys, or another kind's option,
    match no branch.
    """
    shared = {**TASK.properties(), **TASK_OPTIONS.properties()}
    own: dict[str, list[dict[str, Any]]] = {}
    branches = []
    for kind in kinds:
        key = _kind_key(kind)
        options = kind.options.properties()
        for name, schema in {kind.name: key, **options}.items():
            own.setdefault(name, []).append(schema)
        branches.append(
            {
                "title": kind.name,
                "required": [kind.name],
                "properties": {kind.name: key, **options},
                "propertyNames": {"enum": [*shared, kind.name, *options]},
            }
        )
    union = {name: s[0] if len(s) == 1 else {"anyOf": s} for name, s in own.items()}
    return {
        "type": "object",
        "description": TASK.doc,
        "properties": {**shared, **union},
        "required": list(TASK.names[:1]),
        "oneOf": branches,
    }


def _kind_key(kind: Kind) -> dict[str, Any]:
    doc = kind.options.doc or f"a {kind.name} task"
    return {"type": "string", "minLength": 1, "description": f"{doc} Its value: {kind.target}."}
