"""Tasks that become several when the project loads (a ``transform`` task: one per model).

Each kind that ``Expands`` gets the workflow in turn, with what it may read: the models,
the checks, and which tasks load each warehouse dataset (from kinds that ``LoadsConnection``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podium.connectors.registry import dataset_for
from podium.core.workflow import Workflow
from podium.kinds.base import ExpandContext, Expands, LoadsConnection
from podium.kinds.registry import all_kinds, has_kind, kind_of


def expand_tasks(
    workflow: Workflow,
    models: Any,
    checks: tuple[Any, ...],
    connections: Mapping[str, Mapping[str, Any]],
    *,
    root: Path | None = None,
    warehouse: Mapping[str, Any] | None = None,
) -> Workflow:
    written = {task.kind for task in workflow.tasks}
    expanding = [k for k in all_kinds() if k.name in written and isinstance(k, Expands)]
    if not expanding:  # most workflows: no need to look for the tasks that load datasets
        return workflow
    datasets = datasets_loaded(workflow, connections)
    context = ExpandContext(models, checks, connections, datasets, root, warehouse or {})
    for kind in expanding:
        workflow = kind.expand(workflow, context)
    return workflow


def datasets_loaded(
    workflow: Workflow, connections: Mapping[str, Mapping[str, Any]]
) -> dict[str, frozenset[str]]:
    """Warehouse dataset → the ids of the workflow's tasks that load it."""
    found: dict[str, set[str]] = {}
    for task in workflow.tasks:
        kind = kind_of(task.kind) if has_kind(task.kind) else None
        if not isinstance(kind, LoadsConnection):
            continue
        connection = kind.connection_of(task)
        if connection is not None and connection in connections:
            found.setdefault(dataset_for(connection, connections[connection]), set()).add(task.id)
    return {dataset: frozenset(ids) for dataset, ids in found.items()}
