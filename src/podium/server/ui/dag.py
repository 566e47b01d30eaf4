"""A DAG laid out for an SVG drawing: layered, left to right (a workflow's tasks, or the
lineage of assets).

Each node goes in the column of its longest path from a node without dependencies. An edge
that skips columns gets a waypoint in each column it crosses (a thin lane of its own), so
no edge runs through a box; rows inside a column are ordered by a few barycentre sweeps
(each node moves towards the mean row of its neighbours), which removes most edge
crossings in the graphs people write. Boxes are as wide as the longest label needs (up to
``LABEL_CHARS`` characters; longer ids keep their head and tail around an ellipsis). Pure:
the template draws the result, so every label passes Jinja's escaping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podium.core.graph import dependants, topological_order

NODE_W = 188  # the narrowest box
NODE_H = 40
GAP_X = 64
GAP_Y = 18
LANE_H = 12  # the room an edge passing through a column takes
PAD = 12
SWEEPS = 4
#: beyond this many tasks the page lists tasks instead of drawing an unreadable picture
MAX_DRAWN = 400
LABEL_CHARS = 44
#: a generous width of one character of a label (12.5px, semi-bold): boxes never cut text
CHAR_W = 7.8
LABEL_ROOM = 34  # the label's left margin and the late badge's room on the right
_VIRTUAL = "\0"  # virtual (waypoint) node ids start with it; a task id cannot


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
    sub: str = ""  # the second line, when not the state
    kind: str = ""  # a CSS class (the lineage's source, raw, model, …)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # an SVG path ("M x y C … L … C …")
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
    """What the run being shown (or the lineage) says about one node."""

    status: str = ""
    late: bool = False
    incomplete: bool = False
    href: str = ""
    sub: str = ""
    kind: str = ""


def layers_of(edges: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each node's column: 0 without dependencies, else one more than its deepest one."""
    layer: dict[str, int] = {}
    for node in topological_order(edges):
        deps = [layer[d] for d in edges[node] if d in layer]
        layer[node] = 1 + max(deps) if deps else 0
    return layer


def with_waypoints(
    edges: Mapping[str, Sequence[str]], layer: Mapping[str, int]
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The graph with a virtual node in every column a long edge crosses, and its layers."""
    graph: dict[str, list[str]] = {node: [] for node in edges}
    layers = dict(layer)
    for node, deps in edges.items():
        for dep in deps:
            if dep not in layer:
                continue
            previous = dep
            for col in range(layer[dep] + 1, layer[node]):
                point = f"{_VIRTUAL}{dep}{_VIRTUAL}{node}{_VIRTUAL}{col}"
                graph[point], layers[point] = [previous], col
                previous = point
            graph[node].append(previous)
    return graph, layers


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


def box_width(labels: Sequence[str]) -> int:
    """The width every box gets: enough for the longest (shortened) label."""
    longest = max((len(label) for label in labels), default=0)
    return max(NODE_W, math.ceil(longest * CHAR_W) + LABEL_ROOM)


def draw(edges: Mapping[str, Sequence[str]], marks: Mapping[str, TaskMark]) -> Drawing:
    """The laid-out drawing of ``edges`` (node → its dependencies, in definition order)."""
    graph, layer = with_waypoints(edges, layers_of(edges))
    columns = order_columns(graph, layer)
    node_w = box_width([shorten(n) for n in edges])
    heights = [sum(_slot(n) for n in c) - (GAP_Y if c else 0) for c in columns]
    height = PAD * 2 + max(heights, default=0)
    width = PAD * 2 + max(len(columns) * (node_w + GAP_X) - GAP_X, 0)
    at: dict[str, tuple[int, int]] = {}
    for col, names in enumerate(columns):
        y = PAD + (height - 2 * PAD - heights[col]) // 2
        for name in names:
            at[name] = (PAD + col * (node_w + GAP_X), y)
            y += _slot(name)
    nodes = {name: _node(name, at[name], marks.get(name, TaskMark())) for name in edges}
    lines = [
        _edge(dep, node, graph, at, node_w, late=nodes[dep].late)
        for node, deps in edges.items()
        for dep in deps
        if dep in nodes
    ]
    return Drawing(tuple(nodes.values()), tuple(lines), width, height, node_w)


def _slot(name: str) -> int:
    return LANE_H if name.startswith(_VIRTUAL) else NODE_H + GAP_Y


def _node(name: str, xy: tuple[int, int], mark: TaskMark) -> Node:
    return Node(
        id=name,
        label=shorten(name),
        x=xy[0],
        y=xy[1],
        status=mark.status,
        late=mark.late,
        incomplete=mark.incomplete,
        href=mark.href,
        sub=mark.sub,
        kind=mark.kind,
    )


def _edge(
    dep: str,
    node: str,
    graph: Mapping[str, Sequence[str]],
    at: Mapping[str, tuple[int, int]],
    node_w: int,
    *,
    late: bool,
) -> Edge:
    """From ``dep``'s right side through its waypoints (straight across each column) to
    just short of ``node``'s left side (room for the arrow); curves only in the gaps."""
    points = [node]
    while (previous := _through(graph[points[-1]], dep, node)) is not None:
        points.append(previous)
    points.append(dep)
    points.reverse()
    x, y = at[dep][0] + node_w, at[dep][1] + NODE_H // 2
    path = [f"M {x} {y}"]
    for point in points[1:-1]:
        px, py = at[point][0], at[point][1] + LANE_H // 2
        path.append(_curve(x, y, px, py))
        x, y = px + node_w, py
        path.append(f"L {x} {y}")
    tx, ty = at[node][0] - 6, at[node][1] + NODE_H // 2
    path.append(_curve(x, y, tx, ty))
    return Edge(dep, node, " ".join(path), late=late)


def _through(deps: Sequence[str], dep: str, node: str) -> str | None:
    """The waypoint of the edge ``dep → node`` among ``deps`` (None once at ``dep``)."""
    prefix = f"{_VIRTUAL}{dep}{_VIRTUAL}{node}{_VIRTUAL}"
    return next((d for d in deps if d.startswith(prefix)), None)


def _curve(x1: int, y1: int, x2: int, y2: int) -> str:
    bend = max((x2 - x1) // 2, 20)
    return f"C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}"


def shorten(name: str) -> str:
    """``name`` as a box shows it: whole up to ``LABEL_CHARS``, else head…tail."""
    if len(name) <= LABEL_CHARS:
        return name
    tail = (LABEL_CHARS - 1) * 2 // 3
    return name[: LABEL_CHARS - 1 - tail] + "…" + name[-tail:]
