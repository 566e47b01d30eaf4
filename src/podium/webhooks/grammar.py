"""The ``webhook`` trigger as a workflow YAML writes it, and its project-wide checks.

.. code-block:: yaml

    triggers:
      - webhook: shopify                  # a connection with webhooks: in podium.yaml
        topic: [orders/create, refunds/*] # optional: one topic or a list; globs allowed
        filters: {financial_status: paid, "customer.tags": vip}   # optional, dotted paths
        params: {order_id: id}            # optional: workflow param -> payload path
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.core.workflow import Location, WebhookTrigger, Workflow
from podium.settings.describe import JSON_OBJECT, NAMES, Option, Settings
from podium.settings.yaml_lines import Fields, did_you_mean
from podium.webhooks.settings import has_webhooks

TRIGGER = Settings(
    (
        Option("webhook", {"type": "string", "minLength": 1},
               "a connection with webhooks: in podium.yaml", required=True),
        Option("topic", NAMES, "one topic or a list; globs allowed (orders/*)"),
        Option("filters", JSON_OBJECT, "payload values to match, by dotted path"),
        Option("filter", JSON_OBJECT, "the same as filters:"),
        Option("params", {"type": "object", "additionalProperties": {"type": "string"}},
               "workflow param: the dotted path in the payload it comes from"),
    ),
    doc="Starts the workflow on each verified delivery to a connection.",
    also={"not": {"required": ["filters", "filter"]}},
)  # fmt: skip
KEYS = TRIGGER.names


def read_webhook_trigger(read: Fields, location: Location) -> WebhookTrigger:
    """The trigger in one ``- webhook: …`` item; problems are reported through ``read``."""
    read.unknown_keys(KEYS)
    connection = read.text("webhook", "") or ""
    topics = read.names("topic") if read.has("topic") else ()
    if read.has("filters") and read.has("filter"):
        read.problem("filter", "write filters: once (filter: is the same thing)")
    filters = read.json_mapping("filters" if read.has("filters") else "filter")
    return WebhookTrigger(connection, topics, filters, _params(read), location)


def _params(read: Fields) -> dict[str, str]:
    params = read.json_mapping("params")
    bad = [name for name, path in params.items() if not (isinstance(path, str) and path)]
    if bad:
        read.problem(
            "params",
            f"params maps each workflow param to a dotted path in the payload "
            f"(e.g. order_id: id); {bad[0]!r} is not a path",
        )
    return {name: path for name, path in params.items() if name not in bad}


def webhook_trigger_problem(
    trigger: WebhookTrigger, workflow: Workflow, connections: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """What is wrong with ``trigger`` given the project's connections, or None."""
    if not trigger.connection:
        return None  # reported while reading the file
    settings = connections.get(trigger.connection)
    if settings is None:
        hint = did_you_mean(trigger.connection, connections) or (
            "; declare it under connections: in podium.yaml with webhooks: {secret: …}"
        )
        return f"webhook trigger: unknown connection {trigger.connection!r}{hint}"
    if not has_webhooks(settings):
        return (
            f"webhook trigger: connection {trigger.connection!r} receives no webhooks; "
            "add webhooks: {secret: ${WEBHOOK_SECRET}} to it in podium.yaml"
        )
    undeclared = [name for name in trigger.params if name not in workflow.params]
    if undeclared:
        return (
            f"webhook trigger: param {undeclared[0]!r} is not declared by workflow "
            f"{workflow.name!r}; declare it under params:"
        )
    return None
