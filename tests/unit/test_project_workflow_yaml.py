"""Workflow YAML files: what they become, and every problem with its file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podium.core.status import Catchup, OnLate, TriggerRule
from podium.core.workflow import (
    AssetTrigger,
    EventTrigger,
    Location,
    Project,
    RetryPolicy,
    ScheduleTrigger,
    Task,
    WorkflowTrigger,
)
from podium.errors import ProjectError
from podium.project import load_project

CONFIG = "pools: {extractors: 4}\n"


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def project(root: Path, workflow: str, name: str = "workflows/daily.yaml") -> Project:
    write(root, "podium.yaml", CONFIG)
    write(root, name, workflow)
    return load_project(root, environ={})


def problems(root: Path, workflow: str, name: str = "workflows/daily.yaml") -> list[str]:
    with pytest.raises(ProjectError) as info:
        project(root, workflow, name)
    return [str(p) for p in info.value.problems]


FULL = """
name: daily_commerce
description: free text
params: {days: 1, region: us}
max_active_runs: 1
triggers:
  - schedule: "0 5 * * *"
    timezone: America/New_York
    catchup: all
  - event: orders_dropped
    filter: {store: us}
  - workflow: daily_commerce_upstream
    status: any
  - asset: raw.orders
  - asset: {all_of: [raw.orders, raw.refunds], deadline: 2h}
defaults: {retries: 3, retry_delay: 30s}
tasks:
  - id: extract
    run: os.path:join
    trigger_rule: all_done
    retries: 1
    retry_backoff: 2
    retry_max_delay: 10m
    timeout: 5m
    pool: extractors
    priority: 10
    late_after: 3h
    on_late: continue
    produces: [raw.orders]
    params: {full: false}
  - id: cleanup
    shell: "rm -rf /tmp/x"
    depends_on: extract
  - id: child
    workflow: daily_commerce_upstream
    depends_on: [extract, cleanup]
"""

UPSTREAM = "tasks:\n  - id: a\n    shell: echo a\n"


def test_full_workflow_becomes_the_model(tmp_path: Path) -> None:
    write(tmp_path, "workflows/daily_commerce_upstream.yml", UPSTREAM)
    wf = project(tmp_path, FULL).workflow("daily_commerce")
    file = "workflows/daily.yaml"
    assert wf.params == {"days": 1, "region": "us"}
    assert wf.max_active_runs == 1
    assert wf.location == Location(file, 1)
    assert wf.triggers == (
        ScheduleTrigger("0 5 * * *", "America/New_York", Catchup.ALL, Location(file, 6)),
        EventTrigger("orders_dropped", {"store": "us"}, Location(file, 9)),
        WorkflowTrigger("daily_commerce_upstream", "any", Location(file, 11)),
        AssetTrigger(("raw.orders",), location=Location(file, 13)),
        AssetTrigger(("raw.orders", "raw.refunds"), True, 7200.0, Location(file, 14)),
    )
    assert wf.task("extract") == Task(
        id="extract",
        kind="run",
        target="os.path:join",
        trigger_rule=TriggerRule.ALL_DONE,
        retry=RetryPolicy(retries=1, delay=30.0, backoff=2.0, max_delay=600.0),
        timeout=300.0,
        pool="extractors",
        priority=10,
        late_after=10800.0,
        on_late=OnLate.CONTINUE,
        produces=("raw.orders",),
        params={"full": False},
        location=Location(file, 17),
    )
    cleanup = wf.task("cleanup")
    assert (cleanup.kind, cleanup.target, cleanup.depends_on) == (
        "shell",
        "rm -rf /tmp/x",
        ("extract",),
    )
    assert cleanup.retry == RetryPolicy(retries=3, delay=30.0)
    child = wf.task("child")
    assert (child.kind, child.target) == ("workflow", "daily_commerce_upstream")
    assert child.depends_on == ("extract", "cleanup")


def test_empty_optional_keys_mean_none(tmp_path: Path) -> None:
    wf = project(tmp_path, "params:\ntriggers:\ndefaults:\ntasks: [{id: a, shell: x}]\n")
    assert (wf.workflow("daily").params, wf.workflow("daily").triggers) == ({}, ())


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    loaded = project(tmp_path, UPSTREAM, "workflows/nightly.yml")
    assert list(loaded.workflows) == ["nightly"]


def test_retry_backoff_true_means_two_and_false_means_one(tmp_path: Path) -> None:
    wf = project(
        tmp_path,
        """
        tasks:
          - {id: a, shell: x, retry_backoff: true}
          - {id: b, shell: x, retry_backoff: false}
          - {id: c, shell: x}
        """,
    ).workflow("daily")
    assert [wf.task(t).retry.backoff for t in "abc"] == [2.0, 1.0, 1.0]


def test_task_values_override_defaults(tmp_path: Path) -> None:
    wf = project(
        tmp_path,
        """
        defaults: {pool: extractors, priority: 5, params: {a: 1}, on_late: fail}
        tasks:
          - {id: a, shell: x, priority: 1, late_after: 1h}
          - {id: b, shell: x, params: {b: 2}}
        """,
    ).workflow("daily")
    a, b = wf.task("a"), wf.task("b")
    assert (a.pool, a.priority, a.params, a.on_late) == ("extractors", 1, {"a": 1}, OnLate.FAIL)
    assert (b.pool, b.priority, b.params) == ("extractors", 5, {"b": 2})


def test_unknown_workflow_key_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "name: d\ntask:\n  - {id: a, shell: x}\ntasks: [{id: a, shell: x}]\n"
    )
    assert found == ["workflows/daily.yaml:2: unknown key 'task'; did you mean 'tasks'?"]


def test_unknown_task_key_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    shell: x\n    retrys: 3\n")
    assert found == [
        "workflows/daily.yaml:4: task 'a': unknown key 'retrys'; did you mean 'retries'?"
    ]


def test_unknown_trigger_key_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        triggers:
          - schedule: "0 5 * * *"
            time_zone: UTC
        tasks: [{id: a, shell: x}]
        """,
    )
    assert found == [
        "workflows/daily.yaml:3: schedule trigger: unknown key 'time_zone'; did you mean 'timezone'?"
    ]


def test_duplicate_task_ids(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    shell: x\n  - id: a\n    shell: y\n")
    assert found == ["workflows/daily.yaml:4: duplicate task id 'a' (first at line 2)"]


def test_unknown_dependency_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        tasks:
          - id: extract
            shell: x
          - id: load
            shell: y
            depends_on: [extrakt]
        """,
    )
    assert found == [
        "workflows/daily.yaml:6: task 'load' depends on unknown task 'extrakt'; "
        "did you mean 'extract'?"
    ]


def test_dependency_cycle_prints_the_cycle(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        tasks:
          - id: a
            shell: x
            depends_on: c
          - id: b
            shell: x
            depends_on: a
          - id: c
            shell: x
            depends_on: b
        """,
    )
    assert found == [
        "workflows/daily.yaml:4: tasks depend on each other in a cycle: a → c → b → a; "
        "remove one of these depends_on"
    ]


def test_task_depending_on_itself_is_a_cycle(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - {id: a, shell: x, depends_on: a}\n")
    assert found == [
        "workflows/daily.yaml:2: tasks depend on each other in a cycle: a → a; "
        "remove one of these depends_on"
    ]


def test_bad_cron_expression_is_reported_at_the_schedule(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "triggers:\n  - schedule: '0 25 * * *'\ntasks: [{id: a, shell: x}]\n"
    )
    assert len(found) == 1
    assert found[0].startswith("workflows/daily.yaml:2: schedule trigger: ")
    assert "25" in found[0]


def test_bad_time_zone_is_reported_at_the_timezone(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        triggers:
          - schedule: "0 5 * * *"
            timezone: America/Nowhere
        tasks: [{id: a, shell: x}]
        """,
    )
    assert len(found) == 1
    assert found[0].startswith("workflows/daily.yaml:3: schedule trigger: ")
    assert "America/Nowhere" in found[0]


def test_bad_durations(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        tasks:
          - id: a
            shell: x
            retry_delay: 30 secs
            timeout: 0s
            late_after: -1
        """,
    )
    assert found == [
        "workflows/daily.yaml:4: task 'a': retry_delay: '30 secs' is not a duration; "
        "write e.g. 30s, 5m, 1h30m or 2d",
        "workflows/daily.yaml:5: task 'a': timeout must be more than zero, got '0s'",
        "workflows/daily.yaml:6: task 'a': late_after: -1 is negative; durations are zero or more",
    ]


def test_bad_enum_values_list_the_allowed_ones(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        triggers:
          - schedule: "0 5 * * *"
            catchup: some
          - workflow: daily
            status: done
        tasks:
          - id: a
            shell: x
            trigger_rule: all_succes
            late_after: 1h
            on_late: skip
        """,
    )
    assert found == [
        "workflows/daily.yaml:3: schedule trigger: catchup must be one of latest, all, none, "
        "got 'some'",
        "workflows/daily.yaml:5: workflow trigger: status must be one of success, failed, any, "
        "got 'done'",
        "workflows/daily.yaml:9: task 'a': trigger_rule must be one of all_success, all_done, "
        "all_failed, one_success, one_failed, none_failed, got 'all_succes'; "
        "did you mean 'all_success'?",
        "workflows/daily.yaml:11: task 'a': on_late must be one of wait, continue, fail, got 'skip'",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        params: [days]
        max_active_runs: 0
        tasks:
          - id: a
            shell: x
            retries: -1
            priority: high
            params: 3
            produces: [1]
            retry_backoff: 0.5
        """,
    )
    assert found == [
        "workflows/daily.yaml:1: params must be a mapping (key: value), got ['days']",
        "workflows/daily.yaml:2: max_active_runs must be a whole number 1 or more, got 0",
        "workflows/daily.yaml:6: task 'a': retries must be a whole number 0 or more, got -1",
        "workflows/daily.yaml:7: task 'a': priority must be a whole number, got 'high'",
        "workflows/daily.yaml:8: task 'a': params must be a mapping (key: value), got 3",
        "workflows/daily.yaml:9: task 'a': produces must be a name or a list of names, got [1]",
        "workflows/daily.yaml:10: task 'a': retry_backoff must be a number 1 or more, got 0.5",
    ]


def test_params_must_hold_json_values(tmp_path: Path) -> None:
    found = problems(tmp_path, "params: {since: 2024-01-01}\ntasks: [{id: a, shell: x}]\n")
    assert found == [
        "workflows/daily.yaml:1: params must hold JSON values only; "
        "datetime.date(2024, 1, 1) is a date; quote it to make it a string"
    ]


def test_task_without_a_kind_lists_the_kinds(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    retries: 1\n")
    assert found == [
        "workflows/daily.yaml:2: task 'a': say what the task runs with one of: "
        "run (module:function), shell (a shell command), workflow (a workflow name), "
        "extract (a connection in podium.yaml), "
        "transform (a model selector: a folder, a model, +model), "
        "check (a check, checks/<file>.yaml or a model selector), http (a URL), "
        "sync (a sync of podium.yaml's syncs:), "
        "dbt (a dbt project folder with dbt_project.yml, relative to the project)"
    ]


def test_task_with_two_kinds(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    shell: x\n    run: m:f\n")
    assert found == [
        "workflows/daily.yaml:4: task 'a': a task runs one thing; it has shell and run"
    ]


def test_a_dbt_task_names_a_dbt_project_folder(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    dbt: something\n")
    assert len(found) == 1
    assert found[0].startswith(
        "workflows/daily.yaml:3: task 'a': dbt project folder 'something' does not exist"
    )


def test_extract_names_a_source_connection_and_its_streams(tmp_path: Path) -> None:
    config = (
        "connections:\n"
        "  drops: {type: files, path: inbox, streams: {sales: {pattern: '*.csv'}}}\n"
        "  chat: {type: slack}\n"
    )
    write(tmp_path, "podium.yaml", config)
    write(
        tmp_path,
        "workflows/daily.yaml",
        "tasks:\n"
        "  - {id: a, extract: drops, streams: [sales, salez], full_refresh: true}\n"
        "  - {id: b, extract: chat}\n"
        "  - {id: c, extract: nope}\n"
        "  - {id: d, shell: x, streams: [a]}\n",
    )
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path, environ={})
    assert [str(p) for p in info.value.problems] == [
        "workflows/daily.yaml:2: task 'a': connection 'drops' has no stream 'salez'; "
        "did you mean 'sales'?",
        "workflows/daily.yaml:3: task 'b': connection 'chat' is not a source (type: 'slack'; "
        "extract reads rest, files, shopify, amazon, netsuite, klaviyo)",
        "workflows/daily.yaml:4: task 'c': extracts unknown connection 'nope'; declare it "
        "under connections:",
        "workflows/daily.yaml:5: task 'd': 'streams' applies only to extract tasks",
    ]


def test_run_target_must_be_module_colon_function(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    run: tasks.extract.main\n")
    assert found == [
        "workflows/daily.yaml:3: task 'a': run target 'tasks.extract.main' must look like "
        "module:function (e.g. pipeline.steps:extract)"
    ]


def test_task_needs_an_id(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - shell: x\n  - id: 'a b'\n    shell: x\n  - 3\n")
    assert found == [
        "workflows/daily.yaml:2: each task needs an id: (a unique name within its workflow)",
        "workflows/daily.yaml:3: task 'a b': task id 'a b' may hold only letters, digits, "
        "'_', '.' and '-'",
        "workflows/daily.yaml:5: each task must be a mapping with id:",
    ]


def test_workflow_needs_tasks(tmp_path: Path) -> None:
    assert problems(tmp_path, "name: empty\n") == [
        "workflows/daily.yaml:1: a workflow needs tasks: a list of at least one task"
    ]


def test_unknown_trigger_kind_lists_the_kinds(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        triggers:
          - sensor: shopify
          - cron: "0 5 * * *"
          - "0 5 * * *"
        tasks: [{id: a, shell: x}]
        """,
    )
    assert found == [
        "workflows/daily.yaml:2: unknown trigger kind 'sensor' (kinds: schedule, event, "
        "workflow, asset, webhook)",
        "workflows/daily.yaml:3: unknown trigger kind 'cron' (kinds: schedule, event, workflow, "
        "asset, webhook)",
        'workflows/daily.yaml:4: each trigger must be a mapping such as {schedule: "0 5 * * *"}',
    ]


def test_asset_trigger_forms(tmp_path: Path) -> None:
    wf = project(
        tmp_path,
        """
        triggers:
          - asset: [a, b]
          - asset: {any_of: [c]}
          - asset: {all_of: [d, e]}
        tasks: [{id: a, shell: x}]
        """,
    ).workflow("daily")
    assert [(t.assets, t.all_of, t.deadline) for t in wf.triggers] == [  # type: ignore[union-attr]
        (("a", "b"), False, None),
        (("c",), False, None),
        (("d", "e"), True, None),
    ]


def test_asset_trigger_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        triggers:
          - asset: [a, b]
            deadline: 2h
          - asset: {any_of: [a], deadline: 2h}
          - asset: {all_of: [], deadline: soon}
        tasks: [{id: a, shell: x}]
        """,
    )
    assert found == [
        "workflows/daily.yaml:3: asset trigger: write the deadline inside: "
        "asset: {all_of: [a, b], deadline: 2h}",
        "workflows/daily.yaml:4: asset trigger: deadline applies only with all_of",
        "workflows/daily.yaml:5: asset trigger: deadline: 'soon' is not a duration; "
        "write e.g. 30s, 5m, 1h30m or 2d",
        "workflows/daily.yaml:5: asset trigger: name at least one asset",
    ]


def test_defaults_reject_per_task_keys(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "defaults: {depends_on: [a], retrys: 2}\ntasks: [{id: a, shell: x}]\n"
    )
    assert found == [
        "workflows/daily.yaml:1: defaults: 'depends_on' cannot be a default; set it on each task",
        "workflows/daily.yaml:1: defaults: unknown key 'retrys'; did you mean 'retries'?",
    ]


def test_on_late_without_late_after(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - id: a\n    shell: x\n    on_late: continue\n")
    assert found == [
        "workflows/daily.yaml:4: task 'a': on_late has no effect without late_after; "
        "add late_after: 3h"
    ]


@pytest.mark.parametrize("text", ["- a\n", ""])
def test_workflow_file_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [
        "workflows/daily.yaml:1: a workflow file must be a mapping with name:, triggers: and tasks:"
    ]


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "podium.yaml", "pool: {}\n")
    write(tmp_path, "workflows/a.yaml", "tasks:\n  - {id: x, shell: y, retries: many}\n")
    write(tmp_path, "workflows/b.yaml", "tasks: [{id: x}\n")
    write(tmp_path, "workflows/c.yaml", "tasks:\n  - {id: x, run: m:f, depends_on: z}\n")
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path, environ={})
    found = [(p.file, p.line) for p in info.value.problems]
    assert found == [
        ("podium.yaml", 1),
        ("workflows/a.yaml", 2),
        ("workflows/b.yaml", 2),
        ("workflows/c.yaml", 2),
        ("workflows/c.yaml", 2),
    ]
    assert "no module named 'm'" in info.value.problems[-1].message
    assert str(info.value).count("\n") == 4


def test_event_triggers_that_no_event_could_start_are_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        triggers:
          - event: TaskFinished
          - event: runfinished
          - event: RunFinished
          - event: orders_dropped
        tasks: [{id: a, shell: x}]
        """,
    )
    assert found == [
        "workflows/daily.yaml:2: event trigger: event 'TaskFinished': podium's system event"
        " 'TaskFinished' never reaches triggers (only AssetUpdated, CheckEvaluated,"
        " RunFinished, SlaMissed do), and no custom event may take that name, so this trigger"
        " never starts; start after a workflow with a workflow: trigger"
        " (podium.after_workflow) or after an asset's update with an asset: trigger"
        " (podium.on_asset)",
        "workflows/daily.yaml:3: event trigger: event 'runfinished' is not podium's system"
        " event 'RunFinished' (names are exact), and no custom event may take that name, so"
        " this trigger never starts; write event: RunFinished",
    ]
