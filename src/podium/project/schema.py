"""The JSON Schemas of ``podium.yaml`` and of a workflow file (``podium schema``).

Nothing here describes a setting: each section's description lives beside the code that
reads it (``project.config``, ``project.workflow_grammar``, each source type's module,
``connectors.warehouse``, ``notify.settings``, ``webhooks``, ``outgoing.hooks_config``,
each task kind's ``options``), and this module only puts them together. A plugin's kind
is in the workflow schema as soon as it is installed.

The schemas describe files as written, before ``${VAR}`` references are replaced: a text
that must match a pattern or a list of choices also accepts a reference. ``podium
validate`` checks more than a schema can say (that a connection exists, that a cron
expression parses, that ``depends_on`` names a task); a file the schema refuses is one
``podium validate`` refuses too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podium.connectors.registry import COMMON, source_type, source_type_names
from podium.connectors.warehouse import SETTINGS as WAREHOUSES
from podium.kinds.registry import written_kinds
from podium.notify.settings import RULE
from podium.outgoing.hooks_config import HOOK
from podium.project.config import ENGINE, LINEAGE, POOLS, RETENTION, SERVER, STORE, TOP_KEYS
from podium.project.workflow_grammar import WORKFLOW, task_schema
from podium.settings.describe import REFERENCE, Option, Settings, with_references
from podium.syncs.config import syncs_schema
from podium.syncs.destination import destination_type, destination_type_names
from podium.version import __version__
from podium.webhooks.settings import WEBHOOK_TYPE, WEBHOOKS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF_REFERENCE = {"$ref": "#/$defs/reference"}
_REF_WEBHOOKS = {"$ref": "#/$defs/webhooks"}
SCHEMAS = ("project", "workflow")


def schema_for(which: str) -> dict[str, Any]:
    """``project`` (podium.yaml) or ``workflow`` (workflows/*.yaml)."""
    return project_schema() if which == "project" else workflow_schema()


def workflow_schema() -> dict[str, Any]:
    body = WORKFLOW.json_schema()
    tasks = body["properties"]["tasks"]
    body["properties"]["tasks"] = {**tasks, "items": task_schema(written_kinds())}
    return _document(
        "workflow",
        "podium workflow file",
        "A workflow (workflows/*.yaml): its tasks, the triggers that start it, its defaults,"
        " deadline and alerts.",
        body,
    )


def project_schema() -> dict[str, Any]:
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "store": STORE.json_schema,
        "pools": POOLS.json_schema,
        "engine": ENGINE.json_schema,
        "connections": _connections,
        "notifications": _notifications,
        "warehouse": _warehouse,
        "server": SERVER.json_schema,
        "outgoing_webhooks": _outgoing_webhooks,
        "syncs": syncs_schema,
        "retention": RETENTION.json_schema,
        "lineage": LINEAGE.json_schema,
    }
    body = {
        "type": "object",
        "properties": {key: sections[key]() for key in TOP_KEYS},
        "additionalProperties": False,
    }
    return _document(
        "podium.yaml",
        "podium.yaml",
        "A podium project's settings: store, pools, engine, connections, warehouse,"
        " notifications, server, outgoing webhooks, syncs, retention and lineage. Every key is"
        " optional.",
        body,
        {"webhooks": WEBHOOKS.json_schema()},
    )


def _document(
    name: str,
    title: str,
    description: str,
    body: dict[str, Any],
    definitions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The schema ``body`` as a document; ``definitions`` are what ``#/$defs/NAME`` names."""
    defs = {**(definitions or {}), "reference": REFERENCE}
    return {
        "$schema": DIALECT,
        "$id": f"urn:podium:{__version__}:{name}",
        "title": title,
        **with_references(body, _REF_REFERENCE),
        "description": description,
        "$defs": with_references(defs, _REF_REFERENCE),
    }


def _connections() -> dict[str, Any]:
    sources = source_type_names()  # podium's own and plugins'
    branches = [_when_type(kind, _source(kind)) for kind in sources]
    branches.append(_when_type(WEBHOOK_TYPE, _webhook_only()))
    written = [k for k in destination_type_names() if k not in sources]
    branches.extend(_when_type(kind, _destination(kind)) for kind in written)
    kinds = [*sources, *written, WEBHOOK_TYPE]
    return {
        "type": "object",
        "description": "Sources and other systems podium talks to, by name; secrets as ${VAR}.",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "type": {
                    "anyOf": [{"type": "string", "enum": kinds}, {"type": "string"}],
                    "description": f"{', '.join(sources)} (sources extract reads), "
                    f"{', '.join(written)} (only syncs write to), "
                    f"{WEBHOOK_TYPE} (only receives webhooks), or another system's type",
                }
            },
            "allOf": branches,
        },
    }


def _when_type(kind: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]}, "then": then}


def _webhooks_option() -> Option:
    return Option("webhooks", _REF_WEBHOOKS, COMMON.by_name["webhooks"].doc)


def _source(kind: str) -> dict[str, Any]:
    """A connection of source type ``kind``: its own settings and the shared ones."""
    found = source_type(kind)
    own = getattr(found, "settings", None)
    if not isinstance(own, Settings):  # a plugin that does not describe its settings
        return {"properties": {"type": {"const": kind}}}
    shared = tuple(o for o in COMMON.options if o.name != "webhooks")
    options = (
        Option("type", {"const": kind}, own.doc, required=True),
        *(o for o in own.options if o.name != "type"),
        *shared,
        _webhooks_option(),
    )
    return Settings(options, own.doc, own.also).json_schema()


def _destination(kind: str) -> dict[str, Any]:
    """A connection only syncs write to: its type's settings, and its pool's size."""
    found = destination_type(kind)
    own = getattr(found, "settings", None)
    if not isinstance(own, Settings):
        return {"properties": {"type": {"const": kind}}}
    options = (
        Option("type", {"const": kind}, own.doc, required=True),
        *(o for o in own.options if o.name != "type"),
        COMMON.by_name["concurrency"],
        _webhooks_option(),
    )
    return Settings(options, own.doc, own.also).json_schema()


def _webhook_only() -> dict[str, Any]:
    webhooks = _webhooks_option()
    return Settings(
        (
            Option("type", {"const": WEBHOOK_TYPE}, "only receives webhooks", required=True),
            Option(webhooks.name, webhooks.schema, webhooks.doc, required=True),
        ),
        "A connection that only receives webhooks (Stripe, an ERP): type and webhooks.",
    ).json_schema()


def _warehouse() -> dict[str, Any]:
    postgres = {"properties": {"type": {"const": "postgres"}}, "required": ["type"]}
    return {
        "type": "object",
        "description": "Where data is loaded and models are built (default: DuckDB in"
        " .podium/warehouse.duckdb).",
        "properties": {"type": {"type": "string", "enum": list(WAREHOUSES)}},
        "if": postgres,
        "then": WAREHOUSES["postgres"].json_schema(),
        "else": WAREHOUSES["duckdb"].json_schema(),
    }


def _notifications() -> dict[str, Any]:
    return {
        "type": "array",
        "items": RULE.json_schema(),
        "description": "Alerts: which states, sent where (apprise URLs), for which workflows.",
    }


def _outgoing_webhooks() -> dict[str, Any]:
    return {
        "type": "array",
        "items": HOOK.json_schema(),
        "description": "Where podium POSTs its events, signed with each hook's secret.",
    }
