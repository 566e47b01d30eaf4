"""``podium init``: the example project is written, and loads without a problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.core.workflow import ScheduleTrigger, WorkflowTrigger
from podium.errors import UsageError
from podium.project import init_project, load_project

FILES = [
    ".gitignore",
    "README.md",
    "pipeline/__init__.py",
    "pipeline/steps.py",
    "podium.yaml",
    "workflows/example.yaml",
    "workflows/weekly.py",
]


def test_init_writes_the_example_project(tmp_path: Path) -> None:
    dest = tmp_path / "brand"
    written = init_project(dest)
    assert sorted(p.relative_to(dest).as_posix() for p in written) == FILES
    assert all(p.is_file() for p in written)


def test_init_keeps_the_state_folder_out_of_git_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc")  # the user's own, without a last newline
    init_project(tmp_path)
    assert (tmp_path / ".gitignore").read_text().splitlines() == [
        "*.pyc",
        "# podium's store, warehouse file and logs: state, not source",
        ".podium/",
    ]
    other = tmp_path / "other"
    other.mkdir()
    (other / ".gitignore").write_text(".podium\n")
    assert ".gitignore" not in [p.name for p in init_project(other)]
    assert (other / ".gitignore").read_text() == ".podium\n"


def test_the_example_project_loads_without_problems(tmp_path: Path) -> None:
    init_project(tmp_path)
    project = load_project(tmp_path, environ={})
    assert sorted(project.workflows) == ["example", "weekly"]
    assert project.pools == {"extractors": 2}
    assert project.engine.executor == "threads"
    assert project.store_url == f"sqlite:///{tmp_path.resolve()}/.podium/state.db"
    example = project.workflow("example")
    assert example.params == {"days": 3}
    assert example.task_ids == ("extract_orders", "extract_customers", "build_report", "announce")
    assert example.task("build_report").depends_on == ("extract_orders", "extract_customers")
    assert example.task("extract_orders").produces == ("raw.orders",)
    schedule = example.triggers[0]
    assert isinstance(schedule, ScheduleTrigger) and schedule.timezone == "America/New_York"
    weekly = project.workflow("weekly")
    assert weekly.triggers == (WorkflowTrigger("example", location=weekly.triggers[0].location),)
    assert all(task.func is not None for task in weekly.tasks)


def test_init_refuses_a_folder_that_already_has_a_project(tmp_path: Path) -> None:
    (tmp_path / "podium.yaml").write_text("pools: {}\n")
    with pytest.raises(UsageError, match="already has a podium.yaml"):
        init_project(tmp_path)


def test_init_refuses_to_overwrite_files(tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "example.yaml").write_text("mine\n")
    with pytest.raises(UsageError, match="workflows/example.yaml"):
        init_project(tmp_path)
    assert (tmp_path / "workflows" / "example.yaml").read_text() == "mine\n"
    assert not (tmp_path / "podium.yaml").exists()


def test_unknown_template_lists_the_templates(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match="unknown template 'fancy'; templates: commerce, commerce-dbt, example"
    ):
        init_project(tmp_path, "fancy")


def test_a_template_extending_another_takes_its_files_less_what_it_replaces(
    tmp_path: Path,
) -> None:
    written = init_project(tmp_path, "commerce-dbt")
    files = {p.relative_to(tmp_path).as_posix() for p in written}
    # the commerce template's own files, as they are there
    assert {"podium.yaml", "workflows/forward_orders.yaml", "inbox/retailers/README.md"} <= files
    commerce = Path(__file__).resolve().parents[2] / "src/podium/templates/commerce"
    assert (tmp_path / "podium.yaml").read_text() == (commerce / "podium.yaml").read_text()
    # its models and checks replaced by the dbt project, its daily workflow and README its own
    assert not any(f.startswith(("models/", "checks/")) for f in files)
    assert "template.yaml" not in files
    assert {"dbt/dbt_project.yml", "dbt/models/commerce/orders.sql", "README.md"} <= files
    assert "dbt: dbt" in (tmp_path / "workflows/daily.yaml").read_text()
    assert "dbt" in (tmp_path / "README.md").read_text()
