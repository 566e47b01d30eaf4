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


def test_boxes_fit_their_labels_and_only_very_long_names_are_shortened() -> None:
    fits = "models.commerce.daily_sales_by_channel"
    name = "models.commerce.a_really_long_model_name_that_does_not_fit_anywhere"
    drawing = dag.draw({fits: (), name: ()}, {})
    whole, cut = drawing.nodes
    assert whole.label == fits
    assert drawing.node_w >= len(fits) * dag.CHAR_W + 20
    assert cut.id == name and len(cut.label) == dag.LABEL_CHARS and "…" in cut.label
    assert cut.label.startswith("models.") and cut.label.endswith("fit_anywhere")


def sampled(path: str) -> list[tuple[float, float]]:
    """Points along an SVG path of M, L and C commands (what ``dag`` writes)."""
    tokens = path.replace(",", " ").split()
    points: list[tuple[float, float]] = []
    x = y = 0.0
    i = 0
    while i < len(tokens):
        op = tokens[i]
        if op in ("M", "L"):
            nx, ny = float(tokens[i + 1]), float(tokens[i + 2])
            if op == "L":
                points += [(x + (nx - x) * t / 20, y + (ny - y) * t / 20) for t in range(21)]
            x, y, i = nx, ny, i + 3
        else:
            c = [float(v) for v in tokens[i + 1 : i + 7]]
            for step in range(41):
                t = step / 40
                a, b, cc, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
                points.append(
                    (
                        a * x + b * c[0] + cc * c[2] + d * c[4],
                        a * y + b * c[1] + cc * c[3] + d * c[5],
                    )
                )
            x, y, i = c[4], c[5], i + 7
    return points


def test_no_edge_runs_through_a_box() -> None:
    # good → final skips a column that after_load sits in, level with both of them
    edges: dict[str, tuple[str, ...]] = {
        "extract": (),
        "good": (),
        "load": ("extract",),
        "after_load": ("load", "good"),
        "final": ("after_load", "good"),
        "wide": ("extract",),
        "far": ("wide", "good", "extract"),
        "last": ("far", "extract"),
    }
    drawing = dag.draw(edges, {})
    boxes = {n.id: (n.x, n.y, n.x + drawing.node_w, n.y + drawing.node_h) for n in drawing.nodes}
    assert len(drawing.edges) == sum(len(d) for d in edges.values())
    for edge in drawing.edges:
        for px, py in sampled(edge.path):
            for name, (x1, y1, x2, y2) in boxes.items():
                if name in (edge.source, edge.target):
                    continue
                inside = x1 - 1 < px < x2 + 1 and y1 - 1 < py < y2 + 1
                assert not inside, f"{edge.source} → {edge.target} crosses {name} at {px, py}"


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
    assert b.late and b.late_x == round(gantt.LABEL_W + 25 * scale, 1)
    assert a.late_x is None and not a.late
    assert chart.span == "40.0s" and chart.ticks[-1].label == "40.0s"


def test_timeline_is_none_before_any_attempt_started() -> None:
    assert gantt.timeline(["a"], [], now=1.0) is None


def test_timeline_fills_its_width_and_widens_its_labels_for_long_ids() -> None:
    long_id = "models.commerce.daily_sales_by_channel"
    attempts = [
        {
            "task_id": long_id,
            "attempt": 1,
            "status": "succeeded",
            "started_at": 0.0,
            "finished_at": 10.0,
        },
    ]
    chart = gantt.timeline([long_id], attempts, now=10.0)
    assert chart is not None
    assert chart.width == gantt.WIDTH and chart.label_w >= len(long_id) * 7
    (bar,) = chart.rows[0].bars
    assert bar.x == chart.label_w and bar.x + bar.width == gantt.WIDTH - gantt.PAD
