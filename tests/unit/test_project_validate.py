"""Checks that need the whole project: names, pools, workflows, importable run targets."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from podium.core.workflow import Project
from podium.errors import ProjectError, UsageError
from podium.kinds.callables import resolve_callable
from podium.kinds.registry import LATER, all_kinds, written_kinds
from podium.project import load_project


def project(root: Path, files: Mapping[str, str]) -> Project:
    files = {"podium.yaml": "pools: {extractors: 2}\n", **files}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_project(root, environ={})


def problems(root: Path, files: Mapping[str, str]) -> list[str]:
    with pytest.raises(ProjectError) as info:
        project(root, files)
    return [str(p) for p in info.value.problems]


ONE_TASK = "tasks: [{id: a, shell: x}]\n"


def test_duplicate_workflow_names_across_files(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/a.yaml": "name: daily\n" + ONE_TASK,
            "workflows/b.yaml": "name: daily\n" + ONE_TASK,
        },
    )
    assert found == ["workflows/b.yaml:1: workflow 'daily' is also defined at workflows/a.yaml:1"]


def test_unknown_pool_suggests_a_declared_one(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/w.yaml": """
                tasks:
                  - id: a
                    shell: x
                    pool: extractor
                  - id: b
                    shell: x
                    pool: warehouse
                """
        },
    )
    assert found == [
        "workflows/w.yaml:4: task 'a': unknown pool 'extractor'; did you mean 'extractors'?",
        "workflows/w.yaml:7: task 'b': unknown pool 'warehouse'; declare it under pools: in "
        "podium.yaml",
    ]


def test_pool_given_in_defaults_is_checked_at_the_task(tmp_path: Path) -> None:
    found = problems(
        tmp_path, {"workflows/w.yaml": "defaults: {pool: nope}\ntasks:\n  - {id: a, shell: x}\n"}
    )
    assert found == [
        "workflows/w.yaml:3: task 'a': unknown pool 'nope'; declare it under pools: in podium.yaml"
    ]


def test_workflow_task_and_trigger_must_name_existing_workflows(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/daily.yaml": ONE_TASK,
            "workflows/w.yaml": """
                triggers:
                  - workflow: dayly
                tasks:
                  - id: child
                    workflow: weekly
                """,
        },
    )
    assert found == [
        "workflows/w.yaml:2: workflow trigger: unknown workflow 'dayly'; did you mean 'daily'?",
        "workflows/w.yaml:5: task 'child': starts unknown workflow 'weekly'",
    ]


def test_workflow_task_cannot_start_its_own_workflow(tmp_path: Path) -> None:
    found = problems(tmp_path, {"workflows/w.yaml": "tasks:\n  - id: again\n    workflow: w\n"})
    assert found == [
        "workflows/w.yaml:3: task 'again': starts its own workflow 'w'; "
        "a workflow cannot start itself"
    ]


def test_workflows_starting_each_other_in_a_loop(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/a.yaml": "tasks: [{id: t, workflow: b}]\n",
            "workflows/b.yaml": "tasks: [{id: t, workflow: a}]\n",
        },
    )
    assert found == ["workflows/a.yaml:1: workflows start each other in a loop: a → b → a"]


def test_run_target_module_must_import(tmp_path: Path) -> None:
    found = problems(
        tmp_path, {"workflows/w.yaml": "tasks:\n  - id: a\n    run: pipelines.steps:go\n"}
    )
    assert found == [
        "workflows/w.yaml:3: task 'a': run target 'pipelines.steps:go': no module named "
        "'pipelines' (modules are imported from the project root)"
    ]


def test_run_target_attribute_must_exist_and_be_callable(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "pipeline/__init__.py": "",
            "pipeline/steps.py": "LIMIT = 3\n\ndef extract(ctx):\n    return 1\n",
            "workflows/w.yaml": """
                tasks:
                  - id: a
                    run: pipeline.steps:extrct
                  - id: b
                    run: pipeline.steps:LIMIT
                  - id: c
                    run: pipeline.steps:extract
                """,
        },
    )
    assert found == [
        "workflows/w.yaml:3: task 'a': run target 'pipeline.steps:extrct': 'pipeline.steps' "
        "has no attribute 'extrct'; did you mean 'extract'?",
        "workflows/w.yaml:5: task 'b': run target 'pipeline.steps:LIMIT' is a int, not a function",
    ]


def test_run_target_import_error_names_the_failing_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "tasks.py": "import json\nraise RuntimeError('no config')\n",
            "workflows/w.yaml": "tasks:\n  - id: a\n    run: tasks:main\n",
        },
    )
    assert found == [
        "workflows/w.yaml:3: task 'a': run target 'tasks:main': importing it failed at "
        "tasks.py:2: RuntimeError: no config"
    ]


def test_run_target_dotted_attribute_and_package_module(tmp_path: Path) -> None:
    loaded = project(
        tmp_path,
        {
            "jobs/__init__.py": "",
            "jobs/nightly.py": "class Steps:\n    @staticmethod\n    def load(ctx):\n        return 1\n",
            "workflows/w.yaml": "tasks:\n  - id: a\n    run: jobs.nightly:Steps.load\n",
        },
    )
    assert loaded.workflow("w").task("a").target == "jobs.nightly:Steps.load"


def test_the_same_module_name_in_two_projects_is_reloaded(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    workflow = {"workflows/w.yaml": "tasks:\n  - id: a\n    run: pipeline:go\n"}
    project(first, {"pipeline.py": "def go(ctx):\n    return 1\n", **workflow})
    assert resolve_callable("pipeline:go")(None) == 1
    found = problems(second, {"pipeline.py": "def stop(ctx):\n    return 2\n", **workflow})
    assert found == [
        "workflows/w.yaml:3: task 'a': run target 'pipeline:go': 'pipeline' has no attribute 'go'"
    ]
    assert str(first.resolve()) not in sys.path


def test_a_module_only_the_previous_project_had_is_forgotten(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    workflow = {"workflows/w.yaml": "tasks:\n  - id: a\n    run: only_in_one:go\n"}
    project(first, {"only_in_one.py": "def go(ctx):\n    return 1\n", **workflow})
    assert problems(second, workflow) == [
        "workflows/w.yaml:3: task 'a': run target 'only_in_one:go': no module named "
        "'only_in_one' (modules are imported from the project root)"
    ]


def test_resolve_callable_rejects_bad_targets() -> None:
    with pytest.raises(UsageError, match="must look like module:function"):
        resolve_callable("os.path.join")
    assert resolve_callable("os.path:join") is __import__("os").path.join


def test_every_task_kind_is_registered_once() -> None:
    assert [k.name for k in all_kinds()] == [
        "run", "shell", "workflow", "extract", "transform", "model", "check", "http", "sync",
        "dbt", "dbt_node",
    ]  # fmt: skip
    assert [k.name for k in written_kinds()] == [
        "run", "shell", "workflow", "extract", "transform", "check", "http", "sync", "dbt"
    ]  # fmt: skip
    assert list(LATER) == []
