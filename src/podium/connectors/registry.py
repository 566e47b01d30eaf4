"""Which source types exist, how their settings are checked, and how a source is opened.

A connection in podium.yaml names its ``type``; the entry here checks its settings (each
problem starts with the key path, reported at the connection's line by ``podium validate``)
and opens it. Settings every connection shares are taken off first:

    dataset: raw_shop      the warehouse schema its tables go to (default ``raw_<name>``)
    concurrency: 2         extract tasks on it at once (default 1): the slots of its pool
                           ``connection:<name>`` (see ``project.connection_pools``)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.connectors.normalize.names import identifier
from podium.connectors.source import Source
from podium.errors import UsageError
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


@dataclass(frozen=True)
class SourceType:
    module: str
    problems: str  # function name: settings → list of problems
    open: str  # function name: (name, settings, root=, secrets=, logger=) → Source
    described: str = ""  # the module whose SETTINGS describe them (default: module.config)

    def function(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module(self.module), name)  # type: ignore[no-any-return]

    def settings(self) -> Settings:
        """Its settings, described beside the function that checks them."""
        module = importlib.import_module(self.described or f"{self.module}.config")
        described: Settings = module.SETTINGS
        return described


SOURCE_TYPES: dict[str, SourceType] = {
    "rest": SourceType(
        "podium.connectors.sources.rest",
        "rest_problems",
        "open_rest_source",
        "podium.connectors.sources.rest_config",
    ),
    "files": SourceType(
        "podium.connectors.sources.files",
        "files_problems",
        "open_files_source",
        "podium.connectors.sources.files",
    ),
    **{
        kind: SourceType(
            f"podium.connectors.sources.{kind}", f"{kind}_problems", f"open_{kind}_source"
        )
        for kind in ("shopify", "amazon", "netsuite", "klaviyo")
    },
}


def source_type_names() -> list[str]:
    """The source types a connection's ``type:`` may name."""
    return list(SOURCE_TYPES)


def connection_problems(settings: Mapping[str, Any]) -> list[str]:
    kind = settings.get("type")
    if kind not in SOURCE_TYPES:
        known = ", ".join(SOURCE_TYPES)
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
    return problems + list(
        SOURCE_TYPES[kind].function(SOURCE_TYPES[kind].problems)(own_settings(settings))
    )


def is_source(settings: Mapping[str, Any]) -> bool:
    return settings.get("type") in SOURCE_TYPES


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
    kind = SOURCE_TYPES[settings["type"]]
    opener = kind.function(kind.open)
    source: Source = opener(name, own_settings(settings), root=root, secrets=secrets, logger=logger)
    return source
