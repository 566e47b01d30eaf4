"""The extract service: one connection's streams, each loaded into the warehouse.

Used by the ``extract`` task kind and by ``podium extract``; both get the same results.
Streams load one after another, or ``parallel_streams`` at a time where the source says
its streams do not share a budget (an optional attribute of the source: Klaviyo counts
each endpoint's requests apart, so its profiles and events go at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.connectors.budgets import budgets_in
from podium.connectors.load import LoadJob, Progress, StreamResult, load_stream
from podium.connectors.registry import dataset_for, open_source
from podium.connectors.source import Stream
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

        def load(stream: Stream) -> StreamResult:
            return load_stream(
                LoadJob(
                    source,
                    stream,
                    destination,
                    connection,
                    dataset_for(connection, settings),
                    root / LOADS_DIR,
                    full_refresh=full_refresh,
                    on_progress=on_progress,
                )
            )

        parallel = min(len(chosen), max(1, int(getattr(source, "parallel_streams", 1))))
        if parallel == 1:
            results = []
            for stream in chosen:
                results.append(load(stream))
                if on_loaded is not None:
                    on_loaded(results[-1])
            return results
        return _in_parallel(chosen, load, parallel, on_loaded, connection)
    finally:
        source.close()
        destination.close()


def _in_parallel(
    chosen: Sequence[Stream],
    load: Callable[[Stream], StreamResult],
    parallel: int,
    on_loaded: Callable[[StreamResult], None] | None,
    connection: str,
) -> list[StreamResult]:
    """Loads ``chosen`` streams ``parallel`` at a time (a source whose streams have budgets
    of their own, Klaviyo's endpoints); ``on_loaded`` as each ends, on this thread. A
    stream that fails lets the others finish; then the first failure (in stream order)
    is raised."""
    with ThreadPoolExecutor(parallel, thread_name_prefix=f"podium-extract-{connection}") as pool:
        futures = {pool.submit(load, stream): n for n, stream in enumerate(chosen)}
        results: list[StreamResult | None] = [None] * len(chosen)
        failures: dict[int, BaseException] = {}
        for future in as_completed(futures):
            n = futures[future]
            try:
                result = results[n] = future.result()
            except BaseException as exc:  # noqa: BLE001 - raised below, after the others
                failures[n] = exc
                continue
            if on_loaded is not None:
                on_loaded(result)
    if failures:
        raise failures[min(failures)]
    return [r for r in results if r is not None]


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
