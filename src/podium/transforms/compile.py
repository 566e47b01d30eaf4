"""A model's SELECT as a warehouse runs it: DuckDB's dialect as written, or PostgreSQL's.

Models are written once, in DuckDB's dialect. For PostgreSQL the query is transpiled with
sqlglot, refusing anything sqlglot cannot express there (instead of emitting SQL that fails
later or, worse, means something else), and every schema is given the warehouse's
``schema_prefix`` (``raw_shop.orders`` → ``t1_raw_shop.orders``).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError, UnsupportedError

from podium.connectors.destinations.base import BOOKKEEPING
from podium.errors import UsageError, first_line
from podium.transforms import pii
from podium.transforms.models import DIALECT, Model

DIALECTS = ("duckdb", "postgres")


class CompileError(UsageError):
    """A model cannot be written in a warehouse's dialect; the message says which and why."""


def compile_model(model: Model, dialect: str = DIALECT, *, schema_prefix: str = "") -> str:
    """The model's SELECT in ``dialect``; ``CompileError`` naming the model if impossible."""
    if dialect not in DIALECTS:
        raise UsageError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    try:
        tree = sqlglot.parse_one(model.sql, read=DIALECT)
        if schema_prefix:  # unqualified tables are left to the warehouse's search path
            for table in tree.find_all(exp.Table):
                if table.db:
                    table.set("db", exp.to_identifier(schema_prefix + table.db))
        if dialect == DIALECT:
            return tree.sql(dialect=DIALECT, pretty=True)
        _qualify_pii(tree, schema_prefix)
        gap = postgres_gap(tree)
        if gap is not None:
            raise UnsupportedError(gap)
        return tree.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise CompileError(
            f"model {model.name} ({model.path}) cannot be written for {dialect}: "
            f"{first_line(exc)}; rewrite that part with SQL both warehouses share"
        ) from None
    except SqlglotError as exc:
        raise CompileError(
            f"model {model.name} ({model.path}) cannot be compiled: {first_line(exc)}"
        ) from None


def uses_pii(model: Model) -> bool:
    """Whether the model calls ``pii_email``/``pii_phone`` (see ``pii.py``)."""
    try:
        tree = sqlglot.parse_one(model.sql, read=DIALECT)
    except SqlglotError:
        return False
    return any(f.name.lower() in pii.FUNCTIONS for f in tree.find_all(exp.Anonymous))


def _qualify_pii(tree: exp.Expr, schema_prefix: str) -> None:
    """On PostgreSQL the PII functions live in podium's bookkeeping schema."""
    schema = exp.to_identifier(schema_prefix + BOOKKEEPING, quoted=True)
    for function in list(tree.find_all(exp.Anonymous)):
        if function.name.lower() in pii.FUNCTIONS:
            function.replace(exp.Dot(this=schema.copy(), expression=function.copy()))


def postgres_gap(tree: exp.Expr) -> str | None:
    """What in a DuckDB query has no PostgreSQL form that sqlglot writes correctly (it
    emits these as they are, and PostgreSQL would reject or misread them), or None."""
    for star in tree.find_all(exp.Star):
        if star.args.get("except_") or star.args.get("replace") or star.args.get("rename"):
            return "SELECT * EXCLUDE/REPLACE/RENAME; list the columns instead"
    if any(group.args.get("all") for group in tree.find_all(exp.Group)):
        return "GROUP BY ALL; list the grouping columns"
    if any(True for _ in tree.find_all(exp.Lambda)):
        return "a lambda (list_transform, list_filter, …)"
    if any(True for _ in tree.find_all(exp.Struct)):
        return "a struct value ({'a': 1}, struct_pack)"
    for join in tree.find_all(exp.Join):
        if "ASOF" in join.sql(dialect="duckdb").upper().split(" JOIN")[0]:
            return "an ASOF join"
    return None
