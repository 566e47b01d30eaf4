"""The rows an http task's ``for_each`` names: a warehouse query's, or an upstream list.

Rows become JSON-ready dicts (decimals become numbers, dates ISO text, bytes hex), so a
body can carry them as they are. A row's key (``for_each: {key: order_id}``) is its text
(``1001``), or a JSON list for a key of several columns (``["us",1001]``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from podium.errors import PodiumError, TerminalTaskError, TransientTaskError
from podium.outgoing.templates import UnresolvedReference, as_text, render_text

Row = dict[str, Any]


def query_rows(task: str, query: str, warehouse: Mapping[str, Any], root: Path) -> list[Row]:
    """The rows ``query`` returns from the project's warehouse, as JSON-ready dicts."""
    from podium.transforms.warehouse_sql import open_warehouse_sql

    with open_warehouse_sql(warehouse, root) as sql:
        try:
            found, columns = sql.described(query)
        except PodiumError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database's own error, reported once
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            error = TransientTaskError if _is_connection_error(exc) else TerminalTaskError
            raise error(
                f"task {task!r}: the for_each query failed on the {sql.dialect} warehouse: "
                f"{first}; check the SQL in for_each: query:"
            ) from None
    return [
        {name: json_value(value) for name, value in zip(columns, r, strict=True)} for r in found
    ]


def _is_connection_error(exc: Exception) -> bool:
    return type(exc).__name__ in ("OperationalError", "ConnectionException", "IOException")


def upstream_rows(task: str, reference: str, scope: Mapping[str, Any]) -> list[Any]:
    """The list ``for_each: {rows: "{{ upstream.TASK.FIELD }}"}`` names."""
    try:
        value = render_text(reference, scope, "for_each.rows", whole=True)
    except UnresolvedReference as exc:
        raise TerminalTaskError(f"task {task!r}: {exc}; check the upstream task's output") from None
    if not isinstance(value, list):
        shown = "null" if value is None else type(value).__name__
        raise TerminalTaskError(
            f"task {task!r}: for_each.rows: {reference} is {shown}, not a list of rows; "
            "name a field of the upstream output that holds a list"
        )
    return value


def row_key(task: str, row: Any, columns: Sequence[str], index: int) -> str:
    """The text that identifies ``row`` by its ``columns`` (``for_each: {key: …}``)."""
    if not isinstance(row, Mapping):
        raise TerminalTaskError(
            f"task {task!r}: row {index + 1} is a {type(row).__name__}, not a mapping, so it "
            f"has no {columns[0]!r}; remove key: or send rows with named fields"
        )
    missing = [c for c in columns if c not in row]
    if missing:
        have = ", ".join(sorted(map(str, row))[:12])
        raise TerminalTaskError(
            f"task {task!r}: for_each key {missing[0]!r} is not a field of the rows "
            f"(they have: {have}); correct key: or the query"
        )
    values = [row[c] for c in columns]
    if any(v is None for v in values):
        raise TerminalTaskError(
            f"task {task!r}: row {index + 1} has no value for its key "
            f"{', '.join(columns)}; filter such rows out in the query"
        )
    if len(values) == 1:
        return as_text(values[0])
    return json.dumps(values, separators=(",", ":"), default=str)


def json_value(value: Any) -> Any:
    """A database value as JSON can carry it."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)
