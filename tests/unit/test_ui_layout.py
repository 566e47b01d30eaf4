"""The UI's pure layouts: the layered DAG drawing and the Gantt timeline of attempts."""

from __future__ import annotations

from itertools import combinations

from podium.server.ui import dag, gantt


def crossings(drawing: dag.Drawing, edges: dict[str, tuple[str, ...]]) -> int:
    """Pairs of edges between the same two columns whose ends swap order."""
    at = {n.id: (n.x, n.y) for n in drawing.nodes}
    lines = [(at[d], at[n]) for n, deps in edges.items() for d in deps]
    count = 0
    for (a1, a2), (b1, b2) in combinations(lines, 2):
        if a1[0] == b1[0] and a2[0] == b2[0] and (a1[1] - b1[1]) * (a2[1] - b2[1]) < 0:
            count += 1
    return count


def test_columns_follow_the_longest_path_from_a_source() -> None:
    edges = {"a": (), "b": ("a",), "c": ("a", "b"), "d": ()}
    assert dag.layers_of(edges) == {"a": 0, "b": 1, "c": 2, "d": 0}


def test_barycentre_sweeps_remove_the_crossing_definition_order_makes() -> None:
    # written so that the first column is (x, y) but x feeds the lower and y the upper task
    edges: dict[str, tuple[str, ...]] = {"x": (), "y": (), "from_y": ("y",), "from_x": ("x",)}
    assert dag.order_columns(edges, dag.layers_of(edges)) == [["x", "y"], ["from_x", "from_y"]]
    assert crossings(dag.draw(edges, {}), edges) == 0


def test_nodes_never_overlap_and_every_edge_is_drawn() -> None:
    edges = {f"t{i}": tuple(f"t{j}" for j in range(max(0, i - 3), i)) for i in range(12)}
    drawing = dag.draw(edges, {"t3": dag.TaskMark("succeeded", late=True)})
    boxes = [(n.x, n.y) for n in drawing.nodes]
    assert len(set(boxes)) == len(boxes)
    for n in drawing.nodes:
        assert n.x >= 0 and n.x + dag.NODE_W <= drawing.width
        assert n.y >= 0 and n.y + dag.NODE_H <= drawing.height
    assert len(drawing.edges) == sum(len(d) for d in edges.values())
    late = {e.source for e in drawing.edges if e.late}
    assert late == {"t3"}
    t3 = next(n for n in drawing.nodes if n.id == "t3")
    assert (t3.status, t3.late, t3.incomplete) == ("succeeded", True, False)


def test_long_names_are_shortened_on_the_box_only() -> None:
    name = "a_really_long_task_name_that_does_not_fit"
    (node,) = dag.draw({name: ()}, {}).nodes
    assert node.id == name and len(node.label) == dag.LABEL_CHARS and node.label.endswith("…")


def test_timeline_places_attempts_in_proportion_and_marks_late_after() -> None:
    attempts = [
        {
            "task_id": "a",
            "attempt": 1,
            "status": "failed",
            "started_at": 100.0,
            "finished_at": 110.0,
        },
        {
            "task_id": "a",
            "attempt": 2,
            "status": "succeeded",
            "started_at": 110.0,
            "finished_at": 120.0,
        },
        {
            "task_id": "b",
            "attempt": 1,
            "status": "running",
            "started_at": 120.0,
            "finished_at": None,
        },
    ]
    chart = gantt.timeline(["a", "b"], attempts, now=140.0, late_after={"b": 5.0}, late=["b"])
    assert chart is not None
    a, b = chart.rows
    scale = gantt.CHART_W / 40.0
    assert [bar.x for bar in a.bars] == [gantt.LABEL_W, gantt.LABEL_W + 10 * scale]
    assert a.bars[0].width == 10 * scale and a.bars[0].title == "a attempt 1: failed (10.0s)"
    assert b.bars[0].width == 20 * scale  # still running: drawn up to now
    assert b.late and b.late_x == gantt.LABEL_W + 25 * scale
    assert a.late_x is None and not a.late
    assert chart.span == "40.0s" and chart.ticks[-1].label == "40.0s"


def test_timeline_is_none_before_any_attempt_started() -> None:
    assert gantt.timeline(["a"], [], now=1.0) is None
