"""Planning how one batch of nested records becomes flat tables.

Given the column types DuckDB found in a batch, ``plan_tables`` decides every output table
and column: nested objects become columns joined with ``__``; lists become child tables
(``orders__line_items``) whose rows carry their root's key (``_root_key``), their parent's
key (``_parent_key``) and their position (``_pos``); a list of plain values becomes a child
table with one ``value`` column. The plan is SQL that the staging area runs.

Level tables hold one row per list element (``_value``) so that lists inside lists are
flattened the same way, one level at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.connectors.normalize import names, types
from podium.connectors.normalize.names import quote

IsJsonObject = Callable[[str, str], bool]  # (level table, expression) → holds objects/lists?
# (level table, expression, field path from the record) → the type and expression of a text
# field (text, or a date/time type its values all have)
RefineText = Callable[[str, str, tuple[str, ...]], tuple[str, str]]
CreateLevel = Callable[[str], None]  # runs a child level's SQL, so checks can read it


@dataclass
class Column:
    name: str
    expr: str  # over the level table, aliased ``l``
    kind: str | None  # None: only nulls seen so far
    path: tuple[str, ...]  # the source field names, for messages


@dataclass
class TablePlan:
    """One output table: its rows come from ``level`` (a table with one row per record or
    per list element); ``level_sql`` creates that level from its parent, when it is a child."""

    name: str
    level: str
    level_sql: str | None
    columns: list[Column] = field(default_factory=list)
    children: list[TablePlan] = field(default_factory=list)
    path: tuple[str, ...] = ()

    def walk(self) -> list[TablePlan]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass(frozen=True)
class _Field:
    path: tuple[str, ...]
    expr: str
    type: Any  # DuckDBPyType


@dataclass(frozen=True)
class RootKeys:
    """SQL over the batch (aliased ``l``) for each record's sequence number and key."""

    seq: str
    key: str


def plan_tables(
    root_table: str,
    level: str,
    fields: Sequence[tuple[str, Any]],
    *,
    keys: Callable[[TablePlan], RootKeys],
    is_json_object: IsJsonObject,
    create_level: CreateLevel,
    refine_text: RefineText | None = None,
) -> tuple[TablePlan, RootKeys]:
    """The plan for a batch held in ``level`` whose record fields are ``fields``.

    ``keys`` is asked for the root's key expressions once the root's columns are known (the
    primary key is found among them) and before any child level is planned. Each child's
    level table is created (``create_level``) as soon as it is planned, parents first, so
    ``is_json_object`` can look at the values of a list whose elements DuckDB typed JSON
    (an always-empty list, or mixed elements).
    """
    plan = TablePlan(root_table, level, None)
    start = [_Field((name,), "l." + quote(name), kind) for name, kind in fields]
    checks = _Checks(is_json_object, create_level, refine_text)
    lists = _fill(plan, start, checks)
    root = keys(plan)
    counter = [0]
    for item in lists:
        plan.children.append(_child_plan(plan, item, root, checks, counter))
    return plan, root


@dataclass(frozen=True)
class _Checks:
    is_json: IsJsonObject
    create_level: CreateLevel
    refine_text: RefineText | None


def _fill(plan: TablePlan, start: list[_Field], checks: _Checks) -> list[_Field]:
    """Adds ``plan``'s columns; returns its list fields, for child tables."""
    lists: list[_Field] = []
    taken: set[str] = set()
    pending = list(start)
    while pending:
        item = pending.pop(0)
        type_id = item.type.id
        if type_id == "struct":
            children = [
                _Field(item.path + (name,), f"{item.expr}.{quote(name)}", kind)
                for name, kind in item.type.children
            ]
            pending[0:0] = children
        elif type_id in ("list", "array"):
            lists.append(item)
        else:
            name = _unique(names.join(*(names.identifier(p) for p in item.path)), taken)
            kind = types.from_duckdb(str(item.type))
            expr = item.expr
            if kind == types.JSON and not checks.is_json(plan.level, item.expr):
                kind, expr = types.TEXT, _json_scalar_as_text(item.expr)
            elif kind == types.TEXT and checks.refine_text is not None:
                kind, expr = checks.refine_text(plan.level, expr, plan.path + item.path)
            plan.columns.append(Column(name, expr, kind, item.path))
    return lists


def _child_plan(
    parent: TablePlan,
    item: _Field,
    root: RootKeys,
    checks: _Checks,
    counter: list[int],
) -> TablePlan:
    counter[0] += 1
    level = f"_level_{counter[0]}"
    suffix = names.join(*(names.identifier(p) for p in item.path))
    name = names.join(parent.name, suffix)
    if parent.level_sql is None:  # the parent is the root: its key is the record's key
        seq, root_key, parent_key = root.seq, root.key, root.key
    else:
        seq, root_key, parent_key = "l._seq", "l._root_key", "l._parent_key || '/' || l._pos"
    level_sql = (
        f"CREATE OR REPLACE TEMP TABLE {level} AS SELECT {seq} AS _seq, {root_key} AS _root_key, "
        f"{parent_key} AS _parent_key, generate_subscripts({item.expr}, 1) - 1 AS _pos, "
        f"unnest({item.expr}) AS _value FROM {parent.level} l"
    )
    child = TablePlan(name, level, level_sql, path=parent.path + item.path)
    checks.create_level(level_sql)
    element = item.type.child
    if element.id == "struct":
        start = [_Field((n,), f"l._value.{quote(n)}", k) for n, k in element.children]
    elif element.id in ("list", "array"):  # a list of lists: each inner list kept as JSON
        child.columns.append(Column("value", "to_json(l._value)", types.JSON, ("value",)))
        return child
    else:
        start = [_Field(("value",), "l._value", element)]
    for inner in _fill(child, start, checks):
        child.children.append(_child_plan(child, inner, root, checks, counter))
    return child


def _json_scalar_as_text(expr: str) -> str:
    return f"CASE WHEN json_type({expr}) = 'VARCHAR' THEN {expr} ->> '$' ELSE CAST({expr} AS VARCHAR) END"


SYSTEM_COLUMNS = frozenset(
    ("_seq", "_key", "_root_key", "_parent_key", "_pos", "_load_id", "_extracted_at")
    + ("_deleted", "_document", "_record_hash", "_value")
)


def _unique(name: str, taken: set[str]) -> str:
    """``name``, renamed if a system column or an earlier field already has it."""
    base = f"f{name}" if name in SYSTEM_COLUMNS else name
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = names.shorten(f"{base}_{n}"), n + 1
    taken.add(candidate)
    return candidate
