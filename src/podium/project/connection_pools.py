"""Quota-aware pools: every connection that is a source or a destination is also a pool.

A connection's API budget belongs to the account, not to one task, so podium gives each
source connection a pool named ``connection:<name>`` with ``concurrency`` slots (a setting
of the connection, default 1). Every ``extract`` task on that connection that names no pool
of its own takes a slot there, so a daily run, a backfill and a catch-up run never hit the
same account at once beyond its budget; a ``sync`` task writing to it takes the same pool.
Within one slot, the connection's rate limiter
paces requests (``connectors.ratelimit.shared_limiter``): under a store, the account's rate
budget there, shared by every process (``connectors.budgets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from podium.connectors.registry import is_source
from podium.core.workflow import Task, Workflow
from podium.kinds.base import LoadsConnection, SpendsConnection
from podium.kinds.registry import has_kind, kind_of
from podium.syncs.destination import is_destination

POOL_PREFIX = "connection:"
DEFAULT_CONCURRENCY = 1


def pool_name(connection: str) -> str:
    return POOL_PREFIX + connection


def connection_pools(connections: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """One pool per source connection, sized by its ``concurrency``."""
    pools = {}
    for name, settings in connections.items():
        if is_source(settings) or is_destination(settings):
            concurrency = settings.get("concurrency", DEFAULT_CONCURRENCY)
            valid = isinstance(concurrency, int) and not isinstance(concurrency, bool)
            pools[pool_name(name)] = concurrency if valid and concurrency >= 1 else 1
    return pools


def with_connection_pools(
    workflow: Workflow, pools: Mapping[str, int], syncs: Mapping[str, Any] | None = None
) -> Workflow:
    """``workflow`` with each pool-less task that loads a connection, or spends one (a
    sync: ``syncs`` says which it writes to), in that connection's pool."""
    chosen = {task.id: _connection_pool(task, pools, syncs or {}) for task in workflow.tasks}
    if not any(chosen.values()):
        return workflow
    tasks = tuple(
        replace(task, pool=chosen[task.id]) if chosen[task.id] else task for task in workflow.tasks
    )
    return replace(workflow, tasks=tasks)


def _connection_pool(task: Task, pools: Mapping[str, int], syncs: Mapping[str, Any]) -> str | None:
    if task.pool is not None or not has_kind(task.kind):
        return None
    kind = kind_of(task.kind)
    connection = kind.connection_of(task) if isinstance(kind, LoadsConnection) else None
    if isinstance(kind, SpendsConnection):
        connection = kind.connection_spent(task, syncs)
    name = pool_name(connection) if connection else None
    return name if name in pools else None
