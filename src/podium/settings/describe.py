"""Settings described once: reading them (with file:line problems) and their JSON Schema.

A task kind, a source type, a warehouse or a notifier lists its settings as ``Option``
values. ``Settings.read`` checks a mapping written in YAML against them, and
``Settings.properties`` gives the JSON Schema that ``podium schema`` prints and the visual
builder's forms read. An option whose value needs more than its schema says (an http task's
``for_each``, which may only reference what the task can see) gives its own ``read``; its
schema still says the shape.

    STREAMS = Option("streams", {"type": "array", "items": {"type": "string"}},
                     "the streams to load (default: all of the connection's)")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.core.durations import DURATION_PATTERN
from podium.settings.yaml_lines import Fields, did_you_mean, to_plain

Reader = Callable[[Fields, str], Any]


@dataclass(frozen=True)
class Option:
    """One setting: its name, the JSON Schema of its value, and what it means."""

    name: str
    schema: Mapping[str, Any]
    doc: str
    read: Reader | None = None
    required: bool = False

    def json_schema(self) -> dict[str, Any]:
        return {**dict(self.schema), "description": self.doc}


@dataclass(frozen=True)
class Settings:
    """The settings of one kind, source type, warehouse or notifier."""

    options: tuple[Option, ...] = ()
    doc: str = ""
    #: more JSON Schema for the whole mapping (``{"anyOf": [{"required": ["shop"]}, …]}``)
    also: Mapping[str, Any] = field(default_factory=dict)
    by_name: Mapping[str, Option] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {o.name: o for o in self.options})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def read(self, fields: Fields, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """The options ``fields`` sets (only ``keys`` when given), each checked; a wrong
        value is reported at its line and left out."""
        found: dict[str, Any] = {}
        for name in keys if keys is not None else self.names:
            option = self.by_name[name]
            if name not in fields.mapping:
                if option.required:
                    fields.problem(None, f"{name}: required ({option.doc})")
                continue
            if option.read is not None:
                found[name] = option.read(fields, name)
                continue
            value = to_plain(fields.mapping[name])
            message = value_problem(value, option.schema)
            if message:
                fields.problem(name, f"{name} {message}")
            else:
                found[name] = value
        return found

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """What is wrong with plain ``values`` (a plugin source's settings, say), each
        problem starting with its key (``rows: must be a whole number, got 'x'``) so that
        ``podium validate`` shows it at that key's line. Options' own readers are not run."""
        found = []
        for key in values:
            if key not in self.by_name:
                hint = did_you_mean(str(key), self.names) or "; expected one of " + ", ".join(
                    self.names
                )
                found.append(f"{key}: unknown setting{hint}")
        for option in self.options:
            if option.name not in values:
                if option.required:
                    found.append(f"{option.name}: required ({option.doc})")
                continue
            message = value_problem(to_plain(values[option.name]), option.schema)
            if message:
                found.append(f"{option.name}: {message}")
        return found

    def properties(self) -> dict[str, Any]:
        return {o.name: o.json_schema() for o in self.options}

    def json_schema(self) -> dict[str, Any]:
        """An object schema: these options and nothing else."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": self.properties(),
            "additionalProperties": False,
        }
        required = [o.name for o in self.options if o.required]
        if required:
            schema["required"] = required
        if self.doc:
            schema["description"] = self.doc
        return {**schema, **self.also}


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}
_WORDS = {
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list",
    "object": "a mapping (key: value)",
    "null": "empty",
}


def value_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """What is wrong with ``value`` under the subset of JSON Schema podium's options use
    (type, enum, minimum, pattern, items, properties, additionalProperties, anyOf), or None; the
    text completes "``name`` …" (``must be true or false, got 'yes'``)."""
    if "anyOf" in schema:
        problems = [value_problem(value, s) for s in schema["anyOf"]]
        if all(problems):
            return next(p for p in problems if p)
        return None
    wanted = schema.get("type")
    if wanted is not None and not _is_type(value, wanted):
        kinds = [wanted] if isinstance(wanted, str) else list(wanted)
        return f"must be {' or '.join(_WORDS[k] for k in kinds)}, got {_show(value)}"
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(str(v) for v in schema["enum"])
        hint = (
            did_you_mean(value, [str(v) for v in schema["enum"]]) if isinstance(value, str) else ""
        )
        return f"must be one of {choices}, got {_show(value)}{hint}"
    if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
        return f"must be {schema['minimum']} or more, got {_show(value)}"
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        return "must not be empty"
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        return f"must match {schema['pattern']}, got {_show(value)}"
    if isinstance(value, list | tuple) and "items" in schema:
        for index, item in enumerate(value):
            problem = value_problem(item, schema["items"])
            if problem:
                return f"item {index + 1} {problem}"
    if isinstance(value, dict):
        return _mapping_problem(value, schema)
    return None


def _mapping_problem(value: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            problem = value_problem(item, properties[key])
        elif extra is False:
            allowed = ", ".join(properties)
            return (
                f"has unknown key {key!r}{did_you_mean(key, properties) or '; allowed: ' + allowed}"
            )
        elif isinstance(extra, Mapping):
            problem = value_problem(item, extra)
        else:
            problem = None
        if problem:
            return f"{key}: {problem}"
    missing = [k for k in schema.get("required", ()) if k not in value]
    return f"needs {', '.join(missing)}" if missing else None


def _is_type(value: Any, wanted: str | list[str]) -> bool:
    kinds = [wanted] if isinstance(wanted, str) else wanted
    for kind in kinds:
        if kind in ("integer", "number") and isinstance(value, bool):
            continue
        if isinstance(value, _TYPES[kind]):
            return True
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- fragments the descriptions share ---------------------------------------------------------

#: ``30s``, ``5m``, ``1h30m``, ``2d``, ``250ms`` or a number of seconds
DURATION: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "examples": ["30s", "5m", "1h30m", "2d"],
}
#: a duration that must be more than zero (``0s`` is refused by the reader, not here)
POSITIVE_DURATION: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "examples": ["30s", "5m", "1h30m", "2d"],
}
#: a name podium gives an id (a workflow, a task, a notification)
NAME: dict[str, Any] = {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"}
#: one name, or a list of names (``depends_on: a`` or ``depends_on: [a, b]``)
NAMES: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}},
    ]
}
#: a mapping of JSON values (params, filters)
JSON_OBJECT: dict[str, Any] = {"type": "object"}
#: a string holding ``${VAR}`` or ``${file:PATH}``: replaced before podium reads the value
REFERENCE: dict[str, Any] = {
    "type": "string",
    "pattern": r"\$\{[^}]+\}",
    "description": "${VAR}, ${VAR:-default} or ${file:PATH}, replaced when the project loads",
}

_MAPS = ("properties", "patternProperties", "$defs")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_ONES = ("items", "additionalProperties", "then", "else", "not", "contains")


def with_references(schema: Any, reference: Mapping[str, Any] = REFERENCE) -> Any:
    """``schema`` where every constrained text (an ``enum``, a ``pattern``) also accepts a
    ``${VAR}`` reference: interpolation happens before the value is read, so the file an
    editor checks holds the reference, not the value. Numbers and flags take no references
    (``${VAR}`` always gives text, which podium refuses where a number is expected).

    ``reference`` is the schema of a reference: ``REFERENCE``, or a ``$ref`` to it."""
    if not isinstance(schema, Mapping):
        return schema
    result = dict(schema)
    for key in _MAPS:
        if isinstance(result.get(key), Mapping):
            result[key] = {n: with_references(s, reference) for n, s in result[key].items()}
    for key in _LISTS:
        if isinstance(result.get(key), list):
            result[key] = [with_references(s, reference) for s in result[key]]
    for key in _ONES:
        if isinstance(result.get(key), Mapping):
            result[key] = with_references(result[key], reference)
    if _is_constrained_text(result):
        doc = result.pop("description", None)
        wrapped: dict[str, Any] = {"anyOf": [result, dict(reference)]}
        return {**wrapped, "description": doc} if doc else wrapped
    return result


def _is_constrained_text(schema: Mapping[str, Any]) -> bool:
    if "enum" in schema:
        return any(isinstance(v, str) for v in schema["enum"])
    pattern = schema.get("pattern")
    return (
        pattern is not None and pattern != REFERENCE["pattern"] and schema.get("type") == "string"
    )
