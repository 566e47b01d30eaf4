"""A workflow's DAG laid out for an SVG drawing: layered, left to right.

Each task goes in the column of its longest path from a task without dependencies; rows
inside a column are ordered by a few barycentre sweeps (each task moves towards the mean
row of its neighbours), which removes most edge crossings in the graphs people write. Pure:
the template draws the result, so every label passes Jinja's escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podium.core.graph import dependants, topological_order

NODE_W = 188
NODE_H = 40
GAP_X = 56
GAP_Y = 18
PAD = 12
SWEEPS = 4
#: beyond this many tasks the page lists tasks instead of drawing an unreadable picture
MAX_DRAWN = 400
LABEL_CHARS = 24


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # the id, shortened to fit the box (the full id is the node's tooltip)
    x: int
    y: int
    status: str  # the task's state in the run shown, "" when it has none there
    late: bool = False
    incomplete: bool = False
    href: str = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # an SVG path ("M x y C …")
    late: bool = False  # the upstream ran late: its dependant used what was fresh


@dataclass(frozen=True)
class Drawing:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int
    node_w: int = NODE_W
    node_h: int = NODE_H


@dataclass(frozen=True)
class TaskMark:
    """What the run being shown says about one task."""

    status: str = ""
    late: bool = False
    incomplete: bool = False
    href: str = ""


def layers_of(edges: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each node's column: 0 without dependencies, else one more than its deepest one."""
    layer: dict[str, int] = {}
    for node in topological_order(edges):
        deps = [layer[d] for d in edges[node] if d in layer]
        layer[node] = 1 + max(deps) if deps else 0
    return layer


def order_columns(edges: Mapping[str, Sequence[str]], layer: Mapping[str, int]) -> list[list[str]]:
    """The nodes of each column, top to bottom, after the barycentre sweeps."""
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in edges:  # definition order first: stable, and what the author expects
        columns[layer[node]].append(node)
    children = dependants(edges)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        span = range(1, len(columns)) if downward else range(len(columns) - 2, -1, -1)
        for col in span:
            row = {n: i for c in columns for i, n in enumerate(c)}
            near = edges if downward else children
            columns[col] = _by_barycentre(columns[col], near, row)
    return columns


def _by_barycentre(
    column: list[str], near: Mapping[str, Sequence[str]], row: Mapping[str, int]
) -> list[str]:
    def centre(item: tuple[int, str]) -> float:
        index, node = item
        rows = [row[n] for n in near.get(node, ()) if n in row]
        return sum(rows) / len(rows) if rows else float(index)

    return [node for _, node in sorted(enumerate(column), key=lambda item: (centre(item), item[0]))]


def draw(edges: Mapping[str, Sequence[str]], marks: Mapping[str, TaskMark]) -> Drawing:
    """The laid-out drawing of ``edges`` (task → its dependencies, in definition order)."""
    columns = order_columns(edges, layers_of(edges))
    tallest = max((len(c) for c in columns), default=0)
    height = PAD * 2 + max(tallest * (NODE_H + GAP_Y) - GAP_Y, 0)
    width = PAD * 2 + max(len(columns) * (NODE_W + GAP_X) - GAP_X, 0)
    nodes: dict[str, Node] = {}
    for col, names in enumerate(columns):
        top = PAD + (height - 2 * PAD - (len(names) * (NODE_H + GAP_Y) - GAP_Y)) // 2
        for i, name in enumerate(names):
            mark = marks.get(name, TaskMark())
            nodes[name] = Node(
                id=name,
                label=_shorten(name),
                x=PAD + col * (NODE_W + GAP_X),
                y=top + i * (NODE_H + GAP_Y),
                status=mark.status,
                late=mark.late,
                incomplete=mark.incomplete,
                href=mark.href,
            )
    lines = [
        _edge(nodes[dep], nodes[node])
        for node, deps in edges.items()
        for dep in deps
        if dep in nodes
    ]
    ordered = tuple(nodes[n] for n in edges)
    return Drawing(ordered, tuple(lines), width, height)


def _edge(source: Node, target: Node) -> Edge:
    x1, y1 = source.x + NODE_W, source.y + NODE_H // 2
    x2, y2 = target.x - 6, target.y + NODE_H // 2  # stops short of the box: room for the arrow
    bend = max((x2 - x1) // 2, 20)
    path = f"M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}"
    return Edge(source.id, target.id, path, late=source.late)


def _shorten(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
