"""The ``warehouse:`` section of podium.yaml, and the destination it names.

warehouse:                            # the default: DuckDB in the project
  type: duckdb
  path: .podium/warehouse.duckdb
warehouse:
  type: postgres
  url: postgresql://user@host:5432/db
  schema_prefix: ""                   # prepended to every schema podium creates
  pii_key: ${PODIUM_PII_KEY}          # either type: the key models hash emails/phones with

Other types come from plugins, by entry point ``podium.warehouses`` (its name is the
``type:``): an object that satisfies ``WarehousePlugin``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from podium.plugins import Plugins, load_plugins
from podium.settings.describe import Option, Settings

if TYPE_CHECKING:  # the destinations import DuckDB: only when a load opens one
    from podium.connectors.destinations.base import Destination

DEFAULT_PATH = ".podium/warehouse.duckdb"
_PII_KEY = Option(
    "pii_key",
    {"type": "string"},
    "the key models hash emails and phones with (a secret; never change it)",
)
SETTINGS = {
    "duckdb": Settings(
        (
            Option("type", {"const": "duckdb"}, "DuckDB in a file (the default)"),
            Option("path", {"type": "string"}, f"the file, relative to the project ({DEFAULT_PATH})"),
            _PII_KEY,
        ),
        doc="A DuckDB warehouse in a file.",
    ),
    "postgres": Settings(
        (
            Option("type", {"const": "postgres"}, "PostgreSQL", required=True),
            Option("url", {"type": "string", "pattern": "^postgres(ql)?://"},
                   "postgresql://USER@HOST:5432/DB", required=True),
            Option("schema_prefix", {"type": "string"}, "prepended to every schema podium creates"),
            _PII_KEY,
        ),
        doc="A PostgreSQL warehouse.",
    ),
}  # fmt: skip
KEYS = {kind: settings.names for kind, settings in SETTINGS.items()}
GROUP = "podium.warehouses"


class WarehousePlugin(Protocol):
    """A warehouse type a plugin adds. Each method receives the ``warehouse:`` settings
    without ``type`` (``pii_key``, when set, is the plugin's to honour); an optional
    ``settings`` attribute (``podium.settings.describe.Settings``) describes them."""

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        """What is wrong with the settings, each problem starting with its key."""
        ...

    def open_destination(self, settings: Mapping[str, Any], root: Path) -> Destination:
        """Where extract loads go (``podium.connectors.destinations.base.Destination``)."""
        ...

    def open_sql(self, settings: Mapping[str, Any], root: Path) -> AbstractContextManager[Any]:
        """The warehouse open for SQL models and checks: a context manager yielding a
        ``podium.transforms.warehouse_sql.WarehouseSql`` whose ``dialect`` is ``duckdb`` or
        ``postgres`` (the SQL podium writes for it)."""
        ...


def warehouse_plugin(settings: Mapping[str, Any]) -> WarehousePlugin | None:
    """The plugin whose warehouse ``type:`` the settings name, or None (a built-in one)."""
    kind = settings.get("type", "duckdb")
    found: WarehousePlugin | None = installed().found.get(kind) if isinstance(kind, str) else None
    return found


def plugin_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a plugin warehouse reads: the settings without ``type``."""
    return {k: v for k, v in settings.items() if k != "type"}


def installed() -> Plugins:
    """The plugins installed for this group: found, broken and refused."""
    return load_plugins(
        GROUP, tuple(KEYS), "warehouse type", ("problems", "open_destination", "open_sql")
    )


def warehouse_problems(settings: Mapping[str, Any]) -> list[str]:
    kind = settings.get("type", "duckdb")
    broken = installed().problem(kind) if isinstance(kind, str) else None
    if broken:
        return [f"type: {broken}"]
    plugin = warehouse_plugin(settings)
    if plugin is not None:
        return list(plugin.problems(plugin_settings(settings)))
    if not isinstance(kind, str) or kind not in KEYS:
        known = ", ".join([*KEYS, *sorted(installed().found)])
        return [f"type: expected one of {known}, got {kind!r}"]
    problems = [
        f"{key}: unknown setting for a {kind} warehouse; expected {', '.join(KEYS[kind])}"
        for key in settings
        if key not in KEYS[kind]
    ]
    if not isinstance(settings.get("pii_key", ""), str):
        problems.append("pii_key: expected text, a secret such as ${PODIUM_PII_KEY}")
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
    plugin = warehouse_plugin(settings)
    if plugin is not None:
        return plugin.open_destination(plugin_settings(settings), root)
    if settings.get("type", "duckdb") == "postgres":
        from podium.connectors.destinations.postgres import PostgresDestination

        return PostgresDestination(
            str(settings["url"]), schema_prefix=str(settings.get("schema_prefix", ""))
        )
    from podium.connectors.destinations.duckdb import DuckDBDestination

    path = Path(str(settings.get("path", DEFAULT_PATH)))
    return DuckDBDestination(path if path.is_absolute() else root / path)
