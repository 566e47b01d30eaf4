"""Every ``podium`` command as a user types it, in throw-away project folders.

Each test runs ``python -m podium.cli.main …`` in a subprocess and checks what a user sees:
the exit code (0 done, 1 a run failed, 2 bad input), stdout/stderr, and what ``show`` /
``runs`` / ``logs`` report afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import (
    MakeProject,
    eventually,
    pid_alive,
    podium_cli,
    podium_env,
    run_id_from,
    wait_until,
)

# -- task code shared by the projects below --------------------------------------------------

TASKS_PY = '''
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mark(name, text=""):
    folder = ROOT / "marks"
    folder.mkdir(exist_ok=True)
    with open(folder / name, "a") as fh:
        fh.write(text + "\\n")


def hello(ctx):
    ctx.log.info("hello from %s attempt %d", ctx.task_id, ctx.attempt)
    print("printed by", ctx.task_id)
    return {
        "days": ctx.params.get("days"),
        "who": ctx.params.get("who"),
        "logical_time": ctx.logical_time.isoformat(),
    }


def combine(ctx):
    ctx.log.info("combining %s", sorted(ctx.upstream))
    return {"seen": dict(ctx.upstream)}


def boom(ctx):
    ctx.log.info("about to fail")
    raise RuntimeError("boom: the source said no")


def wait_for_go(ctx):
    """Ends once the test creates marks/go (so the test sees progress while it runs)."""
    mark("gate.waiting")
    deadline = time.monotonic() + 20
    while not (ROOT / "marks" / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("nobody said go")
        time.sleep(0.02)
    return "went"


def counted_extract(ctx):
    mark("extract.calls", f"{ctx.run_id} {ctx.attempt}")
    return {"rows": 7}


def flaky_load(ctx):
    """Fails the first time it ever runs in this project, then succeeds."""
    marker = ROOT / "marks" / "load.failed-once"
    if not marker.exists():
        mark("load.failed-once")
        raise RuntimeError("first try fails")
    return {"got": ctx.upstream["extract"]["rows"], "attempt": ctx.attempt}


def until_cancelled(ctx):
    if ctx.attempt > 1:
        return "retried"
    mark("long.started")
    deadline = time.monotonic() + 30
    while not ctx.cancelled.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "cancelled" if ctx.cancelled.is_set() else "ran out"


def leak_token(ctx):
    token = os.environ["SHOP_TOKEN"]
    ctx.log.info("connecting with token %s", token)
    print("printing the token:", token)
    return {"token": token, "note": f"prefix-{token}-suffix"}


def leak_token_and_fail(ctx):
    raise RuntimeError(f"auth failed for token {os.environ['SHOP_TOKEN']}")


def hang(ctx):
    print("hanging pid", os.getpid(), flush=True)
    time.sleep(30)
    return "woke up"


def die(ctx):
    os._exit(3)


def slow(ctx):
    # lands late, and only once the task its lateness let go (report) has ended in the
    # store: a fixed sleep raced with how fast a loaded machine starts and ends that task
    import sqlite3

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db = sqlite3.connect(ROOT / ".podium" / "state.db")
        try:
            row = db.execute(
                "SELECT status FROM task_runs WHERE run_id = ? AND task_id = 'report'",
                (ctx.run_id,),
            ).fetchone()
        finally:
            db.close()
        if row == ("succeeded",):
            break
        time.sleep(0.05)
    return {"v": "slow"}


def report(ctx):
    ctx.log.info("late upstreams: %s", list(ctx.late_upstreams))
    return {"late": list(ctx.late_upstreams), "upstream": sorted(ctx.upstream)}
'''

TERMINAL = {"succeeded", "failed", "cancelled"}


def project_with(
    make_project: MakeProject,
    workflows: dict[str, str],
    config: str | None = None,
    **kwargs: object,
):
    files = {"pipeline/tasks.py": TASKS_PY, **workflows}
    if config is not None:
        files["podium.yaml"] = config
    return make_project(files, **kwargs)


HELLO_WF = """
name: hello
params: {days: 1, who: nobody}
tasks:
  - id: greet
    run: pipeline.tasks:hello
  - id: shout
    shell: "echo shell says hi; echo second line"
  - id: combine
    run: pipeline.tasks:combine
    depends_on: [greet, shout]
"""


# -- init / validate ---------------------------------------------------------------------------


def test_init_creates_a_runnable_project_and_refuses_to_overwrite(tmp_path: Path) -> None:
    env = podium_env()
    created = podium_cli(tmp_path, "init", "brand", env=env)
    assert created.code == 0, created
    assert "created a podium project" in created.out
    root = tmp_path / "brand"
    for rel in (
        "podium.yaml",
        "workflows/example.yaml",
        "workflows/weekly.py",
        "pipeline/steps.py",
    ):
        assert (root / rel).is_file(), rel

    ok = podium_cli(root, "validate", env=env)
    assert ok.code == 0, ok
    assert ok.out.startswith("ok: 2 workflows, 6 tasks"), ok

    ran = podium_cli(root, "run", "example", env=env)
    assert ran.code == 0, ran
    assert re.search(r"run \w+ succeeded", ran.out), ran

    (root / "podium.yaml").write_text("# mine\n" + (root / "podium.yaml").read_text())
    again = podium_cli(tmp_path, "init", "brand", env=env)
    assert again.code == 2, again
    assert "already has a podium.yaml" in again.err
    assert (root / "podium.yaml").read_text().startswith("# mine\n")

    # a folder without podium.yaml but with a file the template would write
    other = tmp_path / "other"
    (other / "workflows").mkdir(parents=True)
    (other / "workflows" / "example.yaml").write_text("name: mine\n")
    clash = podium_cli(tmp_path, "init", "other", env=env)
    assert clash.code == 2, clash
    assert "workflows/example.yaml" in clash.err and "overwrite" in clash.err
    assert (other / "workflows" / "example.yaml").read_text() == "name: mine\n"
    assert not (other / "podium.yaml").exists()

    template = podium_cli(tmp_path, "init", "third", "--template", "nope", env=env)
    assert template.code == 2, template
    assert "unknown template 'nope'; templates: commerce, commerce-dbt, example" in template.err
    assert not (tmp_path / "third").exists()


BROKEN = {
    "podium.yaml": """
        pools:
          extractors: 2
        engin:
          workers: 2
    """,
    "workflows/broken.yaml": """
        name: broken
        triggers:
          - schedule: "61 * * * *"
        tasks:
          - id: a
            shell: "echo a"
            depends_on: [c]
          - id: b
            shell: "echo b"
            depends_on: [a]
            retires: 3
          - id: c
            shell: "echo c"
            depends_on: [b]
            pool: extractorz
          - id: d
            run: pipeline.nothere:f
            timeout: forever
          - id: e
            shell: "echo e"
            depends_on: [greet]
    """,
    "workflows/fine.yaml": """
        name: fine
        tasks:
          - id: greet
            run: pipeline.tasks:hello
    """,
    "workflows/pyflow.py": """
        import podium

        flow = podium.Workflow("pyflow")
        raise RuntimeError("boom at import")
    """,
}


def test_schema_prints_json_schemas_the_example_project_satisfies(tmp_path: Path) -> None:
    env = podium_env()
    assert podium_cli(tmp_path, "init", "brand", env=env).code == 0
    root = tmp_path / "brand"
    project = podium_cli(root, "schema", "project", env=env)
    assert project.code == 0, project
    output = ".podium/workflow.schema.json"  # a folder that is not there yet is made
    workflow = podium_cli(root, "schema", "workflow", "--output", output, env=env)
    assert workflow.code == 0, workflow
    assert f"wrote the workflow schema to {output}" in workflow.out
    schemas = {
        "podium.yaml": json.loads(project.out),
        "workflows/example.yaml": json.loads((root / output).read_text()),
    }
    for file, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        document = yaml.safe_load((root / file).read_text())
        assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)) == [], file
    broken = {"tasks": [{"id": "a", "shell": "echo", "retries": "two"}]}
    assert not jsonschema.Draft202012Validator(schemas["workflows/example.yaml"]).is_valid(broken)

    missing = podium_cli(root, "schema", env=env)
    assert missing.code == 2 and "required: {project,workflow}" in missing.err, missing
    unwritable = podium_cli(root, "schema", "project", "--output", "workflows", env=env)
    assert unwritable.code == 2, unwritable
    assert unwritable.err.startswith("podium: --output workflows: "), unwritable


def test_validate_reports_every_problem_with_file_and_line(make_project: MakeProject) -> None:
    good = project_with(make_project, {"workflows/hello.yaml": HELLO_WF}, name="good")
    ok = good.podium("validate")
    assert ok.code == 0, ok
    assert ok.out.startswith("ok: 1 workflow, 3 tasks, no problems"), ok

    nowhere = good.podium("validate", "--project", "no/such/folder")
    assert nowhere.code == 2 and "--project no/such/folder: no such folder" in nowhere.err
    (good.root / "empty").mkdir()
    empty = good.podium("validate", "--project", "empty")
    assert empty.code == 2, empty
    assert "podium.yaml: no podium.yaml in" in empty.err and "podium init" in empty.err

    broken = project_with(make_project, dict(BROKEN), name="broken")
    result = broken.podium("validate")
    assert result.code == 2, result
    assert result.out == "", result
    err = result.err
    expected = [
        "podium.yaml:3: unknown key 'engin'; did you mean 'engine'?",
        "workflows/broken.yaml:3: schedule trigger: '61 * * * *': minute 61 is out of range",
        "workflows/broken.yaml:7: tasks depend on each other in a cycle: a → c → b → a",
        "workflows/broken.yaml:11: task 'b': unknown key 'retires'; did you mean 'retries'?",
        "workflows/broken.yaml:15: task 'c': unknown pool 'extractorz'; did you mean 'extractors'?",
        "workflows/broken.yaml:17: task 'd': run target 'pipeline.nothere:f'",
        "workflows/broken.yaml:18: task 'd': timeout: 'forever' is not a duration",
        "workflows/broken.yaml:21: task 'e' depends on unknown task 'greet'",
        "workflows/pyflow.py:4: importing workflows/pyflow.py failed: RuntimeError: boom at import",
    ]
    for line in expected:
        assert line in err, f"missing {line!r} in:\n{err}"
    problems = [ln for ln in err.splitlines() if re.match(r"^[\w./-]+:\d+: ", ln)]
    assert len(problems) == len(expected), err
    assert err.rstrip().endswith(f"{len(expected)} problems found"), err
    assert "Traceback" not in err

    # every other command refuses the broken project the same way, without running anything
    run = broken.podium("run", "fine")
    assert run.code == 2, run
    assert "podium.yaml:3: unknown key 'engin'" in run.err
    assert not (broken.root / ".podium").exists()


# -- run ---------------------------------------------------------------------------------------


def test_run_prints_live_progress_and_exits_0(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/live.yaml": """
            name: live
            tasks:
              - id: first
                run: pipeline.tasks:hello
              - id: gate
                run: pipeline.tasks:wait_for_go
              - id: last
                run: pipeline.tasks:combine
                depends_on: [first, gate]
        """,
        },
    )
    proc = project.start("run", "live")
    # `first` is reported while `gate` still waits: the progress is live
    wait_until(lambda: "✓ first" in proc.out, 15, message=f"'✓ first' while running:\n{proc.out}")
    assert proc.alive()
    assert "last" not in proc.out
    (project.root / "marks").mkdir(exist_ok=True)
    (project.root / "marks" / "go").touch()
    assert proc.wait(timeout=20) == 0, proc.describe()
    out = proc.out
    run_id = run_id_from(out)
    assert out.splitlines()[0] == f"run {run_id} of live started"
    for task in ("first", "gate", "last"):
        assert re.search(rf"✓ {task}\s+succeeded", out), out
    assert re.search(rf"run {run_id} succeeded in [\d.]+s \(3 succeeded\)", out), out
    assert proc.err == ""


FAILING_WF = """
name: failing
tasks:
  - id: good
    run: pipeline.tasks:hello
  - id: bad
    run: pipeline.tasks:boom
  - id: after_bad
    run: pipeline.tasks:combine
    depends_on: [bad]
  - id: bad_shell
    shell: "echo going down; exit 4"
"""


def test_run_exits_1_when_a_task_fails(make_project: MakeProject) -> None:
    project = project_with(make_project, {"workflows/failing.yaml": FAILING_WF})
    result = project.podium("run", "failing")
    assert result.code == 1, result
    assert re.search(r"✗ bad\s+failed", result.out), result
    assert re.search(r"↯ after_bad\s+upstream_failed", result.out), result
    assert "bad attempt 1 failed: RuntimeError: boom: the source said no" in result.out
    assert re.search(r"run \w+ failed in", result.out), result
    assert "Traceback" not in result.err

    as_json = project.podium("run", "failing", "--json")
    assert as_json.code == 1, as_json
    run = json.loads(as_json.out)  # the whole stdout is one JSON object
    assert run["status"] == "failed"
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["good"]["status"] == "succeeded"
    assert tasks["bad"]["status"] == "failed"
    assert tasks["bad"]["error"] == "RuntimeError: boom: the source said no"
    assert tasks["after_bad"]["status"] == "upstream_failed"
    assert tasks["bad_shell"]["status"] == "failed"
    assert tasks["bad_shell"]["error"] == "RuntimeError: command exited with status 4: going down"


def test_run_refuses_bad_input_with_exit_2(make_project: MakeProject) -> None:
    project = project_with(make_project, {"workflows/hello.yaml": HELLO_WF})
    unknown = project.podium("run", "helo")
    assert unknown.code == 2, unknown
    assert unknown.err.strip() == (
        "podium: no workflow named 'helo'; did you mean 'hello'? (workflows: hello)"
    )
    bad_param = project.podium("run", "hello", "--param", "dayz=3")
    assert bad_param.code == 2, bad_param
    assert "has no param 'dayz'; did you mean 'days'?" in bad_param.err
    malformed = project.podium("run", "hello", "--param", "days")
    assert malformed.code == 2, malformed
    assert "is not NAME=VALUE" in malformed.err
    for result in (unknown, bad_param, malformed):
        assert result.out == "" and "Traceback" not in result.err
    assert project.runs() == []  # nothing was started


def test_run_params_json_runs_show_and_logs(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/hello.yaml": HELLO_WF,
            "workflows/other.yaml": """
            name: other
            tasks:
              - id: only
                shell: "echo other"
        """,
        },
    )
    result = project.podium("run", "hello", "--param", "days=7", "--param", "who=ann", "--json")
    assert result.code == 0, result
    run = json.loads(result.out)  # nothing but one JSON object on stdout
    for key in (
        "run_id",
        "workflow",
        "status",
        "trigger",
        "params",
        "started_at",
        "finished_at",
        "tasks",
    ):
        assert key in run, key
    assert run["workflow"] == "hello"
    assert run["status"] == "succeeded"
    assert run["trigger"] == {"type": "manual"}
    assert run["params"] == {"days": 7, "who": "ann"}
    assert run["started_at"] <= run["finished_at"]
    tasks = {t["id"]: t for t in run["tasks"]}
    assert list(tasks) == ["greet", "shout", "combine"]
    for task in tasks.values():
        for key in ("id", "status", "attempts", "started_at", "finished_at", "late", "error"):
            assert key in task, key
        assert task["status"] == "succeeded" and task["attempts"] == 1
        assert task["late"] is False and task["error"] is None
    # the params reached the task, the JSON value 7 as a number
    greet = tasks["greet"]["output"]
    assert greet["days"] == 7 and greet["who"] == "ann"
    assert greet["logical_time"] == run["logical_time"]
    assert tasks["combine"]["output"]["seen"]["greet"] == greet
    run_id = run["run_id"]

    assert project.ok("run", "other").code == 0

    # runs: newest first, filtered by workflow, text and JSON
    listed = project.runs()
    assert [r["workflow"] for r in listed] == ["other", "hello"]
    assert project.runs("--status", "failed") == []
    only_hello = project.runs("--workflow", "hello")
    assert [r["run_id"] for r in only_hello] == [run_id]
    text = project.ok("runs", "--workflow", "hello").out
    assert text.splitlines()[0].split() == [
        "RUN",
        "WORKFLOW",
        "STATUS",
        "TRIGGER",
        "LOGICAL",
        "DATE",
        "CREATED",
        "TOOK",
    ]
    assert len(text.splitlines()) == 2 and run_id in text and "succeeded" in text
    assert "other" not in text

    # show, text and JSON
    shown = project.ok("show", run_id).out
    assert f"run {run_id}  workflow hello  succeeded" in shown
    assert "params {'days': 7, 'who': 'ann'}" in shown
    for task in ("greet", "shout", "combine"):
        assert re.search(rf"{task}\s+succeeded\s+1", shown), shown
    assert project.show(run_id)["tasks"] == run["tasks"]

    # logs: ctx.log lines, print output and shell output, in time order, each line with its
    # time stamp and the task and attempt it came from
    logs = project.ok("logs", run_id).out
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"
    assert re.search(rf"^{stamp}  greet#1  INFO hello from greet attempt 1$", logs, re.M), logs
    assert re.search(rf"^{stamp}  greet#1  printed by greet$", logs, re.M), logs
    assert re.search(
        rf"^{stamp}  shout#1  shell says hi\n{stamp}  shout#1  second line$", logs, re.M
    )
    stamps = re.findall(rf"^({stamp})  ", logs, re.M)
    assert len(stamps) == len(logs.splitlines()) and stamps == sorted(stamps), logs
    one = project.ok("logs", run_id, "greet").out
    assert [line.split("  ", 1)[1] for line in one.splitlines()] == [
        "INFO hello from greet attempt 1",
        "printed by greet",
    ]

    for args in (
        ("show", "nope"),
        ("show", "nope", "--json"),
        ("logs", "nope"),
        ("logs", run_id, "nope"),
    ):
        missing = project.podium(*args)
        assert missing.code == 2, missing
        assert missing.err.startswith("podium: "), missing
        assert "Traceback" not in missing.err


def test_a_second_podium_run_on_the_same_store_does_not_hang(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/gate.yaml": """
            name: gate
            tasks:
              - id: gate
                run: pipeline.tasks:wait_for_go
        """,
            "workflows/hello.yaml": HELLO_WF,
        },
    )
    first = project.start("run", "gate")
    wait_until(
        (project.root / "marks" / "gate.waiting").exists,
        15,
        message=f"the first run's task to start\n{first.describe()}",
    )
    second = project.start("run", "hello")
    wait_until(lambda: "started" in second.out, 15, message="the second run to be created")
    # let it find the store taken (today it says so on a second line) before freeing it
    eventually(lambda: len(second.out_lines) + len(second.err_lines) >= 2, 10)
    (project.root / "marks" / "go").touch()
    assert first.wait(timeout=15) == 0, first.describe()
    try:  # the store is free again: the second one must not wait forever
        code = second.wait(timeout=8)
    except subprocess.TimeoutExpired:
        second.kill_group()
        pytest.fail(
            f"the second `podium run` still waits 8s after the first ended:\n{second.describe()}"
        )
    assert "podium up is serving this store" not in second.out, second.describe()
    if code == 0:
        assert project.show(run_id_from(second.out))["status"] == "succeeded"
    else:
        assert code == 2 and "podium run" in second.err, second.describe()


def test_run_held_back_by_max_active_runs_says_what_it_waits_for(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/nightly.yaml": """
            name: nightly
            max_active_runs: 1
            triggers:
              - schedule: "0 5 * * *"
            tasks:
              - id: greet
                run: pipeline.tasks:hello
        """,
        },
    )
    # two runs queued for `podium up`; the first is admitted, so it holds the one slot
    queued = project.ok("backfill", "nightly", "--start", "2026-01-01", "--end", "2026-01-02")
    assert "2 runs created" in queued.out
    admitted = [r["run_id"] for r in project.runs() if r["started_at"]]
    assert len(admitted) == 1, project.runs()
    blocker = admitted[0]
    proc = project.start("run", "nightly")
    wait_until(
        lambda: "waiting:" in proc.out, 10, message=f"a note on what it waits for:\n{proc.out}"
    )
    assert proc.alive()
    note = next(line for line in proc.out.splitlines() if "waiting:" in line)
    assert "nightly allows 1 active run(s)" in note and blocker in note, note
    assert f"podium cancel {blocker}" in note
    proc.kill_group()


# -- retry / cancel ----------------------------------------------------------------------------


def test_retry_failed_only_reruns_just_the_failed_task(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/etl.yaml": """
            name: etl
            tasks:
              - id: extract
                run: pipeline.tasks:counted_extract
              - id: load
                run: pipeline.tasks:flaky_load
                depends_on: [extract]
              - id: report
                run: pipeline.tasks:combine
                depends_on: [load]
        """,
        },
    )
    first = project.podium("run", "etl")
    assert first.code == 1, first
    run_id = run_id_from(first.out)
    before = {t["id"]: t for t in project.show(run_id)["tasks"]}
    assert [before[t]["status"] for t in ("extract", "load", "report")] == [
        "succeeded",
        "failed",
        "upstream_failed",
    ]

    retried = project.podium("retry", run_id, "--failed-only", "--wait")
    assert retried.code == 0, retried
    assert f"run {run_id}: re-running 2 task(s): load, report" in retried.out
    assert re.search(rf"run {run_id} succeeded", retried.out), retried
    assert "extract" not in retried.out.split("re-running", 1)[1].split("\n", 1)[1]

    after = project.show(run_id)
    assert after["status"] == "succeeded"
    tasks = {t["id"]: t for t in after["tasks"]}
    assert tasks["extract"]["attempts"] == 1  # not run again ...
    assert tasks["extract"]["output"] == before["extract"]["output"]
    assert tasks["load"]["attempts"] == 2  # attempt numbers continue
    assert tasks["load"]["output"] == {"got": 7, "attempt": 2}  # ... its output was reused
    assert tasks["report"]["status"] == "succeeded"
    calls = (project.root / "marks" / "extract.calls").read_text().splitlines()
    assert calls == [f"{run_id} 1"]

    nothing = project.podium("retry", run_id, "--failed-only")
    assert nothing.code == 2, nothing
    assert "has no failed tasks to retry" in nothing.err
    unknown = project.podium("retry", "nope")
    assert unknown.code == 2 and "no run 'nope'" in unknown.err


def test_cancel_stops_a_running_run(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/long.yaml": """
            name: long
            tasks:
              - id: long
                run: pipeline.tasks:until_cancelled
              - id: after
                run: pipeline.tasks:combine
                depends_on: [long]
        """,
        },
    )
    proc = project.start("run", "long")
    wait_until(
        lambda: (project.root / "marks" / "long.started").exists(),
        15,
        message=f"the task to start\n{proc.out}{proc.err}",
    )
    run_id = run_id_from(proc.out)

    cancelled = project.podium("cancel", run_id)
    assert cancelled.code == 0, cancelled
    assert cancelled.out.strip() == f"run {run_id}: cancelling"
    assert proc.wait(timeout=15) == 1, proc.describe()  # the run ended cancelled: not a success
    run = project.show(run_id)
    assert run["status"] == "cancelled"
    assert {t["id"]: t["status"] for t in run["tasks"]} == {
        "long": "cancelled",
        "after": "cancelled",
    }

    again = project.podium("cancel", run_id)
    assert again.code == 0, again
    assert "had already finished; nothing to cancel" in again.out

    # cancelled tasks are what `retry --failed-only` runs again
    retried = project.podium("retry", run_id, "--failed-only", "--wait")
    assert retried.code == 0, retried
    assert "re-running 2 task(s): after, long" in retried.out
    tasks = {t["id"]: t for t in project.show(run_id)["tasks"]}
    assert tasks["long"]["attempts"] == 2 and tasks["long"]["output"] == "retried"
    assert tasks["after"]["status"] == "succeeded"
    unknown = project.podium("cancel", "nope")
    assert unknown.code == 2 and "no run 'nope'" in unknown.err


# -- emit / backfill / graph / demo ------------------------------------------------------------


def test_emit_stores_events_and_refuses_bad_payloads(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/on_drop.yaml": """
            name: on_drop
            params: {store: none}
            triggers:
              - event: orders_dropped
            tasks:
              - id: greet
                run: pipeline.tasks:hello
        """,
        },
    )
    stored = project.podium("emit", "orders_dropped", "--payload", '{"store": "us"}')
    assert stored.code == 0, stored
    match = re.fullmatch(r"event orders_dropped stored \(#(\d+)\)\n", stored.out)
    assert match, stored
    rows = project.query(
        "SELECT type, payload, pending FROM events WHERE seq = ?", (int(match.group(1)),)
    )
    assert [(t, json.loads(p), pending) for t, p, pending in rows] == [
        ("orders_dropped", {"store": "us"}, 1)
    ]  # pending: it waits for an engine

    for payload, message in (
        ("{bad", "--payload is not valid JSON"),
        ("[1, 2]", "payload must be a JSON object"),
    ):
        bad = project.podium("emit", "orders_dropped", "--payload", payload)
        assert bad.code == 2, bad
        assert message in bad.err and "Traceback" not in bad.err
    assert len(project.query("SELECT seq FROM events WHERE type = 'orders_dropped'")) == 1


def test_emit_refuses_podiums_own_event_names_and_validate_flags_dead_triggers(
    make_project: MakeProject,
) -> None:
    project = project_with(
        make_project,
        {
            "workflows/hello.yaml": HELLO_WF,
            "workflows/after.yaml": """
            name: after
            triggers:
              - workflow: hello
            tasks:
              - id: greet
                run: pipeline.tasks:hello
        """,
        },
    )
    for name in ("RunFinished", "runfinished"):
        forged = project.podium(
            "emit", name, "--payload", '{"workflow": "hello", "status": "succeeded"}'
        )
        assert forged.code == 2, forged
        assert f"event name {name!r}" in forged.err and "podium's system event" in forged.err
        assert "choose another name" in forged.err and "Traceback" not in forged.err
    assert project.query("SELECT seq FROM events") == []

    after = project.root / "workflows/after.yaml"
    after.write_text(after.read_text().replace("- workflow: hello", "- event: TaskFinished"))
    checked = project.podium("validate")
    assert checked.code == 2, checked
    assert "workflows/after.yaml:3: event trigger: event 'TaskFinished'" in checked.err, checked
    assert "podium.after_workflow" in checked.err


BACKFILL_WF = """
name: nightly
triggers:
  - schedule: "0 5 * * *"
    timezone: America/New_York
tasks:
  - id: greet
    run: pipeline.tasks:hello
"""


def test_backfill_creates_one_run_per_tick_once(make_project: MakeProject) -> None:
    project = project_with(
        make_project, {"workflows/nightly.yaml": BACKFILL_WF, "workflows/hello.yaml": HELLO_WF}
    )
    created = project.podium(
        "backfill", "nightly", "--start", "2026-01-01", "--end", "2026-01-03", "--wait"
    )
    assert created.code == 0, created
    assert "backfill of nightly: 3 runs created" in created.out
    assert "3 succeeded, 0 failed" in created.out
    runs = project.runs("--workflow", "nightly")
    assert len(runs) == 3
    # 05:00 in New York is 10:00 UTC in January; each run stands for its own tick
    expected = [f"2026-01-0{day}T10:00:00+00:00" for day in (1, 2, 3)]
    assert sorted(r["logical_time"] for r in runs) == expected
    for run in runs:
        assert run["status"] == "succeeded"
        assert run["trigger"]["type"] == "backfill"
        assert run["trigger"]["tick"] == run["logical_time"]
        greet = project.show(run["run_id"])["tasks"][0]["output"]
        assert greet["logical_time"] == run["logical_time"]  # ctx.logical_time is the tick

    again = project.podium("backfill", "nightly", "--start", "2026-01-01", "--end", "2026-01-03")
    assert again.code == 0, again
    assert "0 runs created, 3 ticks already had a run" in again.out
    assert len(project.runs("--workflow", "nightly")) == 3

    later = project.podium("backfill", "nightly", "--start", "2026-01-03", "--end", "2026-01-04")
    assert later.code == 0, later
    assert "1 runs created, 1 ticks already had a run" in later.out
    assert "--wait" in later.out  # not run here: they wait for `podium up`
    assert project.runs("--workflow", "nightly")[0]["status"] == "queued"

    no_schedule = project.podium(
        "backfill", "hello", "--start", "2026-01-01", "--end", "2026-01-02"
    )
    assert no_schedule.code == 2 and "has no schedule trigger" in no_schedule.err
    bad_date = project.podium("backfill", "nightly", "--start", "yesterday", "--end", "2026-01-02")
    assert bad_date.code == 2 and "--start 'yesterday' is not a date" in bad_date.err
    reversed_ = project.podium(
        "backfill", "nightly", "--start", "2026-01-05", "--end", "2026-01-02"
    )
    assert reversed_.code == 2 and "--end is before --start" in reversed_.err


def test_graph_text_and_dot(make_project: MakeProject) -> None:
    project = project_with(make_project, {"workflows/hello.yaml": HELLO_WF})
    text = project.ok("graph", "hello").out.splitlines()
    assert text[0] == "hello (3 tasks)"
    names = [line.split()[0] for line in text[1:]]
    assert sorted(names) == ["combine", "greet", "shout"]
    assert names[-1] == "combine"  # after everything it depends on
    combine = next(line for line in text if line.split()[0] == "combine")
    assert "[run]" in combine and "← greet, shout" in combine
    assert "[shell]" in next(line for line in text if line.split()[0] == "shout")

    dot = project.ok("graph", "hello", "--format", "dot").out
    assert dot.startswith('digraph "hello" {')
    assert dot.rstrip().endswith("}")
    assert '"greet" -> "combine";' in dot and '"shout" -> "combine";' in dot
    assert dot.count("->") == 2

    unknown = project.podium("graph", "helo")
    assert unknown.code == 2 and "did you mean 'hello'?" in unknown.err
    bad_format = project.podium("graph", "hello", "--format", "png")
    assert bad_format.code == 2 and "invalid choice" in bad_format.err


# -- secrets -----------------------------------------------------------------------------------

TOKEN = "shp_tok_9f3c2a7e1b55"


def test_secrets_are_masked_in_logs_show_and_runs(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/shop.yaml": """
                name: shop
                tasks:
                  - id: leak
                    run: pipeline.tasks:leak_token
                  - id: leak_shell
                    shell: "echo shell token $SHOP_TOKEN"
                  - id: leak_error
                    run: pipeline.tasks:leak_token_and_fail
            """,
        },
        config="""
            store: sqlite:///.podium/state.db
            connections:
              shop:
                token: "${SHOP_TOKEN}"
        """,
        env={"SHOP_TOKEN": TOKEN},
    )
    ran = project.podium("run", "shop", "--json")
    assert ran.code == 1, ran
    run_id = json.loads(ran.out)["run_id"]
    outputs = {"run --json": ran.out + ran.err}
    outputs["logs"] = project.ok("logs", run_id).out
    outputs["show"] = project.ok("show", run_id).out
    outputs["show --json"] = project.ok("show", run_id, "--json").out
    outputs["runs --json"] = project.ok("runs", "--json").out
    for where, text in outputs.items():
        assert TOKEN not in text, f"the token leaked in `podium {where}`:\n{text}"
    logs = outputs["logs"]
    assert "INFO connecting with token ***" in logs
    assert "printing the token: ***" in logs
    assert "shell token ***" in logs
    shown = json.loads(outputs["show --json"])
    tasks = {t["id"]: t for t in shown["tasks"]}
    assert tasks["leak"]["output"] == {"token": "***", "note": "prefix-***-suffix"}
    assert tasks["leak_error"]["error"] == "RuntimeError: auth failed for token ***"
    # the store itself keeps logs and errors masked
    stored = project.query("SELECT line FROM logs") + project.query("SELECT error FROM attempts")
    assert not [row for row in stored if row[0] and TOKEN in row[0]]


@pytest.mark.parametrize(
    "secret", ['pa"ss\\word-42', "pässwörd-42"], ids=["quote-backslash", "non-ascii"]
)
def test_secrets_that_json_escapes_are_masked_too(make_project: MakeProject, secret: str) -> None:
    project = project_with(
        make_project,
        {
            "pipeline/leaky.py": """
                import os


                def leak(ctx):
                    return {"password": os.environ["WH_PASSWORD"]}
            """,
            "workflows/wh.yaml": """
                name: wh
                tasks:
                  - id: leak
                    run: pipeline.leaky:leak
            """,
        },
        config="""
            store: sqlite:///.podium/state.db
            connections:
              warehouse:
                password: "${WH_PASSWORD}"
        """,
        env={"WH_PASSWORD": secret},
    )
    ran = project.podium("run", "wh", "--json")
    assert ran.code == 0, ran
    run = json.loads(ran.out)
    shown = json.loads(project.ok("show", run["run_id"], "--json").out)
    # whoever reads the JSON must not get the password back
    assert run["tasks"][0]["output"] == {"password": "***"}, run["tasks"][0]["output"]
    assert shown["tasks"][0]["output"] == {"password": "***"}, shown["tasks"][0]["output"]


def test_a_workflow_task_runs_its_child_run_in_the_same_podium_run(
    make_project: MakeProject,
) -> None:
    project = project_with(
        make_project,
        {
            "workflows/parent.yaml": """
            name: parent
            tasks:
              - id: pre
                run: pipeline.tasks:hello
              - id: child
                workflow: kid
                depends_on: [pre]
                params: {days: 2}
              - id: post
                run: pipeline.tasks:combine
                depends_on: [child]
        """,
            "workflows/kid.yaml": """
            name: kid
            params: {days: 1}
            tasks:
              - id: inner
                run: pipeline.tasks:hello
        """,
        },
    )
    result = project.podium("run", "parent", "--json", timeout=20)
    assert result.code == 0, result
    run = json.loads(result.out)
    assert run["status"] == "succeeded"
    tasks = {t["id"]: t for t in run["tasks"]}
    kid_run = tasks["child"]["output"]
    assert kid_run["status"] == "succeeded"
    kid = project.show(kid_run["run_id"])
    assert kid["workflow"] == "kid" and kid["parent_run_id"] == run["run_id"]
    assert kid["params"] == {"days": 2}
    assert kid["tasks"][0]["output"]["days"] == 2
    assert tasks["post"]["output"]["seen"]["child"] == kid_run


# -- timeouts, crashes, late tasks -------------------------------------------------------------

HANG_WF = """
name: hang
tasks:
  - id: hang
    run: pipeline.tasks:hang
    timeout: 1s
  - id: hang_shell
    shell: "echo shell pid $$; exec sleep 30"
    timeout: 1s
  - id: quick
    run: pipeline.tasks:hello
"""


def _hang_project(make_project: MakeProject, executor: str):
    return project_with(
        make_project,
        {"workflows/hang.yaml": HANG_WF},
        config=f"store: sqlite:///.podium/state.db\nengine: {{executor: {executor}}}\n",
    )


@pytest.mark.alone  # a bound in seconds: run by itself (Makefile)
@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_timeout_fails_the_run_fast(make_project: MakeProject, executor: str) -> None:
    project = _hang_project(make_project, executor)
    proc = project.start("run", "hang")
    try:
        code = proc.wait(timeout=8)  # the task would sleep 30 s; the timeout is 1 s
    except subprocess.TimeoutExpired:
        proc.kill_group()  # threads: an abandoned task thread must not hold podium open
        pytest.fail(f"`podium run` did not exit within 8s of a 1s timeout:\n{proc.describe()}")
    assert code == 1, proc.describe()
    assert re.search(r"⏱ hang\s+timed_out", proc.out), proc.out
    assert "hang attempt 1 timed_out: timed out after 1s" in proc.out
    run = project.show(run_id_from(proc.out))
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["hang"]["status"] == "timed_out"
    assert tasks["hang"]["error"] == "timed out after 1s"
    assert tasks["hang_shell"]["status"] == "timed_out"
    assert tasks["quick"]["status"] == "succeeded"
    # a shell command is killed under either executor; a `run` task's process under
    # processes (each printed its pid, unless a very busy machine kept it from starting
    # within its timeout)
    logs = project.ok("logs", run["run_id"]).out
    found = re.findall(r"shell pid (\d+)", logs)
    if executor == "processes":
        found += re.findall(r"hanging pid (\d+)", logs)
    for pid in map(int, found):
        wait_until(lambda pid=pid: not pid_alive(pid), 5, message=f"process {pid} to be gone")


def test_a_task_process_exiting_does_not_take_the_engine_down(make_project: MakeProject) -> None:
    project = project_with(
        make_project,
        {
            "workflows/crash.yaml": """
                name: crash
                tasks:
                  - id: die
                    run: pipeline.tasks:die
                  - id: one
                    run: pipeline.tasks:hello
                  - id: two
                    run: pipeline.tasks:combine
                    depends_on: [one]
                  - id: after_die
                    shell: "echo never"
                    depends_on: [die]
            """,
        },
        config="store: sqlite:///.podium/state.db\nengine: {executor: processes}\n",
    )
    result = project.podium("run", "crash", "--json")
    assert result.code == 1, result
    run = json.loads(result.out)
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["die"]["status"] == "failed"
    # 3 as the task exited; CPython's forkserver reports 255 when it could not read a
    # child's status (seen once in ~10 loaded full runs): the engine's behaviour is the same
    assert re.fullmatch(
        r"the task's process exited with status (3|255) before reporting a result",
        tasks["die"]["error"],
    ), tasks["die"]["error"]
    assert tasks["one"]["status"] == tasks["two"]["status"] == "succeeded"
    assert tasks["after_die"]["status"] == "upstream_failed"
    assert "Traceback" not in result.err
    # what a task in its own process logs and prints reaches `podium logs`
    logs = [
        line.split("  ", 1)[1] for line in project.ok("logs", run["run_id"], "one").out.splitlines()
    ]
    assert logs == ["INFO hello from one attempt 1", "printed by one"], logs


def test_late_task_lets_dependants_go_and_a_catchup_restates_them(
    make_project: MakeProject,
) -> None:
    project = project_with(
        make_project,
        {
            "workflows/late.yaml": """
            name: late
            tasks:
              - id: slow
                run: pipeline.tasks:slow
                late_after: 1s
                on_late: continue
              - id: fast
                run: pipeline.tasks:hello
              - id: report
                run: pipeline.tasks:report
                depends_on: [slow, fast]
              - id: publish
                run: pipeline.tasks:report
                depends_on: [report]
              - id: side
                run: pipeline.tasks:report
                depends_on: [fast]
        """,
        },
    )
    result = project.podium("run", "late")
    assert result.code == 0, result  # `podium run` waited for the catch-up run too
    out = result.out
    run_id = run_id_from(out)
    assert re.search(r"… slow\s+late \(on_late: continue\)", out), out
    assert re.search(r"↻ catch-up run (\w+): slow landed late; re-running publish, report", out), (
        out
    )
    # report ran (and was printed) before slow landed
    assert out.index("✓ report") < out.index("✓ slow"), out

    run = project.show(run_id)
    assert run["status"] == "succeeded"
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["slow"]["late"] is True and tasks["slow"]["status"] == "succeeded"
    assert tasks["report"]["late_upstreams"] == ["slow"]
    assert tasks["report"]["incomplete"] is True
    assert tasks["report"]["output"] == {"late": ["slow"], "upstream": ["fast"]}
    assert tasks["report"]["finished_at"] < tasks["slow"]["finished_at"]
    assert tasks["publish"]["incomplete"] is True
    assert tasks["side"]["incomplete"] is False and tasks["fast"]["incomplete"] is False

    assert len(run["catchup_runs"]) == 1
    catchup = project.show(run["catchup_runs"][0])
    assert catchup["status"] == "succeeded"
    assert catchup["kind"] == "catchup" and catchup["parent_run_id"] == run_id
    assert catchup["trigger"]["late_task"] == "slow"
    assert catchup["logical_time"] == run["logical_time"]
    restated = {t["id"]: t for t in catchup["tasks"]}
    assert set(restated) == {"report", "publish"}  # exactly what lies downstream of slow
    assert all(t["status"] == "succeeded" for t in restated.values())
    # the restated report sees slow's output from the original run, and nothing is late
    assert restated["report"]["output"] == {"late": [], "upstream": ["fast", "slow"]}
    assert restated["report"]["incomplete"] is False

    assert f"catch-up run {catchup['run_id']} succeeded" in out
    assert sorted(r["kind"] for r in project.runs()) == ["catchup", "normal"]


def test_plugins_lists_podiums_own_when_none_are_installed(tmp_path: Path) -> None:
    done = podium_cli(tmp_path, "plugins", env=podium_env())
    assert done.code == 0, done.err
    assert (
        "podium.kinds:\n  podium's own: run, shell, workflow, extract, transform, check, http"
        in (done.out)
    )
    assert "podium.sources:\n  podium's own: rest, files, shopify, amazon, netsuite, klaviyo" in (
        done.out
    )
    assert "no plugins installed" in done.out
