"""The shape of parsed JSON records, seen once in Python so DuckDB can parse them once.

DuckDB's ``read_json`` finds a schema by sampling, and it samples only the first 32 files
of a read: a field or a type that first appears in a later page is dropped or fails the
read. Sampling every file instead parses everything twice. A reading thread already holds
each page's records as Python values, so it notes their shape on the way (``Observer``,
one shape for the whole load) and hands a snapshot of it to ``read_json`` as explicit
``columns`` (``duckdb_columns``), which parses once and misses nothing.

The types follow what DuckDB's own detection picks: integers ``BIGINT``, numbers
``DOUBLE``, objects ``STRUCT``, lists ``[]``, only nulls ``NULL``, empty objects/lists and
mixed types ``JSON``. Whether a text field holds dates or times is guessed from the first
value seen (``temporal``). Timestamps with a zone are declared ``TIMESTAMPTZ``: DuckDB's
JSON parser reads them fast and fails on anything that is not a timestamp (a date or a
timestamp without zone is read as UTC midnight / UTC). Dates, times and timestamps without
zone stay ``VARCHAR`` and are confirmed over every value in SQL before the column is typed
(``TEMPORAL_PATTERNS``), because DuckDB's casts to those are lenient
(``'2024-01-01T10:00+02:00'::DATE`` silently drops the time, ``::TIMESTAMP`` the zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from podium.connectors.normalize.names import literal, quote

# The text DuckDB's detection would type, as patterns both Python's re and DuckDB's RE2 read.
TEMPORAL_PATTERNS = {
    "date": r"\d{4}-\d{2}-\d{2}",
    "time": r"\d{2}:\d{2}:\d{2}(\.\d+)?",
    "timestamp": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?",
    "timestamptz": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)",
}
_COMPILED = [(kind, re.compile(pattern)) for kind, pattern in TEMPORAL_PATTERNS.items()]
NOT_TEMPORAL = ""


class Shape:
    """Every type seen at one place in the records, and the shapes beneath it."""

    __slots__ = ("kinds", "fields", "element", "temporal", "layouts")

    def __init__(self) -> None:
        self.kinds: set[type] = set()
        self.fields: dict[str, Shape] = {}
        self.element: Shape | None = None  # a list's elements, once one is seen
        self.temporal: str | None = None  # None: no text seen; NOT_TEMPORAL; or a kind
        # an object layout (keys, value types) seen here → its keys holding objects/lists
        self.layouts: dict[tuple[tuple[str, ...], tuple[type, ...]], tuple[str, ...]] = {}

    def copy(self) -> Shape:
        """A deep copy, without the layouts the walk remembers."""
        copied = Shape()
        copied.kinds = set(self.kinds)
        copied.fields = {name: shape.copy() for name, shape in self.fields.items()}
        copied.element = self.element.copy() if self.element is not None else None
        copied.temporal = self.temporal
        return copied

    def find(self, path: Sequence[str]) -> Shape | None:
        """The shape at a field path as the flattener names it: lists are passed through,
        and ``value`` names a list's plain elements."""
        shape: Shape | None = self
        for part in path:
            shape = _through_lists(shape)
            if shape is None:
                return None
            found = shape.fields.get(part)
            if found is None and part != "value":
                return None
            shape = found if found is not None else shape
        return _through_lists(shape)

    def duckdb_type(self) -> str:
        kinds = self.kinds - {type(None)}
        if not kinds:
            return "NULL"
        if kinds == {dict}:
            if not self.fields:
                return "JSON"
            inner = ", ".join(
                f"{quote(name)} {shape.duckdb_type()}" for name, shape in self.fields.items()
            )
            return f"STRUCT({inner})"
        if kinds == {list}:
            element = self.element
            if element is None or not element.kinds - {type(None)}:
                return "JSON[]"
            return element.duckdb_type() + "[]"
        if kinds == {str} and self.temporal == "timestamptz":
            # parsed by read_json instead of cast in SQL: 7.5 s against 7.7 s for 100,000
            # orders (medians of 3); text it cannot parse fails the read, which then falls
            # back to detection
            return "TIMESTAMPTZ"
        return _SCALARS.get(frozenset(kinds), "JSON")


_SCALARS = {
    frozenset({bool}): "BOOLEAN",
    frozenset({int}): "BIGINT",
    frozenset({float}): "DOUBLE",
    frozenset({int, float}): "DOUBLE",
    frozenset({str}): "VARCHAR",
}


class Observer:
    """The shape of every record one load has read so far, kept by the reading thread.

    ``snapshot`` hands out a copy whenever something new was seen since the last one, for
    the staging thread: the shape grows while a batch it describes is being read.
    """

    def __init__(self) -> None:
        self.shape = Shape()
        self.shape.kinds.add(dict)
        self._changes = [0]
        self._given = -1

    def observe(self, records: Iterable[dict[str, Any]]) -> None:
        shape, changes = self.shape, self._changes
        for record in records:
            _observe_object(shape, record, changes)

    @property
    def version(self) -> int:
        """Grows whenever something new is seen."""
        return self._changes[0]

    def snapshot(self) -> Shape | None:
        """A copy of the shape if it changed since the last snapshot; else None."""
        if self._changes[0] == self._given:
            return None
        self._given = self._changes[0]
        return self.shape.copy()


def observe(records: Iterable[dict[str, Any]]) -> Shape:
    """The shape of some records (objects)."""
    observer = Observer()
    observer.observe(records)
    return observer.shape


# The walk sees every record, so it is written for speed. An object whose keys and value
# types were seen before at the same place adds nothing but what its nested objects and
# lists might hold: the walk goes only into those, found from the remembered layout.
# ``changes`` counts what was new (a field, a type, a guess), for ``Observer.snapshot``.
_LAYOUTS_KEPT = 4096  # per place; past that, new layouts are walked value by value


def _observe_object(shape: Shape, value: dict[str, Any], changes: list[int]) -> None:
    kinds = tuple(map(type, value.values()))
    layout = (tuple(value), kinds)
    nested = shape.layouts.get(layout)
    fields = shape.fields
    if nested is None:
        for name, inner in value.items():
            found = fields.get(name)
            if found is None:
                found = fields[name] = Shape()
                changes[0] += 1
            _observe(found, inner, changes)
        if len(shape.layouts) < _LAYOUTS_KEPT:
            shape.layouts[layout] = tuple(
                name for name, kind in zip(layout[0], kinds, strict=True) if kind in _NESTED
            )
        return
    for name in nested:
        inner = value[name]
        if type(inner) is dict:
            _observe_object(fields[name], inner, changes)
        else:
            _observe_list(fields[name], inner, changes)


def _observe(shape: Shape, value: Any, changes: list[int]) -> None:
    kind = type(value)
    if kind not in shape.kinds:
        shape.kinds.add(kind)
        changes[0] += 1
    if kind is dict:
        _observe_object(shape, value, changes)
    elif kind is list:
        _observe_list(shape, value, changes)
    elif kind is str and shape.temporal is None:
        shape.temporal = _classify(value)
        changes[0] += 1


def _observe_list(shape: Shape, value: list[Any], changes: list[int]) -> None:
    element = shape.element
    if element is None:
        element = shape.element = Shape()
        changes[0] += 1
    kinds = set(map(type, value))
    if not kinds <= element.kinds:
        element.kinds |= kinds
        changes[0] += 1
    if dict in kinds or list in kinds:
        for inner in value:
            _observe(element, inner, changes)
    elif str in kinds and element.temporal is None:
        element.temporal = _classify(next(v for v in value if type(v) is str))
        changes[0] += 1


_NESTED = (dict, list)


def _classify(text: str) -> str:
    for kind, pattern in _COMPILED:
        if pattern.fullmatch(text):
            return kind
    return NOT_TEMPORAL


def duckdb_columns(shape: Shape) -> str:
    """``read_json``'s ``columns`` argument for records of this shape."""
    pairs = ", ".join(
        f"{literal(name)}: {literal(field.duckdb_type())}" for name, field in shape.fields.items()
    )
    return "{" + pairs + "}"


def _through_lists(shape: Shape | None) -> Shape | None:
    while shape is not None and shape.element is not None and not shape.kinds - _LIST_OR_NULL:
        shape = shape.element
    return shape


_LIST_OR_NULL: set[type] = {list, type(None)}
