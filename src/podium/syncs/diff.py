"""The SQL that diffs a sync's source against its state, inside the warehouse.

``diff_sql`` is one query text (no placeholders: values are literals) whose CTE ``diff``
holds one row per record to send: ``op`` (add, update, remove), ``record_key``, ``hash``
(of the mapped fields, and of the mapping itself, so a new mapping resends everything),
``retry`` (the destination rejected the last try), ``reason``, ``attempts``, ``remote_id``
(the destination's id, from the state), ``pending`` (an attempt sent it and died before
recording the answer) and the mapped values
``f0``, ``f1``, … in ``fields`` order. ``src`` is the source with keys and hashes; ``st``
the sync's state (empty when the table does not exist yet: planning writes nothing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from podium.connectors.normalize.names import literal, quote
from podium.syncs.state import has_state, state_table
from podium.transforms.warehouse_sql import WarehouseSql, qualified

_TABLE = re.compile(r"^([A-Za-z_]\w*)\.([A-Za-z_]\w*)$")
_EMPTY_STATE = (
    "SELECT CAST(NULL AS VARCHAR) AS record_key, CAST(NULL AS VARCHAR) AS hash,"
    " CAST(NULL AS VARCHAR) AS status, CAST(NULL AS VARCHAR) AS reason,"
    " CAST(NULL AS INTEGER) AS attempts, CAST(NULL AS VARCHAR) AS remote_id,"
    " CAST(NULL AS TIMESTAMP) AS sent_at WHERE 1 = 0"
)


class Mode(StrEnum):
    UPSERT = "upsert"  # adds and updates
    MIRROR = "mirror"  # adds, updates and removes
    INSERT = "insert"  # adds only


@dataclass(frozen=True)
class SyncSpec:
    """What to diff: ``source`` is a table (``schema.table``, a model) or a SELECT;
    ``fields`` maps each destination field to a source column."""

    name: str
    source: str
    key: str
    fields: Mapping[str, str]
    mode: Mode = Mode.UPSERT
    #: the destination's settings that shape what is sent (a list, tags, a namespace):
    #: part of every record's hash, so changing them resends every record
    salt: str = ""


def run_query(sql: WarehouseSql, text: str) -> list[tuple[Any, ...]]:
    """Runs ``text`` without parameters, so a source query's ``?`` and ``%`` stay as
    written (``LIKE '%vip%'``): PostgreSQL's driver reads ``%`` even then, so it is doubled."""
    return sql.query(text.replace("%", "%%") if sql.dialect == "postgres" else text)


def source_relation(sql: WarehouseSql, source: str) -> str:
    """``marts.vip`` → the prefixed table; anything else is a query, as a subquery."""
    match = _TABLE.match(source.strip())
    if match:
        return qualified(sql, match[1], match[2])
    return f"({source.strip().rstrip(';')})"


def _text(column: str) -> str:
    return f"CAST(s.{quote(column)} AS VARCHAR)"


def hash_expr(fields: Mapping[str, str], salt: str = "") -> str:
    """md5 over the mapping (and ``salt``) and each value, length-prefixed (NULL is
    ``~``): no two different records give the same text."""
    mapping = hashlib.sha256((repr(sorted(fields.items())) + salt).encode()).hexdigest()[:16]
    parts = [
        f"COALESCE(CAST(length({_text(c)}) AS VARCHAR) || ':' || {_text(c)}, '~')"
        for c in fields.values()
    ]
    return f"md5({' || '.join([literal(mapping), *parts])})"


def src_sql(sql: WarehouseSql, spec: SyncSpec) -> str:
    values = "".join(f", s.{quote(c)} AS f{i}" for i, c in enumerate(spec.fields.values()))
    return (
        f"SELECT CAST(s.{quote(spec.key)} AS VARCHAR) AS record_key,"
        f" {hash_expr(spec.fields, spec.salt)} AS hash{values}"
        f" FROM {source_relation(sql, spec.source)} AS s"
    )


def diff_sql(sql: WarehouseSql, spec: SyncSpec) -> str:
    """``WITH src, st, diff``: follow it with a SELECT over them."""
    state = (
        "SELECT record_key, hash, status, reason, attempts, remote_id, sent_at"
        f" FROM {state_table(sql)}"
        f" WHERE sync = {literal(spec.name)}"
        if has_state(sql)
        else _EMPTY_STATE
    )
    n = len(spec.fields)
    src_values = "".join(f", src.f{i}" for i in range(n))
    changed = "st.hash IS NULL"  # never landed (new, its add rejected or not answered)
    if spec.mode is not Mode.INSERT:
        changed = (
            "(st.hash IS NULL OR st.status = 'rejected' OR st.sent_at IS NOT NULL"
            " OR st.hash <> src.hash)"
        )
    diff = (
        "SELECT CASE WHEN st.hash IS NULL THEN 'add' ELSE 'update' END AS op,"
        " src.record_key, src.hash, COALESCE(st.status = 'rejected', false) AS retry,"
        f" st.reason, st.attempts, st.remote_id,"
        f" st.sent_at IS NOT NULL AS pending{src_values}"
        " FROM src LEFT JOIN st ON st.record_key = src.record_key"
        f" WHERE src.record_key IS NOT NULL AND {changed}"
    )
    if spec.mode is Mode.MIRROR:
        nulls = "".join(f", NULL AS f{i}" for i in range(n))
        diff += (
            " UNION ALL SELECT 'remove', st.record_key, st.hash, st.status = 'rejected',"
            " st.reason, st.attempts, st.remote_id, st.sent_at IS NOT NULL"
            f"{nulls} FROM st WHERE st.hash IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM src WHERE src.record_key = st.record_key)"
        )
    return f"WITH src AS ({src_sql(sql, spec)}), st AS ({state}), diff AS ({diff}) "
