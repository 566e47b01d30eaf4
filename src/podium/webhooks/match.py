"""Which ``webhook`` triggers a delivery fires, and the params of the runs it starts.

Pure: no I/O. A filter or param path is dotted (``customer.tags``, ``line_items.0.sku``);
a filter holds when the value there equals the filter's value (compared as JSON values:
``"59.00"`` is not ``59``), when the value is a list containing it, or, for a list of
filter values, when any of them holds. A path that is not in the payload does not match.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from podium.core.workflow import WebhookTrigger, Workflow
from podium.errors import PodiumError


class PayloadError(PodiumError):
    """A delivery's payload cannot be evaluated by a trigger (a processing failure)."""


def lookup(payload: Any, path: str) -> tuple[bool, Any]:
    """``(True, value)`` at the dotted ``path`` of ``payload``, or ``(False, None)``."""
    node = payload
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def topics_of(topic: str | None) -> list[str]:
    """The topics an inbox entry carries (a Klaviyo batch may carry several)."""
    return [t for t in (topic or "").split(",") if t]


def matches(trigger: WebhookTrigger, connection: str, topic: str | None, payload: Any) -> bool:
    """Whether a delivery to ``connection`` fires ``trigger``.

    Raises PayloadError when the trigger has filters and the payload is not a JSON object.
    """
    if trigger.connection != connection:
        return False
    if trigger.topics and not any(
        fnmatchcase(t, pattern) for t in topics_of(topic) for pattern in trigger.topics
    ):
        return False
    if not trigger.filters:
        return True
    if not isinstance(payload, Mapping):
        raise PayloadError(
            f"the payload is a JSON {_kind(payload)}, not an object; the trigger's filters "
            f"({', '.join(trigger.filters)}) need an object"
        )
    for path, wanted in trigger.filters.items():
        found, value = lookup(payload, path)
        if not found or not _holds(value, wanted):
            return False
    return True


def run_params(trigger: WebhookTrigger, workflow: Workflow, payload: Any) -> dict[str, Any]:
    """The run's params: the workflow's defaults, replaced by declared params found at
    the top of the payload (as event triggers do), then by the trigger's ``params``.

    Raises PayloadError when a ``params`` path is not in the payload.
    """
    params = dict(workflow.params)
    if isinstance(payload, Mapping):
        params.update({k: v for k, v in payload.items() if k in workflow.params})
    for name, path in trigger.params.items():
        found, value = lookup(payload, path)
        if not found:
            raise PayloadError(
                f"the payload has no {path!r} for param {name!r} of workflow {workflow.name!r}"
            )
        params[name] = value
    return params


def _holds(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return any(_holds(value, w) for w in wanted)
    if isinstance(value, list):
        return any(_equal(v, wanted) for v in value)
    return _equal(value, wanted)


def _equal(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted
    return bool(type(value) is type(wanted) and value == wanted) or (
        isinstance(value, int | float) and isinstance(wanted, int | float) and value == wanted
    )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__
