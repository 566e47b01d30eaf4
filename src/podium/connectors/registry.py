"""Which source types exist, how their settings are checked, and how a source is opened.

A connection in podium.yaml names its ``type``: one of podium's own (``BUILT_IN``) or one
a plugin adds by entry point ``podium.sources`` (``SourcePlugin``). The type checks its
settings (each problem starts with the key path, reported at its line by ``podium
validate``) and opens the source. Settings every connection shares are taken off first:

    dataset: raw_shop      the warehouse schema its tables go to (default ``raw_<name>``)
    concurrency: 2         extract tasks on it at once (default 1): the slots of its pool
                           ``connection:<name>`` (see ``project.connection_pools``)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from podium.connectors.normalize.names import identifier
from podium.connectors.source import Source
from podium.errors import UsageError
from podium.plugins import Plugins, load_plugins
from podium.settings.describe import Option, Settings

COMMON = Settings(
    (
        Option("dataset", {"type": "string", "minLength": 1},
               "the warehouse schema its tables go to (default raw_<name>)"),
        Option("concurrency", {"type": "integer", "minimum": 1},
               "extract tasks on it at once (default 1): the slots of its pool connection:<name>"),
        Option("webhooks", {"type": "object"},
               "how its webhook deliveries are verified (see podium.webhooks.settings)"),
    ),
    doc="The settings every source connection shares.",
)  # fmt: skip
COMMON_KEYS = COMMON.names


class SourcePlugin(Protocol):
    """A source type a plugin adds by entry point ``podium.sources`` (its name is the
    connection's ``type:``). Both methods receive the connection's own settings: those
    every connection shares (``dataset``, ``concurrency``, ``webhooks``) and ``type`` are
    taken off first. An optional ``settings`` attribute (``podium.settings.describe.Settings``)
    describes them; ``Settings.problems`` checks a mapping against it."""

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        """What is wrong with the settings, each problem starting with its key path
        (``streams.orders.cursor: …``) so that ``podium validate`` shows it at its line."""
        ...

    def open(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        root: Path,
        secrets: frozenset[str],
        logger: Any = None,
    ) -> Source:
        """The source of connection ``name`` (``root``: the project folder; ``secrets``:
        values never to show; ``logger``: the task's)."""
        ...


@dataclass(frozen=True)
class BuiltInSource:
    """One of podium's own source types: functions in its module, imported when used."""

    module: str
    check: str  # function name: settings → list of problems
    opener: str  # function name: (name, settings, root=, secrets=, logger=) → Source
    described: str = ""  # the module whose SETTINGS describe them (default: module.config)

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        return list(self._function(self.check)(settings))

    def open(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        root: Path,
        secrets: frozenset[str],
        logger: Any = None,
    ) -> Source:
        source: Source = self._function(self.opener)(
            name, settings, root=root, secrets=secrets, logger=logger
        )
        return source

    def _function(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module(self.module), name)  # type: ignore[no-any-return]

    @property
    def settings(self) -> Settings:
        """Its settings, described beside the function that checks them."""
        module = importlib.import_module(self.described or f"{self.module}.config")
        described: Settings = module.SETTINGS
        return described


BUILT_IN: dict[str, BuiltInSource] = {
    "rest": BuiltInSource(
        "podium.connectors.sources.rest",
        "rest_problems",
        "open_rest_source",
        "podium.connectors.sources.rest_config",
    ),
    "files": BuiltInSource(
        "podium.connectors.sources.files",
        "files_problems",
        "open_files_source",
        "podium.connectors.sources.files",
    ),
    **{
        kind: BuiltInSource(
            f"podium.connectors.sources.{kind}", f"{kind}_problems", f"open_{kind}_source"
        )
        for kind in ("shopify", "amazon", "netsuite", "klaviyo")
    },
}
GROUP = "podium.sources"


def installed() -> Plugins:
    """The plugins installed for this group: found, broken and refused."""
    return load_plugins(GROUP, tuple(BUILT_IN), "source type", ("problems", "open"))


def source_type(kind: str) -> SourcePlugin | None:
    """The source type a connection's ``type:`` names: podium's own or a plugin's."""
    return BUILT_IN.get(kind) or installed().found.get(kind)


def source_type_names() -> list[str]:
    """The source types a connection's ``type:`` may name."""
    return [*BUILT_IN, *sorted(installed().found)]


def plugin_problems() -> dict[str, str]:
    """Source type → why its plugin cannot be used (or does not replace podium's own)."""
    return {**installed().broken, **installed().refused}


def connection_problems(settings: Mapping[str, Any]) -> list[str]:
    kind = settings.get("type")
    broken = installed().problem(kind) if isinstance(kind, str) else None
    if broken:
        return [f"type: {broken}"]
    found = source_type(kind) if isinstance(kind, str) else None
    if found is None:
        known = ", ".join(source_type_names())
        return [
            f"type: expected one of {known}, got {kind!r}" if kind else f"type: required ({known})"
        ]
    dataset = settings.get("dataset")
    problems = (
        []
        if dataset is None or isinstance(dataset, str) and dataset
        else ["dataset: expected a schema name"]
    )
    concurrency = settings.get("concurrency", 1)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        problems.append(f"concurrency: expected a whole number of at least 1, got {concurrency!r}")
    return problems + list(found.problems(_settings_for(str(kind), settings)))


def is_source(settings: Mapping[str, Any]) -> bool:
    """Whether the connection is one ``extract`` reads: its ``type:`` is a source type,
    podium's or a plugin's (one that failed to load too: validate says why)."""
    kind = settings.get("type")
    return isinstance(kind, str) and (
        source_type(kind) is not None or installed().problem(kind) is not None
    )


def own_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in COMMON_KEYS}


def stream_names(settings: Mapping[str, Any]) -> list[str] | None:
    """The streams a connection declares, or None when its type decides them."""
    streams = settings.get("streams")
    return [str(s) for s in streams] if isinstance(streams, Mapping) else None


def dataset_for(name: str, settings: Mapping[str, Any]) -> str:
    dataset = settings.get("dataset")
    return (
        identifier(dataset) if isinstance(dataset, str) and dataset else f"raw_{identifier(name)}"
    )


def open_source(
    name: str,
    settings: Mapping[str, Any],
    *,
    root: Path,
    secrets: frozenset[str],
    logger: Any = None,
) -> Source:
    problems = connection_problems(settings)
    if problems:
        raise UsageError(f"connection {name!r}: " + "; ".join(problems))
    kind = settings["type"]
    found = source_type(kind)
    assert found is not None  # connection_problems said so otherwise
    return found.open(
        name, _settings_for(kind, settings), root=root, secrets=secrets, logger=logger
    )


def _settings_for(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a source type reads: its own settings (a plugin's without ``type`` either)."""
    own = own_settings(settings)
    if kind not in BUILT_IN:
        own.pop("type", None)
    return own
