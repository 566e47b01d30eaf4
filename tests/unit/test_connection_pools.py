"""Every source connection is a pool: extract tasks on it share its ``concurrency`` slots."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podium.errors import ProjectError
from podium.project import load_project

CONFIG = """
pools: {extractors: 3}
connections:
  shop: {type: files, path: inbox, concurrency: 2, streams: {sales: {pattern: '*.csv'}}}
  drops: {type: files, path: drops, streams: {sales: {pattern: '*.csv'}}}
"""
WORKFLOW = """
tasks:
  - {id: daily_shop, extract: shop}
  - {id: drops, extract: drops}
  - {id: pooled, extract: shop, pool: extractors}
  - {id: other, shell: "true"}
"""


def write(root: Path, config: str, workflow: str) -> None:
    (root / "podium.yaml").write_text(textwrap.dedent(config).lstrip("\n"))
    (root / "workflows").mkdir()
    (root / "workflows" / "daily.yaml").write_text(textwrap.dedent(workflow).lstrip("\n"))


def test_each_source_connection_gets_a_pool_sized_by_its_concurrency(tmp_path: Path) -> None:
    write(tmp_path, CONFIG, WORKFLOW)
    project = load_project(tmp_path, environ={})
    assert project.pools == {"extractors": 3, "connection:shop": 2, "connection:drops": 1}


def test_extract_tasks_without_a_pool_take_their_connections(tmp_path: Path) -> None:
    write(tmp_path, CONFIG, WORKFLOW)
    workflow = load_project(tmp_path, environ={}).workflow("daily")
    pools = {task.id: task.pool for task in workflow.tasks}
    assert pools == {
        "daily_shop": "connection:shop",
        "drops": "connection:drops",
        "pooled": "extractors",  # a pool named on the task wins
        "other": None,
    }
    assert workflow.task("daily_shop").pool == "connection:shop"


def test_a_pool_declared_by_name_in_podium_yaml_overrides_the_default(tmp_path: Path) -> None:
    write(tmp_path, CONFIG + "  # \n", WORKFLOW)
    config = CONFIG.replace(
        "pools: {extractors: 3}", "pools: {extractors: 3, 'connection:shop': 5}"
    )
    (tmp_path / "podium.yaml").write_text(textwrap.dedent(config).lstrip("\n"))
    assert load_project(tmp_path, environ={}).pools["connection:shop"] == 5


@pytest.mark.parametrize("value", ["0", "two", "true", "1.5"])
def test_concurrency_must_be_a_whole_number_of_at_least_one(tmp_path: Path, value: str) -> None:
    write(tmp_path, CONFIG.replace("concurrency: 2", f"concurrency: {value}"), WORKFLOW)
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path, environ={})
    assert any(
        "concurrency: expected a whole number of at least 1" in str(problem)
        for problem in info.value.problems
    )
