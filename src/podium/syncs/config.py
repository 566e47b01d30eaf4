"""``syncs:`` in podium.yaml: what each sync reads, where it writes, and how.

.. code-block:: yaml

    syncs:
      vip_to_klaviyo:
        from: marts.vip_customers      # a model (schema.table), a SELECT, or trigger[.path]
        to: klaviyo                    # a connection whose type can be written to
        object: list_members           # what the destination writes (its type lists them)
        list: VIP                      # the object's own settings
        key: email_hash                # the record's identity in the source
        mode: mirror                   # upsert | mirror (adds, updates, removes) | insert
        fields: {email: email, properties.lifetime_value: ltv}
        guard: {max_changes: 10%}      # refuse a run that would change more than this
        dry_run: false                 # plan and report, send nothing
        on_incomplete: wait            # a late source: wait for its catch-up, or push

``from: trigger`` syncs the run's trigger payload (a webhook delivery, an event): one
record, or one per item of the list at ``trigger.PATH``; ``key`` and ``fields`` are then
dotted paths into it (``shipping_address.name``). Such a sync upserts or inserts only:
one delivery is not the whole set, so nothing may be removed for being absent from it.

Every problem is reported at its line, naming the sync and the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.errors import UsageError
from podium.settings.describe import Option, Settings
from podium.settings.yaml_lines import Fields, LineDict, to_plain
from podium.syncs.destination import destination_type, destination_type_names
from podium.syncs.diff import Mode, SyncSpec
from podium.syncs.guard import Guard
from podium.syncs.paths import path_problem

TRIGGER = "trigger"
INCOMPLETE = ("wait", "push")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*$")
_FIELD = re.compile(r"^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$")

SYNC = Settings(
    (
        Option("from", {"type": "string", "minLength": 1},
               "a model (schema.table), a SELECT over the warehouse, or trigger[.path]",
               required=True),
        Option("to", {"type": "string", "minLength": 1},
               "the connection written to (klaviyo, shopify, threepl, rest)", required=True),
        Option("object", {"type": "string", "minLength": 1},
               "what the destination writes: profiles, list_members (klaviyo); customer_tags,"
               " customer_metafields (shopify); orders (threepl); records (rest)",
               required=True),
        Option("key", {"type": "string", "minLength": 1},
               "the source column (or trigger path) naming each record: unique, not null",
               required=True),
        Option("mode", {"enum": [str(m) for m in Mode]},
               "upsert (adds and updates, the default), mirror (also removes what left the"
               " source), insert (adds only)"),
        Option("fields", {"type": "object",
                          "additionalProperties": {"type": "string", "minLength": 1}},
               "destination field → source column (dotted destination names nest:"
               " properties.ltv); the object says which it needs (customer_tags: none)"),
        Option("guard", {"type": "object", "properties": {"max_changes": {
                   "anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                             {"type": "integer", "minimum": 0}]}},
                         "additionalProperties": False},
               "max_changes: 10% (of the records synced before) or 500: a run changing more"
               " sends nothing and fails, saying why", read=lambda f, name: _read_guard(f, name)),
        Option("dry_run", {"type": "boolean"}, "plan and report only; send nothing"),
        Option("on_incomplete", {"enum": list(INCOMPLETE)},
               "when a source the model reads is late: wait for its catch-up (the default)"
               " or push what is there"),
    ),
    doc="A sync: rows of a model pushed to a destination, diffed against what landed before.",
)  # fmt: skip
SYNC_KEYS = SYNC.names


@dataclass(frozen=True)
class SyncConfig:
    """One sync of podium.yaml, checked."""

    name: str
    source: str  # ``from``
    connection: str  # ``to``
    object: str
    key: str
    fields: Mapping[str, str]
    mode: Mode = Mode.UPSERT
    guard: Guard | None = None
    dry_run: bool = False
    on_incomplete: str = "wait"
    options: Mapping[str, Any] = field(default_factory=dict)  # the object's own settings

    @property
    def from_trigger(self) -> bool:
        return is_trigger_source(self.source)

    @property
    def salt(self) -> str:
        """The object's settings as every record's hash covers them (``SyncSpec.salt``)."""
        return json.dumps(self.options, sort_keys=True, default=str) if self.options else ""

    def spec(self, source: str | None = None, key: str | None = None,
             fields: Mapping[str, str] | None = None) -> SyncSpec:  # fmt: skip
        """What to diff: this sync's source, key and fields unless given (a staged trigger's)."""
        return SyncSpec(self.name, source or self.source, key or self.key,
                        self.fields if fields is None else fields, self.mode, self.salt)  # fmt: skip

    @property
    def trigger_path(self) -> str:
        """``trigger.line_items`` → ``line_items``; ``trigger`` → ``""``."""
        return self.source.strip()[len(TRIGGER) :].lstrip(".")


def is_trigger_source(source: str) -> bool:
    text = source.strip()
    return text == TRIGGER or text.startswith(TRIGGER + ".")


def read_syncs(
    fields: Fields, connections: Mapping[str, Mapping[str, Any]]
) -> dict[str, SyncConfig | None]:
    """``syncs:`` of podium.yaml, each checked against the connections; problems go to
    ``fields.problems`` at their lines, and a sync with problems maps to None."""
    section = fields.mapping_of("syncs")
    if section is None:
        return {}
    found: dict[str, SyncConfig | None] = {}
    for name, value in section.items():
        if not _NAME.match(str(name)):
            fields.problems.add(
                section.line_of(name),
                f"syncs: {name!r} is not a valid sync name (letters, digits and _)",
            )
            continue
        if not isinstance(value, LineDict):
            fields.problems.add(
                section.line_of(name), f"syncs: {name} must be a mapping (from:, to:, object: …)"
            )
            found[str(name)] = None
            continue
        before = len(fields.problems.found)
        config = _read_sync(
            str(name), Fields(value, fields.problems, f"syncs: {name}"), connections
        )
        # a sync with problems keeps its name (None): a task naming it is not told again
        found[str(name)] = config if len(fields.problems.found) == before else None
    return found


def _read_sync(
    name: str, read: Fields, connections: Mapping[str, Mapping[str, Any]]
) -> SyncConfig | None:
    values = SYNC.read(read)
    connection = values.get("to")
    destination = None
    if isinstance(connection, str):
        settings = connections.get(connection)
        kind = settings.get("type") if isinstance(settings, Mapping) else None
        destination = destination_type(kind) if isinstance(kind, str) else None
        if settings is None:
            known = ", ".join(sorted(connections)) or "none yet"
            read.problem("to", f"to: no connection {connection!r} in connections: ({known})")
        elif destination is None:
            read.problem(
                "to",
                f"to: connection {connection!r} has type {kind!r}, which podium cannot write"
                f" to; destination types: {', '.join(destination_type_names())}",
            )
    obj = values.get("object")
    described = destination.objects.get(obj) if destination and isinstance(obj, str) else None
    if destination is not None and isinstance(obj, str) and described is None:
        read.problem(
            "object",
            f"object: {connection} ({connections[str(connection)].get('type')}) writes"
            f" {', '.join(destination.objects)}, not {obj!r}",
        )
    own = described.options if described is not None else Settings()
    if described is not None:  # else which keys the object takes is unknown: said above
        read.unknown_keys((*SYNC_KEYS, *own.names))
    options = own.read(read) if described is not None else {}
    mode = Mode(values.get("mode", Mode.UPSERT))
    source = str(values.get("from", ""))
    mapping = {str(k): str(v) for k, v in (values.get("fields") or {}).items()}
    _check_fields(read, mapping, source)
    if is_trigger_source(source):
        if mode is Mode.MIRROR:
            read.problem(
                "mode",
                "mode: mirror removes what is not in the source, but from: trigger is one"
                " delivery, not the whole set; use upsert or insert",
            )
        path = source.strip()[len(TRIGGER) :].lstrip(".")
        if path and not _PATH.match(path):
            read.problem("from", f"from: {source!r} is not a dotted path into the trigger")
    if described is not None:
        if mode not in described.modes:
            allowed = ", ".join(sorted(str(m) for m in described.modes))
            read.problem("mode", f"mode: {obj} supports {allowed}, not {mode}")
        for problem in described.check(mapping, options):
            key = problem.split(":", 1)[0].split(".", 1)[0]
            read.problem(key if read.has(key) else None, problem)
    guard = values.get("guard")
    if not {"from", "to", "object", "key"} <= set(values):
        return None
    return SyncConfig(
        name=name,
        source=source,
        connection=str(connection),
        object=str(obj),
        key=str(values["key"]),
        fields=mapping,
        mode=mode,
        guard=guard,
        dry_run=bool(values.get("dry_run", False)),
        on_incomplete=str(values.get("on_incomplete", "wait")),
        options=to_plain(options),
    )


def _check_fields(read: Fields, mapping: Mapping[str, str], source: str) -> None:
    for target, column in mapping.items():
        if not _FIELD.match(target):
            read.problem("fields", f"fields: {target!r} is not a field name (dotted names nest)")
        if is_trigger_source(source):
            problem = path_problem(column)
            if problem:
                read.problem("fields", f"fields: {target}: {problem}")


def _read_guard(read: Fields, name: str) -> Guard | None:
    value = to_plain(read.mapping[name])
    if not isinstance(value, Mapping) or set(value) != {"max_changes"}:
        read.problem(name, f"{name} must be {{max_changes: 10%}} or {{max_changes: 500}}")
        return None
    try:
        return Guard.parse(value["max_changes"])
    except UsageError as exc:
        read.problem(name, f"{name}: {exc}")
        return None


def syncs_schema() -> dict[str, Any]:
    """The JSON Schema of ``syncs:``: every sync's keys, and each object's own (``list``
    for ``object: list_members``), so an editor completes and checks both."""
    schema = SYNC.json_schema()
    schema.pop("additionalProperties", None)
    branches = []
    for kind in destination_type_names():
        destination = destination_type(kind)
        for name, obj in (destination.objects if destination else {}).items():
            own = obj.options.json_schema()
            branches.append(
                {
                    "if": {"properties": {"object": {"const": name}}, "required": ["object"]},
                    "then": {
                        "properties": own.get("properties", {}),
                        **({"required": own["required"]} if own.get("required") else {}),
                    },
                }
            )
    return {
        "type": "object",
        "description": "reverse-ETL syncs: rows of a model pushed to a destination",
        "propertyNames": {"pattern": _NAME.pattern},
        "additionalProperties": {**schema, "allOf": branches, "unevaluatedProperties": False},
    }
