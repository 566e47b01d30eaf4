"""A ``dbt`` task's expansion into node tasks, over a graph as ``dbt parse`` gives it
(no dbt needed): ids, dependencies on the extracts a node's sources read, tests' homes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podium.core.workflow import Task, Workflow
from podium.errors import ProjectError
from podium.project import load_project
from podium.transforms.dbt.tasks import expand_dbt, node_ids
from podium.transforms.dbt.tasks import tests_of as homes_of

GRAPH: dict[str, Any] = {
    "nodes": {
        "model.p.stg_a": {"name": "stg_a", "type": "model", "fqn": "p.stg_a", "file": "a.sql",
                          "relation": "dbt.stg_a", "parents": [], "sources": ["source.p.a.t"]},
        "model.p.stg_b": {"name": "stg_b", "type": "model", "fqn": "p.stg_b", "file": "b.sql",
                          "relation": "dbt.stg_b", "parents": [], "sources": ["source.p.b.t"]},
        "model.p.mart": {"name": "mart", "type": "model", "fqn": "p.mart", "file": "m.sql",
                         "relation": "dbt.mart", "parents": ["model.p.stg_a", "model.p.stg_b"],
                         "sources": []},
        "seed.p.mart": {"name": "mart", "type": "seed", "fqn": "p.mart_seed", "file": "m.csv",
                        "relation": "dbt.mart_seed", "parents": [], "sources": []},
    },
    "tests": {
        "test.p.unique_a": {"name": "unique_a", "parents": ["model.p.stg_a"],
                            "attached": "model.p.stg_a", "fqn": "p.unique_a", "kind": "unique",
                            "severity": "error", "file": "s.yml"},
        "test.p.rel_a_b": {"name": "rel_a_b", "parents": ["model.p.stg_a", "model.p.stg_b"],
                           "attached": "model.p.stg_a", "fqn": "p.rel_a_b",
                           "kind": "relationships", "severity": "error", "file": "s.yml"},
        "test.p.singular": {"name": "singular", "parents": ["model.p.mart", "model.p.stg_a"],
                            "attached": None, "fqn": "p.singular", "kind": "singular",
                            "severity": "warn", "file": "tests/singular.sql"},
    },
    "selected": ["model.p.stg_a", "model.p.stg_b", "model.p.mart", "seed.p.mart"],
}  # fmt: skip
SOURCES = {
    "source.p.a.t": {"source": "a", "table": "t", "connection": "shop"},
    "source.p.b.t": {"source": "b", "table": "t", "connection": "amazon"},
}


def expanded() -> Workflow:
    workflow = Workflow(
        "daily",
        (
            Task("shop", "extract", "shop"),
            Task("amazon", "extract", "amazon"),
            Task("dbt", "dbt", "analytics", depends_on=("shop", "amazon")),
            Task("report", "shell", "echo", depends_on=("dbt",)),
        ),
    )
    return expand_dbt(
        workflow,
        kind="dbt",
        node_kind="dbt_node",
        graph_of=lambda task: (GRAPH, SOURCES),
        loaders={"shop": frozenset({"shop"}), "amazon": frozenset({"amazon"})},
    )


def test_each_node_is_a_task_named_after_it_and_unique() -> None:
    ids = node_ids("dbt", GRAPH)
    assert ids["model.p.stg_a"] == "dbt.stg_a"
    assert ids["model.p.mart"] == "dbt.model_mart" and ids["seed.p.mart"] == "dbt.seed_mart"


def test_a_node_waits_for_the_extracts_its_sources_read_and_its_dbt_parents() -> None:
    tasks = {t.id: t for t in expanded().tasks}
    assert "dbt" not in tasks
    # stg_a's relationships test reads stg_b: stg_a's task also waits for stg_b's
    assert set(tasks["dbt.stg_a"].depends_on) == {"shop", "dbt.stg_b"}
    assert tasks["dbt.stg_b"].depends_on == ("amazon",)
    assert set(tasks["dbt.model_mart"].depends_on) == {"dbt.stg_a", "dbt.stg_b"}
    assert tasks["dbt.seed_mart"].depends_on == ()  # reads nothing podium loads
    assert set(tasks["report"].depends_on) == {
        f"dbt.{n}" for n in ("stg_a", "stg_b", "model_mart", "seed_mart")
    }
    assert tasks["dbt.stg_a"].kind == "dbt_node" and tasks["dbt.stg_a"].target == "model.p.stg_a"
    assert tasks["dbt.stg_a"].produces == ("dbt.stg_a",)
    assert tasks["dbt.stg_a"].options["dbt_task"] == "dbt"


def test_a_test_runs_in_its_nodes_task_and_only_when_all_it_reads_is_selected() -> None:
    chosen = set(GRAPH["selected"])
    homes = homes_of(GRAPH, chosen)
    assert homes["model.p.stg_a"] == ["test.p.rel_a_b", "test.p.unique_a"]
    assert homes["model.p.mart"] == ["test.p.singular"]  # the node no other it reads feeds
    without_b = homes_of(GRAPH, chosen - {"model.p.stg_b"})
    assert without_b["model.p.stg_a"] == ["test.p.unique_a"]


def test_a_test_reading_two_nodes_goes_where_it_makes_no_cycle() -> None:
    """refunds' relationships test makes it wait for orders; a singular test reading both
    must then run in refunds' task, not in orders' (each would wait for the other)."""
    node = {"type": "model", "file": "x.sql", "parents": [], "sources": []}
    graph: dict[str, Any] = {
        "nodes": {
            f"model.p.{n}": {**node, "name": n, "fqn": f"p.{n}", "relation": f"dbt.{n}"}
            for n in ("orders", "refunds")
        },
        "tests": {
            "test.p.a_within_paid": {"name": "a_within_paid", "attached": None,
                                     "parents": ["model.p.orders", "model.p.refunds"]},
            "test.p.z_rel": {"name": "z_rel", "attached": "model.p.refunds",
                             "parents": ["model.p.orders", "model.p.refunds"]},
        },
        "selected": ["model.p.orders", "model.p.refunds"],
    }  # fmt: skip
    workflow = expand_dbt(
        Workflow("daily", (Task("dbt", "dbt", "analytics"),)),
        kind="dbt",
        node_kind="dbt_node",
        graph_of=lambda task: (graph, {}),
        loaders={},
    )
    tasks = {t.id: t for t in workflow.tasks}
    assert tasks["dbt.refunds"].depends_on == ("dbt.orders",)
    assert tasks["dbt.orders"].depends_on == ()
    assert homes_of(graph, set(graph["selected"])) == {
        "model.p.refunds": ["test.p.a_within_paid", "test.p.z_rel"]
    }


def test_relationships_tests_pointing_at_each_other_make_no_cycle() -> None:
    """orders' test reads refunds and refunds' test reads orders: each attached to its own
    node they would make each task wait for the other and the run wait for ever; the
    second runs in the node the first already made wait."""
    node = {"type": "model", "file": "x.sql", "parents": [], "sources": []}
    both = ["model.p.orders", "model.p.refunds"]
    graph: dict[str, Any] = {
        "nodes": {
            f"model.p.{n}": {**node, "name": n, "fqn": f"p.{n}", "relation": f"dbt.{n}"}
            for n in ("orders", "refunds")
        },
        "tests": {
            "test.p.a_rel": {"name": "a_rel", "attached": "model.p.orders", "parents": both},
            "test.p.b_rel": {"name": "b_rel", "attached": "model.p.refunds", "parents": both},
        },
        "selected": both,
    }
    workflow = expand_dbt(
        Workflow("daily", (Task("dbt", "dbt", "analytics"),)),
        kind="dbt",
        node_kind="dbt_node",
        graph_of=lambda task: (graph, {}),
        loaders={},
    )
    waits = {t.id: t.depends_on for t in workflow.tasks}
    assert waits == {"dbt.orders": ("dbt.refunds",), "dbt.refunds": ()}
    assert homes_of(graph, set(both)) == {"model.p.orders": ["test.p.a_rel", "test.p.b_rel"]}


def test_loading_podium_does_not_import_dbt() -> None:
    code = (
        "import sys, podium.project, podium.kinds.registry as r; r.all_kinds();"
        " print(any(m == 'dbt' or m.startswith('dbt.') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_dbt_task_without_dbt_installed_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium.transforms.dbt import project as dbt

    monkeypatch.setattr(dbt, "has_dbt", lambda: False)
    (tmp_path / "analytics").mkdir()
    (tmp_path / "analytics/dbt_project.yml").write_text("name: a\nprofile: a\n")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "podium.yaml").write_text("warehouse: {type: duckdb}\n")
    (tmp_path / "workflows/daily.yaml").write_text(
        "name: daily\ntasks:\n  - id: dbt\n    dbt: analytics\n"
    )
    with pytest.raises(ProjectError) as raised:
        load_project(tmp_path, environ={})
    [problem] = raised.value.problems
    assert problem.file == "workflows/daily.yaml" and problem.line == 4  # the dbt: line
    assert "pip install 'podium[dbt]'" in problem.message


def test_a_dbt_task_naming_no_dbt_project_says_so_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "analytics").mkdir()
    (tmp_path / "workflows").mkdir()
    (tmp_path / "podium.yaml").write_text("warehouse: {type: duckdb}\n")
    (tmp_path / "workflows/daily.yaml").write_text(
        "name: daily\ntasks:\n  - id: dbt\n    dbt: analytics\n"
    )
    with pytest.raises(ProjectError) as raised:
        load_project(tmp_path, environ={})
    [problem] = raised.value.problems
    assert problem.file == "workflows/daily.yaml"
    assert "no dbt_project.yml" in problem.message
