"""The Python API: podium.Workflow and the trigger helpers, checked like YAML."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.core import workflow as model
from podium.core.context import Context
from podium.core.status import Catchup, OnLate
from podium.errors import ProjectError
from podium.project import load_project


def write(root: Path, files: dict[str, str]) -> Path:
    files = {"podium.yaml": "pools: {extractors: 2}\n", **files}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def problems(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(ProjectError) as info:
        load_project(write(root, files), environ={})
    return [str(p) for p in info.value.problems]


def here() -> int:
    """The line of the caller (where a test wrote a definition)."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


# -- the builder on its own ------------------------------------------------------------------


def test_bare_decorator_returns_the_function_and_uses_its_name() -> None:
    wf = podium.Workflow("w")

    def extract(ctx: Any) -> int:
        return 1

    assert wf.task(extract) is extract
    task = wf.build().task("extract")
    assert task.kind == "run"
    assert task.target == f"{__name__}:{extract.__qualname__}"
    assert task.func is extract


def test_decorator_with_options_and_an_explicit_id() -> None:
    wf = podium.Workflow("w")

    @wf.task(id="load_orders", retries=3, retry_delay="30s", timeout=90, priority=5)
    def load(ctx: Any) -> None:
        return None

    assert load(None) is None  # still an ordinary function
    task = wf.build().task("load_orders")
    assert task.retry == model.RetryPolicy(retries=3, delay=30.0)
    assert (task.timeout, task.priority, task.func) == (90.0, 5, load)


def test_depends_on_takes_functions_and_ids() -> None:
    wf = podium.Workflow("w")

    @wf.task
    def extract(ctx: Any) -> None: ...

    @wf.task(id="clean")
    def clean_up(ctx: Any) -> None: ...

    @wf.task(depends_on=[extract, clean_up])
    def transform(ctx: Any) -> None: ...

    notify = wf.shell("notify", "echo done", depends_on=transform)
    wf.run("export", "os.path:join", depends_on=[notify, "extract"])
    built = wf.build()
    assert built.task("transform").depends_on == ("extract", "clean")
    assert built.task("notify").depends_on == ("transform",)
    assert built.task("export").depends_on == ("notify", "extract")


def test_run_shell_and_subworkflow_tasks() -> None:
    wf = podium.Workflow("w")
    assert wf.run("a", "pipeline.steps:extract", pool="extractors") == "a"
    assert wf.shell("b", "echo hi") == "b"
    assert wf.subworkflow("c", "other") == "c"
    tasks = {t.id: (t.kind, t.target, t.pool) for t in wf.build().tasks}
    assert tasks == {
        "a": ("run", "pipeline.steps:extract", "extractors"),
        "b": ("shell", "echo hi", None),
        "c": ("workflow", "other", None),
    }


def test_trigger_helpers() -> None:
    wf = podium.Workflow(
        "w",
        triggers=[
            podium.schedule("0 5 * * *", timezone="America/New_York", catchup="none"),
            podium.on_event("orders_dropped", {"store-id": 7}, store="us"),
            podium.on_asset("raw.orders"),
            podium.on_asset("raw.orders", "raw.refunds", all_of=True, deadline="2h"),
            podium.after_workflow("upstream", status="any"),
            {"event": "written_like_yaml"},
        ],
    )
    wf.shell("a", "x")
    triggers = [dataclasses.replace(t, location=None) for t in wf.build().triggers]
    assert triggers == [
        model.ScheduleTrigger("0 5 * * *", "America/New_York", Catchup.NONE),
        model.EventTrigger("orders_dropped", {"store-id": 7, "store": "us"}),
        model.AssetTrigger(("raw.orders",)),
        model.AssetTrigger(("raw.orders", "raw.refunds"), all_of=True, deadline=7200.0),
        model.WorkflowTrigger("upstream", "any"),
        model.EventTrigger("written_like_yaml"),
    ]


def test_locations_point_at_the_calls() -> None:
    line = here()
    wf = podium.Workflow("w", triggers=[podium.schedule("@daily")])

    @wf.task
    def a(ctx: Any) -> None: ...

    wf.shell("b", "x")
    built = wf.build()
    file = Path(__file__).resolve().relative_to(Path.cwd().resolve()).as_posix()
    assert built.location == model.Location(file, line + 1)
    assert built.triggers[0].location == model.Location(file, line + 1)
    assert built.task("a").location == model.Location(file, line + 3)
    assert built.task("b").location == model.Location(file, line + 6)


def test_bad_options_are_problems_at_the_decorator_line() -> None:
    wf = podium.Workflow("w")
    wrong: dict[str, Any] = {"retries": -1, "retry_dealy": "1s", "on_late": "later"}
    line = here()

    @wf.task(**wrong)
    def a(ctx: Any) -> None: ...

    with pytest.raises(ProjectError) as info:
        wf.build()
    assert [(p.line, p.message) for p in info.value.problems] == [
        (line + 2, "task 'a': on_late must be one of wait, continue, fail, got 'later'"),
        (line + 2, "task 'a': retries must be a whole number 0 or more, got -1"),
        (line + 2, "task 'a': unknown key 'retry_dealy'; did you mean 'retry_delay'?"),
    ]


def test_decorating_something_that_is_not_a_function_says_how_to_name_a_task() -> None:
    wf = podium.Workflow("w")
    with pytest.raises(TypeError, match="@wf.task\\(id='name'\\)"):
        wf.task("extract")  # type: ignore[call-overload]


# -- in a project ----------------------------------------------------------------------------

API_WORKFLOW = """
import podium

daily = podium.Workflow(
    "daily_py",
    triggers=[
        podium.schedule("0 5 * * *", timezone="America/New_York"),
        podium.on_event("orders_dropped", store="us"),
        podium.on_asset("raw.orders", "raw.refunds", all_of=True, deadline="2h"),
        podium.after_workflow("upstream", status="success"),
    ],
    params={"days": 1},
    defaults={"retries": 2, "retry_delay": "30s"},
    max_active_runs=1,
)


@daily.task(pool="extractors", produces=["raw.orders"], late_after="3h", on_late="continue")
def extract(ctx):
    ctx.log.info("extracting %s days", ctx.params["days"])
    return {"rows": 10}


@daily.task(depends_on=[extract], retries=3)
def transform(ctx):
    return ctx.upstream["extract"]["rows"] * 2


daily.shell("notify", "echo done", depends_on=["transform"])
daily.run("export", "pipeline:export", depends_on=[transform])
daily.subworkflow("child", "upstream")
"""

YAML_WORKFLOW = """
name: daily_yaml
params: {days: 1}
max_active_runs: 1
defaults: {retries: 2, retry_delay: 30s}
triggers:
  - schedule: "0 5 * * *"
    timezone: America/New_York
  - event: orders_dropped
    filter: {store: us}
  - asset: {all_of: [raw.orders, raw.refunds], deadline: 2h}
  - workflow: upstream
    status: success
tasks:
  - id: extract
    run: workflows.daily_py:extract
    pool: extractors
    produces: [raw.orders]
    late_after: 3h
    on_late: continue
  - id: transform
    run: workflows.daily_py:transform
    depends_on: [extract]
    retries: 3
  - id: notify
    shell: echo done
    depends_on: [transform]
  - id: export
    run: pipeline:export
    depends_on: [transform]
  - id: child
    workflow: upstream
"""


def without_locations(wf: model.Workflow) -> model.Workflow:
    return dataclasses.replace(
        wf,
        name="",
        location=None,
        tasks=tuple(dataclasses.replace(t, location=None, func=None) for t in wf.tasks),
        triggers=tuple(dataclasses.replace(t, location=None) for t in wf.triggers),
    )


@pytest.fixture
def both(tmp_path: Path) -> model.Project:
    files = {
        "pipeline.py": "def export(ctx):\n    return None\n",
        "workflows/daily_py.py": API_WORKFLOW,
        "workflows/daily_yaml.yaml": YAML_WORKFLOW,
        "workflows/upstream.yaml": "tasks: [{id: a, shell: x}]\n",
    }
    return load_project(write(tmp_path, files), environ={})


def test_python_and_yaml_give_the_same_workflow(both: model.Project) -> None:
    python, yaml = both.workflow("daily_py"), both.workflow("daily_yaml")
    assert without_locations(python) == without_locations(yaml)
    assert python.task("extract").on_late is OnLate.CONTINUE


def test_python_tasks_keep_their_function_and_location(both: model.Project) -> None:
    python = both.workflow("daily_py")
    extract = python.task("extract")
    assert extract.func is not None and extract.func.__module__ == "workflows.daily_py"
    assert extract.location == model.Location("workflows/daily_py.py", 17)
    assert python.task("notify").location == model.Location("workflows/daily_py.py", 28)
    assert python.location == model.Location("workflows/daily_py.py", 3)
    assert python.triggers[0].location == model.Location("workflows/daily_py.py", 6)


def test_python_workflow_module_imports_by_name(both: model.Project) -> None:
    import importlib

    module = importlib.import_module("workflows.daily_py")
    assert both.workflow("daily_py").task("transform").func is module.transform


def test_problems_in_a_python_workflow_file(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/bad.py": """
                import podium

                wf = podium.Workflow("bad", triggers=[podium.schedule("0 99 * * *")])


                @wf.task(pool="extractor", colour="red")
                def extract(ctx):
                    return 1


                wf.subworkflow("child", "nowhere", depends_on=["extrct"])
                """
        },
    )
    assert [line.split(": ", 1)[0] for line in found] == [
        "workflows/bad.py:3",
        "workflows/bad.py:6",
        "workflows/bad.py:6",
        "workflows/bad.py:11",
        "workflows/bad.py:11",
    ]
    assert "hour 99" in found[0]
    assert found[1].endswith("unknown key 'colour'; allowed: " + found[1].split("allowed: ")[1])
    assert found[2].endswith("unknown pool 'extractor'; did you mean 'extractors'?")
    assert found[3].endswith("depends on unknown task 'extrct'; did you mean 'extract'?")
    assert found[4].endswith("starts unknown workflow 'nowhere'")


def test_exception_while_importing_is_a_problem_at_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, {"workflows/broken.py": "import podium\n\nrate = 1 / 0\n"})
    assert found == [
        "workflows/broken.py:3: importing workflows/broken.py failed: "
        "ZeroDivisionError: division by zero"
    ]


def test_exception_in_a_module_it_imports_points_there(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "settings.py": "import os\nREGION = os.environ['NO_SUCH_VARIABLE_FOR_PODIUM']\n",
            "workflows/w.py": "import settings\n",
        },
    )
    assert found == [
        "settings.py:2: importing workflows/w.py failed: KeyError: 'NO_SUCH_VARIABLE_FOR_PODIUM'"
    ]


def test_syntax_error_is_a_problem_at_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, {"workflows/w.py": "import podium\n\ndef f(:\n    pass\n"})
    assert found == [
        "workflows/w.py:3: importing workflows/w.py failed: SyntaxError: invalid syntax"
    ]


def test_sys_exit_in_a_workflow_file_is_a_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, {"workflows/w.py": "import sys\nsys.exit(3)\n"})
    assert found == ["workflows/w.py:2: importing workflows/w.py failed: SystemExit: 3"]


def test_file_without_a_workflow_and_helper_modules(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/_shared.py": "raise RuntimeError('helpers are not loaded as workflows')\n",
            "workflows/nothing.py": "X = 1\n",
        },
    )
    assert found == [
        "workflows/nothing.py: no podium.Workflow at module level; assign one to a name "
        "(helper modules in workflows/ should start with '_')"
    ]


def test_reused_function_name_is_caught(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/w.py": """
                import podium

                wf = podium.Workflow("w")


                @wf.task(id="first")
                def step(ctx):
                    return 1


                @wf.task(id="second")
                def step(ctx):
                    return 2
                """
        },
    )
    assert found == [
        "workflows/w.py:6: task 'first': 'workflows.w:step' names another object than this "
        "task's function (was the name reused?); give each task function its own module-level name"
    ]


def test_task_function_inside_a_function_cannot_be_imported_by_workers(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/w.py": """
                import podium

                wf = podium.Workflow("w")


                def make():
                    @wf.task
                    def inner(ctx):
                        return 1


                make()
                """
        },
    )
    assert found == [
        "workflows/w.py:7: task 'inner': its function 'workflows.w:make.<locals>.inner' is "
        "defined inside another function; define it at module level so that workers can "
        "import it by name"
    ]


def test_two_names_for_one_workflow_load_it_once(tmp_path: Path) -> None:
    files = {
        "workflows/w.py": "import podium\nwf = podium.Workflow('w')\nalias = wf\nwf.shell('a', 'x')\n"
    }
    loaded = load_project(write(tmp_path, files), environ={})
    assert list(loaded.workflows) == ["w"]


def test_workflow_imported_into_another_file_is_read_once(tmp_path: Path) -> None:
    files = {
        "workflows/a.py": "import podium\nwf = podium.Workflow('w')\nwf.shell('a', 'x')\n",
        "workflows/b.py": "from workflows.a import wf\n",
    }
    loaded = load_project(write(tmp_path, files), environ={})
    assert loaded.workflow("w").location == model.Location("workflows/a.py", 2)


def test_a_single_trigger_need_not_be_in_a_list() -> None:
    wf = podium.Workflow("w", triggers=podium.on_event("go"))
    wf.shell("a", "x")
    assert [t.event for t in wf.build().triggers] == ["go"]  # type: ignore[union-attr]


def test_edited_workflow_file_is_reloaded(tmp_path: Path) -> None:
    files = {"workflows/w.py": "import podium\nwf = podium.Workflow('w')\nwf.shell('a', 'x')\n"}
    assert load_project(write(tmp_path, files), environ={}).workflow("w").task_ids == ("a",)
    (tmp_path / "workflows" / "w.py").write_text(
        "import podium\nwf = podium.Workflow('w')\nwf.shell('renamed', 'echo changed')\n"
    )
    assert load_project(tmp_path, environ={}).workflow("w").task_ids == ("renamed",)


# -- the package surface ---------------------------------------------------------------------


def test_public_names_are_exported() -> None:
    assert sorted(podium.__all__) == sorted(set(podium.__all__))
    for name in podium.__all__:
        assert hasattr(podium, name), name
    expected = {"Workflow", "Context", "schedule", "on_event", "on_asset", "after_workflow"}
    assert expected | {"load_project", "init_project", "ProjectError"} <= set(podium.__all__)
    assert podium.Workflow.__module__ == "podium.api"  # the builder, not the frozen model


def test_context_describes_what_tasks_receive() -> None:
    assert podium.Context is Context
    members = {name for name, _ in inspect.getmembers(Context, lambda v: isinstance(v, property))}
    assert members == {
        "run_id",
        "task_id",
        "attempt",
        "idempotency_key",
        "params",
        "logical_time",
        "log",
        "upstream",
        "late_upstreams",
        "workflow",
    }


def test_an_event_trigger_on_an_undispatched_system_event_is_reported_at_its_line(
    tmp_path: Path,
) -> None:
    found = problems(
        tmp_path,
        {
            "workflows/after.py": """
                import podium

                wf = podium.Workflow(
                    "after",
                    triggers=[podium.on_event("TaskFinished", task_id="load")],
                )
                wf.shell("a", "true")
                """
        },
    )
    assert len(found) == 1, found
    assert found[0].startswith("workflows/after.py:5: ")
    assert "'TaskFinished' never reaches triggers" in found[0]
    assert "podium.after_workflow" in found[0] and "podium.on_asset" in found[0]


def test_extract_transform_check_and_http_tasks() -> None:
    wf = podium.Workflow("w")
    assert wf.extract("shop", "shopify", streams=["orders"], full_refresh=True) == "shop"
    assert wf.transform("models", "commerce", depends_on=["shop"]) == "models"
    assert wf.check("checks", "commerce", depends_on=["models"]) == "checks"
    wf.http(
        "notify",
        "https://3pl.example.com/orders/{{ params.day }}",
        method="put",
        headers={"X-Team": "data"},
        body={"done": True},
        expect=[200, 204],
        depends_on="checks",
        retries=2,
    )
    tasks = {t.id: t for t in wf.build().tasks}
    assert (tasks["shop"].kind, tasks["shop"].target) == ("extract", "shopify")
    assert dict(tasks["shop"].options) == {"streams": ["orders"], "full_refresh": True}
    assert (tasks["models"].kind, tasks["models"].depends_on) == ("transform", ("shop",))
    assert (tasks["checks"].kind, tasks["checks"].target) == ("check", "commerce")
    notify = tasks["notify"]
    assert (notify.kind, notify.retry.retries, notify.depends_on) == ("http", 2, ("checks",))
    assert dict(notify.options) == {
        "method": "PUT",
        "headers": {"X-Team": "data"},
        "body": {"done": True},
        "expect": [200, 204],
    }


def test_every_kind_goes_through_the_yaml_checks_at_the_calls_line() -> None:
    wf = podium.Workflow("w")
    line = here()
    wf.extract("shop", "shopify", full_refresh="yes")  # type: ignore[arg-type]
    wf.http("call", "ftp://example.com", method="FETCH")
    wf.add("notebook", "nb", "reports/daily.ipynb")
    wf.transform("models", "commerce", streams=["orders"])  # type: ignore[call-arg]
    with pytest.raises(ProjectError) as info:
        wf.build()
    found = [(p.line, p.message[:60]) for p in info.value.problems]
    assert found == [
        (line + 1, "task 'shop': full_refresh must be true or false, got 'yes'"),
        (line + 2, "task 'call': method must be one of GET, POST, PUT, PATCH, DE"),
        (line + 2, "task 'call': the URL must start with http:// or https:// and"),
        (line + 3, "task 'nb': say what the task runs with one of: run (module:f"),
        (line + 3, "task 'nb': unknown key 'notebook'; allowed: body, check, dbt"),
        (line + 4, "task 'models': 'streams' applies only to extract tasks"),
    ]
