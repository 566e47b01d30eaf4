"""The stream options every source shares, read from a connection's settings.

primary_key: id | [a, b]      cursor: updated_at      lookback: 10m
write_mode: append | merge | replace                  table: name override
schema: evolve | freeze | discard_row                 type_conflict: widen | variant
keep_document: false          columns: {total_price: "decimal(18,2)"}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.connectors.normalize import types
from podium.connectors.source import SchemaPolicy, Stream, TypeConflict, WriteMode
from podium.core.durations import parse_duration
from podium.settings.describe import DURATION, Option, Settings

_FIELDS = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}},
    ]
}
STREAM_OPTIONS = Settings(
    (
        Option("primary_key", _FIELDS, "the field (or fields) that identify a record"),
        Option("cursor", {"type": "string", "minLength": 1}, "the field an incremental load "
               "resumes from (its highest value is saved with the rows)"),
        Option("lookback", DURATION, "re-read this much before the saved cursor"),
        Option("write_mode", {"type": "string", "enum": [m.value for m in WriteMode]},
               "merge (the default with a primary_key), append or replace"),
        Option("schema", {"type": "string", "enum": [p.value for p in SchemaPolicy]},
               "what a new field or type does: evolve (the default), freeze or discard_row"),
        Option("type_conflict", {"type": "string", "enum": [c.value for c in TypeConflict]},
               "a value of another type: widen the column (the default) or keep a variant"),
        Option("keep_document", {"type": "boolean"}, "also keep each record whole as JSON"),
        Option("columns", {"type": "object", "additionalProperties": {"type": "string"}},
               "declared column types: {total_price: \"decimal(18,2)\"}"),
        Option("table", {"type": "string"}, "the table's name (default: the stream's)"),
    ),
    doc="The options every source's streams share.",
)  # fmt: skip
STREAM_KEYS = STREAM_OPTIONS.names


def read_stream(name: str, settings: Mapping[str, Any], where: str, problems: list[str]) -> Stream:
    """A Stream from ``settings``; each problem found is added, starting with ``where``."""

    def bad(key: str, message: str) -> None:
        problems.append(f"{where}.{key}: {message}")

    key = settings.get("primary_key", ())
    primary_key = (key,) if isinstance(key, str) else tuple(key) if isinstance(key, list) else ()
    if not all(isinstance(k, str) and k for k in primary_key) or not isinstance(
        key, str | list | tuple
    ):
        bad("primary_key", "expected a field name or a list of field names")
        primary_key = ()
    cursor = settings.get("cursor")
    if cursor is not None and not (isinstance(cursor, str) and cursor):
        bad("cursor", "expected a field name")
        cursor = None
    mode = _choice(
        settings, "write_mode", WriteMode, WriteMode.MERGE if primary_key else WriteMode.APPEND, bad
    )
    if mode is WriteMode.MERGE and not primary_key:
        bad("write_mode", "merge needs a primary_key: the field(s) that identify a record")
    lookback = 0.0
    if settings.get("lookback") is not None:
        try:
            lookback = parse_duration(settings["lookback"])
        except ValueError as exc:
            bad("lookback", str(exc))
    columns = settings.get("columns") or {}
    if not isinstance(columns, Mapping):
        bad("columns", "expected a mapping of field: type")
        columns = {}
    for field, kind in columns.items():
        if not isinstance(kind, str) or types.parse_declared(kind) is None:
            bad(
                f"columns.{field}",
                f"unknown type {kind!r}; use one of boolean, bigint, double, "
                "decimal(P,S), text, date, timestamp, timestamptz, time, json",
            )
    keep = settings.get("keep_document", False)
    if not isinstance(keep, bool):
        bad("keep_document", "expected true or false")
    table = settings.get("table", "")
    return Stream(
        name=name,
        primary_key=primary_key,
        cursor=cursor,
        write_mode=mode,
        schema=_choice(settings, "schema", SchemaPolicy, SchemaPolicy.EVOLVE, bad),
        type_conflict=_choice(settings, "type_conflict", TypeConflict, TypeConflict.WIDEN, bad),
        lookback=lookback,
        keep_document=keep is True,
        columns={str(k): str(v) for k, v in columns.items()},
        table=table if isinstance(table, str) else "",
    )


def _choice(settings: Mapping[str, Any], key: str, enum: Any, default: Any, bad: Any) -> Any:
    value = settings.get(key)
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        bad(key, f"expected one of {', '.join(e.value for e in enum)}, got {value!r}")
        return default
