"""``from: trigger``: a sync whose records come from the run's trigger payload.

The payload (a webhook delivery, an event) is not in the warehouse, yet the diff against
what landed before is. So the records are staged there first, in
``_podium.sync_input`` (one row per record of this run: its key and each field's value as
JSON text), and the sync reads them back as a query: the same plan, state and batches as
any sync. Redeliveries of the same order start new runs whose records are already in the
state with the same hash, so nothing is sent twice. The writer sees each value decoded
from its JSON text (``JsonValues``), so numbers stay numbers and a list of line items
stays a list.

A field's path may project a list: ``line_items[].{reference_id: sku, quantity: quantity}``
is the list at ``line_items`` with each item reshaped (a Shopify order's lines as a 3PL's
products); ``line_items[].sku`` is the list of one value per item.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from podium.connectors.destinations.base import BOOKKEEPING
from podium.connectors.normalize.names import literal
from podium.errors import TerminalTaskError
from podium.syncs.config import SyncConfig
from podium.syncs.destination import Writer
from podium.syncs.diff import SyncSpec
from podium.syncs.paths import MISSING, at, value_at
from podium.syncs.plan import Change
from podium.syncs.state import Outcome
from podium.transforms.warehouse_sql import WarehouseSql, qualified

TABLE = "sync_input"


def input_table(sql: WarehouseSql) -> str:
    return qualified(sql, BOOKKEEPING, TABLE)


def records_of(config: SyncConfig, payload: Any) -> list[tuple[str | None, list[str | None]]]:
    """The trigger's records: (key, [each field's value as JSON text]) per record."""
    items = at(payload, config.trigger_path) if config.trigger_path else payload
    if items is MISSING:
        raise TerminalTaskError(
            f"sync {config.name}: the trigger has no {config.trigger_path!r}; from: {config.source}"
            " names a path that this run's payload lacks"
        )
    rows = items if isinstance(items, list) else [items]
    found = []
    for row in rows:
        key = at(row, config.key)
        values = []
        for path in config.fields.values():
            value = value_at(row, path)
            values.append(None if value is MISSING or value is None else json.dumps(value))
        text = None if key is MISSING or key is None else str(key)
        found.append((text, values))
    return found


def stage(sql: WarehouseSql, config: SyncConfig, run_id: str, payload: Any) -> SyncSpec:
    """Writes this run's records to ``_podium.sync_input`` (replacing an earlier attempt's)
    and returns the spec that syncs them."""
    records = records_of(config, payload)
    n = len(config.fields)
    table = input_table(sql)
    sql.ensure_schema(
        BOOKKEEPING,
        ddl=[f"CREATE TABLE IF NOT EXISTS {table} (sync TEXT, run TEXT, record_key TEXT)"],
    )
    existing = {c[0].lower() for c in sql.columns(BOOKKEEPING, TABLE)}
    with sql.transaction():
        for i in range(n):
            if f"f{i}" not in existing:
                sql.execute(f"ALTER TABLE {table} ADD COLUMN f{i} TEXT")
        sql.execute(f"DELETE FROM {table} WHERE sync = ? AND run = ?", [config.name, run_id])
        marks = ", ".join("?" for _ in range(n + 3))
        for key, values in records:
            sql.execute(
                f"INSERT INTO {table} (sync, run, record_key{''.join(f', f{i}' for i in range(n))})"
                f" VALUES ({marks})",
                [config.name, run_id, key, *values],
            )
    query = (
        f"SELECT record_key{''.join(f', f{i}' for i in range(n))} FROM {table}"
        f" WHERE sync = {literal(config.name)} AND run = {literal(run_id)}"
    )
    fields = {target: f"f{i}" for i, target in enumerate(config.fields)}
    return config.spec(query, "record_key", fields)


def unstage(sql: WarehouseSql, config: SyncConfig, run_id: str) -> None:
    """Drops this run's staged records once the sync has run."""
    sql.execute(f"DELETE FROM {input_table(sql)} WHERE sync = ? AND run = ?", [config.name, run_id])


class JsonValues:
    """A writer that hands its inner writer each value decoded from its JSON text."""

    def __init__(self, inner: Writer) -> None:
        self.inner = inner
        self.batch_size = inner.batch_size

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        return self.inner.send([replace(c, values=_decoded(c.values)) for c in changes])

    def close(self) -> None:
        self.inner.close()


def _decoded(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: json.loads(v) if isinstance(v, str) else v for k, v in values.items()}
