"""The extract service: one connection's streams, each loaded into the warehouse.

Used by the ``extract`` task kind and by ``podium extract``; both get the same results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.connectors.budgets import budgets_in
from podium.connectors.load import LoadJob, Progress, StreamResult, load_stream
from podium.connectors.registry import dataset_for, open_source
from podium.connectors.warehouse import open_destination
from podium.core.workflow import Project
from podium.errors import NotFoundError, UsageError, did_you_mean

LOADS_DIR = ".podium/loads"


def extract(
    project: Project,
    connection: str,
    *,
    streams: Sequence[str] | None = None,
    full_refresh: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_loaded: Callable[[StreamResult], None] | None = None,
    logger: logging.Logger | None = None,
) -> list[StreamResult]:
    """Loads ``streams`` (default: all) of ``connection``; one load per stream, in order."""
    settings = project.connections.get(connection)
    if settings is None:
        known = ", ".join(sorted(project.connections)) or "none are declared"
        hint = did_you_mean(connection, project.connections)
        raise NotFoundError(
            f"no connection {connection!r} in podium.yaml{hint} (connections: {known})"
        )
    plan = ExtractPlan(
        connection, settings, project.warehouse, project.root, project.secrets, project.store_url
    )
    return extract_plan(
        plan,
        streams=streams,
        full_refresh=full_refresh,
        on_progress=on_progress,
        on_loaded=on_loaded,
        logger=logger,
    )


@dataclass(frozen=True)
class ExtractPlan:
    """What loading one connection needs, resolved from the project once (picklable)."""

    connection: str
    settings: Mapping[str, Any]
    warehouse: Mapping[str, Any]
    root: str
    secrets: frozenset[str]
    store_url: str = ""  # the project's store: rate budgets are shared through it


def extract_plan(
    plan: ExtractPlan,
    *,
    streams: Sequence[str] | None = None,
    full_refresh: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_loaded: Callable[[StreamResult], None] | None = None,
    logger: logging.Logger | None = None,
) -> list[StreamResult]:
    """``extract`` with the connection's settings at hand (the extract task kind's way)."""
    connection, settings, root = plan.connection, plan.settings, Path(plan.root)
    with budgets_in(plan.store_url or None):  # one API budget with every process on it
        source = open_source(connection, settings, root=root, secrets=plan.secrets, logger=logger)
    destination = open_destination(plan.warehouse, root)
    try:
        chosen = _choose(connection, source.streams(), streams)
        results = []
        for stream in chosen:
            job = LoadJob(
                source,
                stream,
                destination,
                connection,
                dataset_for(connection, settings),
                root / LOADS_DIR,
                full_refresh=full_refresh,
                on_progress=on_progress,
            )
            result = load_stream(job)
            if on_loaded is not None:
                on_loaded(result)
            results.append(result)
        return results
    finally:
        source.close()
        destination.close()


def task_output(results: Sequence[StreamResult]) -> dict[str, Any]:
    """What an extract task returns: per-stream figures and the assets it updated."""
    assets: dict[str, Any] = {}
    for result in results:
        assets.update(result.assets)
    return {"streams": [r.to_json() for r in results], "assets": assets}


def _choose(connection: str, available: Sequence[Any], wanted: Sequence[str] | None) -> list[Any]:
    by_name = {s.name: s for s in available}
    if not wanted:
        return list(available)
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise UsageError(
            f"connection {connection!r} has no stream {unknown[0]!r}"
            f"{did_you_mean(unknown[0], by_name)}; "
            f"its streams: {', '.join(by_name) or 'none'}"
        )
    return [by_name[w] for w in wanted]
