"""A ``dbt`` task becomes one task per dbt node it selects (model, seed, snapshot).

For a dbt task ``dbt`` selecting ``+marts``::

    dbt.stg_shop_orders   depends on the extract tasks that load the connection its
                          sources name (source ``shop`` → connection ``shop``, or
                          ``meta: {podium: {connection: x}}``), and on the dbt task's other
                          dependencies if it reads no selected node
    dbt.orders            depends on dbt.stg_shop_orders … (dbt's own ``ref``\\ s)

A dbt test runs in the task of the node it tests (dbt's ``attached_node``, or the one
node it reads); a test that reads other nodes too makes that task depend on theirs, as a
podium model's checks do. Tasks that depended on the dbt task depend on all its node
tasks; node tasks keep the dbt task's settings (retries, pool, timeout…) and carry, in
their options, what their kind needs to run them (``unique_id``, the dbt task's id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from podium.core.workflow import Task, Workflow
from podium.transforms.tasks import expanded_deps

#: a dbt task → its graph (``podium.transforms.dbt.project.graph``) and the connection
#: each source reads
GraphOf = Callable[[Task], tuple[Mapping[str, Any], Mapping[str, Mapping[str, str]]]]


def expand_dbt(
    workflow: Workflow,
    *,
    kind: str,
    node_kind: str,
    graph_of: GraphOf,
    loaders: Mapping[str, frozenset[str]],
) -> Workflow:
    """``workflow`` with each task of ``kind`` replaced by its ``node_kind`` tasks;
    ``loaders`` maps each connection to the tasks that load it."""
    if not any(task.kind == kind for task in workflow.tasks):
        return workflow
    loading = {tid for ids in loaders.values() for tid in ids}
    replaced: dict[str, tuple[str, ...]] = {}
    made: set[str] = set()
    tasks: list[Task] = []
    for task in workflow.tasks:
        if task.kind != kind:
            tasks.append(task)
            continue
        graph, sources = graph_of(task)
        ids = node_ids(task.id, graph)
        replaced[task.id] = tuple(ids.values())
        made.update(ids.values())
        parents = tested_parents(graph)
        for uid, tid in ids.items():
            node = graph["nodes"][uid]
            upstream = [ids[p] for p in [*node["parents"], *parents.get(uid, ())] if p in ids]
            connections = {sources[s]["connection"] for s in node["sources"] if s in sources}
            extracts = sorted({t for c in connections for t in loaders.get(c, ())})
            inherited = [d for d in task.depends_on if d not in loading and not upstream]
            tasks.append(
                replace(
                    task,
                    id=tid,
                    kind=node_kind,
                    target=uid,
                    depends_on=tuple(dict.fromkeys([*upstream, *extracts, *inherited])),
                    produces=(node["relation"],),
                    options={
                        **task.options,
                        "unique_id": uid,
                        "dbt_task": task.id,
                        "project": task.target,
                    },
                )
            )
    tasks = [
        replace(t, depends_on=expanded_deps(t.depends_on, replaced)) if t.id not in made else t
        for t in tasks
    ]
    return replace(workflow, tasks=tuple(tasks))


def node_ids(task_id: str, graph: Mapping[str, Any]) -> dict[str, str]:
    """Selected node → its task id: ``<dbt task>.<node name>``, or with the node's type
    when two selected nodes share a name (a seed and a model)."""
    chosen = [uid for uid in graph["selected"] if uid in graph["nodes"]]
    names = [graph["nodes"][uid]["name"] for uid in chosen]
    ids = {}
    for uid in chosen:
        node = graph["nodes"][uid]
        name = node["name"] if names.count(node["name"]) == 1 else f"{node['type']}_{node['name']}"
        ids[uid] = f"{task_id}.{name}"
    return ids


def tests_of(graph: Mapping[str, Any], chosen: set[str]) -> dict[str, list[str]]:
    """Selected node → the tests that run in its task. Tests dbt attaches to a node come
    first; a test it does not attach then goes where the waits already chosen make no
    cycle (a test reading ``orders`` and ``refunds`` runs in ``refunds``' task when a
    ``relationships`` test already makes that one wait for ``orders``)."""
    found: dict[str, list[str]] = {}
    waits: dict[str, set[str]] = {}  # node → the other nodes its tests read
    ordered = sorted(
        graph["tests"].items(), key=lambda item: (not item[1].get("attached"), item[0])
    )
    for uid, test in ordered:
        home = test_home(graph, test, chosen, waits)
        if home is not None:
            found.setdefault(home, []).append(uid)
            others = {p for p in test["parents"] if p != home and p in chosen}
            waits.setdefault(home, set()).update(others)
    return {home: sorted(tests) for home, tests in found.items()}


def test_home(
    graph: Mapping[str, Any],
    test: Mapping[str, Any],
    chosen: set[str],
    waits: Mapping[str, set[str]] | None = None,
) -> str | None:
    """The node whose task runs ``test``: dbt's attached node where that makes no cycle,
    else the one it reads that no other node it reads depends on (through dbt's parents and ``waits``, the nodes
    other tests already make a node wait for); None unless every node it reads is
    selected (as dbt's ``cautious`` indirect selection)."""
    reads = [p for p in test["parents"] if p in graph["nodes"]]
    if not reads or any(p not in chosen for p in reads):
        return None
    attached = test.get("attached")
    if attached and attached not in chosen:
        return None
    if attached and not any(
        attached in _ancestors(graph, p, waits or {}) for p in reads if p != attached
    ):  # its own node, unless another it reads already waits for that one: a cycle
        return str(attached)
    ancestors = {a for p in reads for a in _ancestors(graph, p, waits or {})}
    sinks = sorted(p for p in reads if p not in ancestors)
    return sinks[0] if sinks else None


def tested_parents(graph: Mapping[str, Any]) -> dict[str, list[str]]:
    """Node → the other nodes its tests read (its task waits for theirs)."""
    chosen = {uid for uid in graph["selected"] if uid in graph["nodes"]}
    found: dict[str, list[str]] = {}
    for home, tests in tests_of(graph, chosen).items():
        for test in tests:
            others = [p for p in graph["tests"][test]["parents"] if p != home and p in chosen]
            found.setdefault(home, []).extend(others)
    return found


def _ancestors(graph: Mapping[str, Any], uid: str, waits: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [*graph["nodes"].get(uid, {}).get("parents", ()), *waits.get(uid, ())]
    while stack:
        p = stack.pop()
        if p not in seen and p in graph["nodes"]:
            seen.add(p)
            stack.extend([*graph["nodes"][p]["parents"], *waits.get(p, ())])
    return seen
