"""Column types: the small set podium loads, how they widen, how each warehouse spells them.

Types are plain strings: ``boolean bigint double decimal(p,s) text date timestamp
timestamptz time json``. Widening follows ``bigint → decimal/double → text``; a timestamp
widens a date, ``timestamptz`` a naive timestamp, and anything else meeting a different
type becomes ``text`` (``json`` stays ``json``).
"""

from __future__ import annotations

import re

BOOLEAN, BIGINT, DOUBLE, TEXT, JSON = "boolean", "bigint", "double", "text", "json"
DATE, TIMESTAMP, TIMESTAMPTZ, TIME = "date", "timestamp", "timestamptz", "time"
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_SIMPLE = {BOOLEAN, BIGINT, DOUBLE, TEXT, JSON, DATE, TIMESTAMP, TIMESTAMPTZ, TIME}
_ALIASES = {
    "bool": BOOLEAN,
    "int": BIGINT,
    "integer": BIGINT,
    "int64": BIGINT,
    "float": DOUBLE,
    "number": DOUBLE,
    "string": TEXT,
    "varchar": TEXT,
    "datetime": TIMESTAMPTZ,
    "decimal": "decimal(38,9)",
    "numeric": "decimal(38,9)",
    "money": "decimal(18,4)",
}
_DUCKDB_NAMES = {
    "BOOLEAN": BOOLEAN,
    "TINYINT": BIGINT,
    "SMALLINT": BIGINT,
    "INTEGER": BIGINT,
    "BIGINT": BIGINT,
    "UTINYINT": BIGINT,
    "USMALLINT": BIGINT,
    "UINTEGER": BIGINT,
    "UBIGINT": "decimal(20,0)",
    "HUGEINT": "decimal(38,0)",
    "UHUGEINT": "decimal(38,0)",
    "FLOAT": DOUBLE,
    "DOUBLE": DOUBLE,
    "VARCHAR": TEXT,
    "UUID": TEXT,
    "DATE": DATE,
    "TIMESTAMP": TIMESTAMP,
    "TIMESTAMP_S": TIMESTAMP,
    "TIMESTAMP_MS": TIMESTAMP,
    "TIMESTAMP_NS": TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": TIMESTAMPTZ,
    "TIME": TIME,
    "JSON": JSON,
}
_POSTGRES_NAMES = {
    "boolean": BOOLEAN,
    "smallint": BIGINT,
    "integer": BIGINT,
    "bigint": BIGINT,
    "real": DOUBLE,
    "double precision": DOUBLE,
    "text": TEXT,
    "character varying": TEXT,
    "date": DATE,
    "timestamp without time zone": TIMESTAMP,
    "timestamp with time zone": TIMESTAMPTZ,
    "time without time zone": TIME,
    "jsonb": JSON,
    "json": JSON,
}


def parse_declared(text: str) -> str | None:
    """A type a user wrote (``decimal(18,2)``, ``int``, ``timestamp``), or None if unknown."""
    name = re.sub(r"\s+", "", text.strip().lower())
    name = _ALIASES.get(name, name)
    if name in _SIMPLE:
        return name
    match = _DECIMAL.fullmatch(name.replace("numeric", "decimal"))
    if match and 0 < int(match[2]) + 1 <= int(match[1]) + 1 <= 39 and int(match[1]) >= 1:
        return f"decimal({int(match[1])},{int(match[2])})"
    return None


def from_duckdb(name: str) -> str | None:
    """The podium type of a DuckDB column type; None for the NULL type (no value seen yet)."""
    upper = name.upper()
    if upper in ('"NULL"', "NULL"):
        return None
    if upper.startswith("DECIMAL"):
        return parse_declared(upper.lower()) or DOUBLE
    return _DUCKDB_NAMES.get(upper, TEXT)


def from_postgres(data_type: str, precision: int | None, scale: int | None) -> str:
    if data_type == "numeric":
        return f"decimal({precision or 38},{scale or 0})"
    return _POSTGRES_NAMES.get(data_type, TEXT)


def decimal_parts(kind: str) -> tuple[int, int] | None:
    match = _DECIMAL.fullmatch(kind)
    return (int(match[1]), int(match[2])) if match else None


def supertype(a: str, b: str) -> str:
    """The narrowest type that holds every value of both ``a`` and ``b``."""
    if a == b:
        return a
    if JSON in (a, b):
        return JSON
    pair = {a, b}
    da, db = decimal_parts(a), decimal_parts(b)
    if da and db:
        scale = max(da[1], db[1])
        digits = max(da[0] - da[1], db[0] - db[1])
        return f"decimal({digits + scale},{scale})" if digits + scale <= 38 else DOUBLE
    if BIGINT in pair and (da or db):
        precision, scale = da or db or (0, 0)
        return f"decimal({max(precision, 19 + scale)},{scale})" if 19 + scale <= 38 else DOUBLE
    if pair == {BIGINT, DOUBLE} or (DOUBLE in pair and (da or db)):
        return DOUBLE
    if pair == {DATE, TIMESTAMP}:
        return TIMESTAMP
    if pair <= {DATE, TIMESTAMP, TIMESTAMPTZ}:
        return TIMESTAMPTZ
    return TEXT


def holds(wide: str, narrow: str) -> bool:
    """Whether a column of type ``wide`` can take every value of type ``narrow``."""
    return supertype(wide, narrow) == wide


def to_duckdb(kind: str) -> str:
    if decimal_parts(kind):
        return kind.upper()
    return {
        BOOLEAN: "BOOLEAN",
        BIGINT: "BIGINT",
        DOUBLE: "DOUBLE",
        TEXT: "VARCHAR",
        JSON: "JSON",
        DATE: "DATE",
        TIMESTAMP: "TIMESTAMP",
        TIMESTAMPTZ: "TIMESTAMPTZ",
        TIME: "TIME",
    }[kind]


def to_postgres(kind: str) -> str:
    parts = decimal_parts(kind)
    if parts:
        return f"numeric({parts[0]},{parts[1]})"
    return {
        BOOLEAN: "boolean",
        BIGINT: "bigint",
        DOUBLE: "double precision",
        TEXT: "text",
        JSON: "jsonb",
        DATE: "date",
        TIMESTAMP: "timestamp",
        TIMESTAMPTZ: "timestamptz",
        TIME: "time",
    }[kind]
