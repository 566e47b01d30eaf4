"""Graph questions about a workflow's tasks: order, cycles, what lies downstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle as ``[a, b, …, a]`` following depends_on edges, or None. Iterative DFS."""
    state: dict[str, int] = {}
    kids: dict[str, list[str]] = {}  # known children, computed once per node
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
                kids[node] = [c for c in edges.get(node, ()) if c in edges]
            children = kids[node]
            if index < len(children):
                stack.append((node, index + 1))
                child = children[index]
                if state.get(child) == 1:
                    return path[path.index(child) :] + [child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def topological_order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Nodes with every dependency before its dependants (Kahn); assumes no cycle."""
    waiting = {node: len([d for d in deps if d in edges]) for node, deps in edges.items()}
    children = dependants(edges)
    ready = [node for node, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in children.get(node, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return order


def dependants(edges: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """For each node, the nodes that depend on it directly."""
    children: dict[str, list[str]] = {node: [] for node in edges}
    for node, deps in edges.items():
        for dep in deps:
            children.setdefault(dep, []).append(node)
    return children


def downstream(edges: Mapping[str, Sequence[str]], roots: Iterable[str]) -> set[str]:
    """Every node reachable from ``roots`` along dependant edges, roots excluded."""
    children = dependants(edges)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen - set(roots)
