"""The ``warehouse:`` section of podium.yaml, and the destination it names.

warehouse:                            # the default: DuckDB in the project
  type: duckdb
  path: .podium/warehouse.duckdb
warehouse:
  type: postgres
  url: postgresql://user@host:5432/db
  schema_prefix: ""                   # prepended to every schema podium creates
  pii_key: ${PODIUM_PII_KEY}          # either type: the key models hash emails/phones with
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podium.connectors.destinations.base import Destination

DEFAULT_PATH = ".podium/warehouse.duckdb"
KEYS = {
    "duckdb": ("type", "path", "pii_key"),
    "postgres": ("type", "url", "schema_prefix", "pii_key"),
}


def warehouse_problems(settings: Mapping[str, Any]) -> list[str]:
    kind = settings.get("type", "duckdb")
    if kind not in KEYS:
        return [f"type: expected duckdb or postgres, got {kind!r}"]
    problems = [
        f"{key}: unknown setting for a {kind} warehouse; expected {', '.join(KEYS[kind])}"
        for key in settings
        if key not in KEYS[kind]
    ]
    if kind == "postgres":
        url = settings.get("url")
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            problems.append("url: expected postgresql://USER@HOST:5432/DB")
        prefix = settings.get("schema_prefix", "")
        if not isinstance(prefix, str):
            problems.append("schema_prefix: expected text")
    elif not isinstance(settings.get("path", DEFAULT_PATH), str):
        problems.append("path: expected a file path")
    return problems


def open_destination(settings: Mapping[str, Any], root: Path) -> Destination:
    if settings.get("type", "duckdb") == "postgres":
        from podium.connectors.destinations.postgres import PostgresDestination

        return PostgresDestination(
            str(settings["url"]), schema_prefix=str(settings.get("schema_prefix", ""))
        )
    from podium.connectors.destinations.duckdb import DuckDBDestination

    path = Path(str(settings.get("path", DEFAULT_PATH)))
    return DuckDBDestination(path if path.is_absolute() else root / path)
