"""A record's values as the JSON a destination's API takes.

Warehouse values are not all JSON: DuckDB and PostgreSQL hand back ``Decimal``, dates,
UUIDs and, for a JSON column, its text. ``json_value`` turns each into what JSON can
carry; ``decoded`` reads a JSON column's text back into the array or object it holds,
so ``products`` written as ``'[{"reference_id": "SKU-1", "quantity": 2}]'`` (or built
with ``to_json``/``json_agg``) is sent as an array, not as a string.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson


def json_value(value: Any) -> Any:
    """``value`` with every part JSON can carry as is: a whole Decimal as an int, any other
    as a float, dates and times as ISO text, tuples as lists, mappings key by key."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | bytes):
        return value.hex() if isinstance(value, bytes) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def decoded(value: Any) -> Any:
    """A JSON array's or object's text parsed (other values as they are): the column held
    JSON the destination expects as a structure."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def body_values(values: Mapping[str, Any], structured: frozenset[str]) -> dict[str, Any]:
    """The change's values ready to ``nest``: JSON-safe, and the ``structured`` fields'
    JSON text parsed."""
    return {
        name: json_value(decoded(value) if name in structured else value)
        for name, value in values.items()
    }
