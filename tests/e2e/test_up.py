"""``podium up`` as a real subprocess on a free loopback port, driven over HTTP.

The engine, the scheduler and the API run in one process; other ``podium`` commands talk
to it through the store (and wake it with a datagram). The ``* * * * *`` schedule test
uses the ``podium up`` that ``conftest.minutely_up`` starts with the e2e session, so its
first tick has usually passed by the time that (last) test looks.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .conftest import (
    DEFAULT_CONFIG,
    MakeProject,
    Project,
    Up,
    free_port,
    podium_cli,
    podium_env,
    wait_until,
)

TASKS_PY = """
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
    ctx.log.info("hello from %s", ctx.task_id)
    return {"params": dict(ctx.params), "trigger": dict(ctx.trigger)}


def flaky(ctx):
    if not (ROOT / "marks" / "flaky.failed").exists():
        mark("flaky.failed")
        raise RuntimeError("first try fails")
    return {"attempt": ctx.attempt, "upstream": dict(ctx.upstream)}


def until_cancelled(ctx):
    mark("long.started")
    deadline = time.monotonic() + 30
    while not ctx.cancelled.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "done"


def outlives_lease(ctx):
    mark(f"outlives.started.{ctx.attempt}")
    time.sleep(6 if ctx.attempt == 1 else 0.1)
    mark(f"outlives.ended.{ctx.attempt}")
    return ctx.attempt


def drained(ctx):
    mark("drained.started")
    time.sleep(1.5)
    mark("drained.ended")
    return "finished while draining"


def leak_token(ctx):
    return {"token": os.environ["SHOP_TOKEN"]}
"""

WORKFLOWS = {
    "workflows/hello.yaml": """
        name: hello
        params: {days: 1}
        tasks:
          - id: greet
            run: pipeline.tasks:hello
          - id: shout
            shell: "echo shout"
            depends_on: [greet]
    """,
    "workflows/on_drop.yaml": """
        name: on_drop
        params: {store: any, days: 1}
        triggers:
          - event: orders_dropped
            filter: {store: us}
        tasks:
          - id: greet
            run: pipeline.tasks:hello
    """,
    "workflows/etl.yaml": """
        name: etl
        tasks:
          - id: extract
            run: pipeline.tasks:hello
          - id: load
            run: pipeline.tasks:flaky
            depends_on: [extract]
    """,
    "workflows/long.yaml": """
        name: long
        tasks:
          - id: long
            run: pipeline.tasks:until_cancelled
    """,
}

TERMINAL = ("succeeded", "failed", "cancelled")


def api_project(
    make_project: MakeProject,
    extra: dict[str, str] | None = None,
    config: str = DEFAULT_CONFIG,
    **kwargs: Any,
) -> Project:
    files = {"pipeline/tasks.py": TASKS_PY, "podium.yaml": config, **WORKFLOWS, **(extra or {})}
    return make_project(files, **kwargs)


def start_run(up: Up, workflow: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = up.http.post(f"/api/workflows/{workflow}/runs", json={"params": params or {}})
    assert response.status_code == 201, response.text
    return dict(response.json())


# -- serving -----------------------------------------------------------------------------------


def test_health_docs_openapi_and_workflows(make_project: MakeProject) -> None:
    project = api_project(make_project)
    up = project.up()
    assert up.proc.out.startswith("podium up: engine ")
    assert f"UI on http://127.0.0.1:{up.port}/ (API docs at /docs)" in up.proc.out

    assert up.http.get("/api/health").json() == {"status": "ok", "store": "sqlite", "workflows": 4}
    docs = up.http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = up.http.get("/openapi.json").json()
    for path in (
        "/api/health",
        "/api/workflows",
        "/api/workflows/hello/runs",  # one path per workflow, with its declared params
        "/api/workflows/etl/runs",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/logs",
        "/api/runs/{run_id}/retry",
        "/api/runs/{run_id}/cancel",
        "/api/events",
    ):
        assert path in spec["paths"], path

    workflows = {w["name"]: w for w in up.http.get("/api/workflows").json()}
    assert set(workflows) == {"hello", "on_drop", "etl", "long"}
    assert workflows["hello"]["tasks"] == 2 and workflows["hello"]["params"] == {"days": 1}
    assert workflows["hello"]["last_run"] is None
    assert workflows["on_drop"]["triggers"] == [
        {"type": "event", "event": "orders_dropped", "filters": {"store": "us"}}
    ]


def test_start_a_run_with_params_and_see_it_succeed(make_project: MakeProject) -> None:
    project = api_project(make_project)
    up = project.up()
    created = start_run(up, "hello", {"days": 5})
    assert created["workflow"] == "hello" and created["status"] in (
        "queued",
        "running",
        "succeeded",
    )
    assert created["params"] == {"days": 5} and created["trigger"] == {"type": "api"}
    run = up.wait_run(created["run_id"], timeout=15)
    assert run["status"] == "succeeded", run
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["greet"]["output"]["params"] == {"days": 5}
    assert tasks["shout"]["output"]["last_line"] == "shout"

    listed = up.runs(workflow="hello")
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    attempts = up.http.get(f"/api/runs/{run['run_id']}/attempts").json()
    assert sorted((a["task_id"], a["attempt"], a["status"]) for a in attempts) == [
        ("greet", 1, "succeeded"),
        ("shout", 1, "succeeded"),
    ]
    logs = up.http.get(f"/api/runs/{run['run_id']}/logs", params={"task": "greet"}).json()
    assert [line["line"] for line in logs] == ["INFO hello from greet"]
    events = [
        e["type"] for e in up.http.get("/api/events", params={"run_id": run["run_id"]}).json()
    ]
    assert events[0] == "RunRequested" and events[-1] == "RunFinished"
    last = {w["name"]: w for w in up.http.get("/api/workflows").json()}["hello"]["last_run"]
    assert last["run_id"] == run["run_id"]


def test_api_errors_are_json_with_the_right_status(make_project: MakeProject) -> None:
    project = api_project(make_project)
    up = project.up()
    missing = up.http.get("/api/runs/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no run 'nope'; list runs with `podium runs`"}
    for method, path in (
        ("GET", "/api/runs/nope/logs"),
        ("GET", "/api/runs/nope/attempts"),
        ("POST", "/api/runs/nope/retry"),
        ("POST", "/api/runs/nope/cancel"),
    ):
        response = up.http.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"].startswith("no run 'nope'")

    unknown_wf = up.http.post("/api/workflows/helo/runs", json={})
    assert unknown_wf.status_code == 404
    assert "did you mean 'hello'?" in unknown_wf.json()["error"]
    bad_param = up.http.post("/api/workflows/hello/runs", json={"params": {"dayz": 1}})
    assert bad_param.status_code == 400
    assert "has no param 'dayz'; did you mean 'days'?" in bad_param.json()["error"]

    # bodies that are not what the endpoint takes: 400 with the same {"error": …} shape
    for path, body in (
        ("/api/workflows/hello/runs", b"{bad json"),
        ("/api/workflows/hello/runs", b'{"params": [1, 2]}'),
        ("/api/events", b'{"payload": {}}'),
        ("/api/events", b'{"name": "x", "payload": [1]}'),
        ("/api/events", b'{"name": ""}'),
    ):
        response = up.http.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["error"].startswith("bad request: "), response.text
    assert up.runs() == []  # none of that started anything


# -- triggers ----------------------------------------------------------------------------------


def test_posted_events_start_only_matching_event_triggers(make_project: MakeProject) -> None:
    project = api_project(make_project)
    # an event emitted while no engine runs waits in the store for `podium up`
    early = project.podium("emit", "orders_dropped", "--payload", '{"store": "us", "days": 9}')
    assert early.code == 0, early
    up = project.up()
    waited = wait_until(lambda: up.runs(workflow="on_drop"), 5, message="the early event's run")
    assert waited[0]["params"] == {"store": "us", "days": 9}
    assert up.wait_run(waited[0]["run_id"], 15)["status"] == "succeeded"
    other = up.http.post("/api/events", json={"name": "orders_dropped", "payload": {"store": "eu"}})
    assert other.status_code == 202, other.text
    unrelated = up.http.post(
        "/api/events", json={"name": "something_else", "payload": {"store": "us"}}
    )
    assert unrelated.status_code == 202
    matching = up.http.post(
        "/api/events",
        json={"name": "orders_dropped", "payload": {"store": "us", "days": 4, "extra": "x"}},
    )
    assert matching.status_code == 202
    seq = matching.json()["seq"]
    assert matching.json()["name"] == "orders_dropped"
    assert seq > unrelated.json()["seq"] > other.json()["seq"]

    runs = wait_until(
        lambda: len(r := up.runs(workflow="on_drop")) == 2 and r, 5, message="the event's run"
    )
    run = up.wait_run(runs[0]["run_id"], timeout=15)
    assert run["status"] == "succeeded"
    assert run["trigger"] == {
        "type": "event",
        "event": "orders_dropped",
        "seq": seq,
        "payload": {"store": "us", "days": 4, "extra": "x"},
    }
    # declared params come from the payload; the rest stays in the trigger
    assert run["params"] == {"store": "us", "days": 4}
    assert run["tasks"][0]["output"]["trigger"]["payload"]["extra"] == "x"
    # the earlier, non-matching events were dispatched before it, and started nothing
    assert len(up.runs()) == 2


def test_after_workflow_triggers_chain_runs(make_project: MakeProject) -> None:
    project = api_project(
        make_project,
        {
            "workflows/chain.py": """
import podium

second = podium.Workflow("second", triggers=[podium.after_workflow("hello")])


@second.task()
def relay(ctx):
    return dict(ctx.trigger)


third = podium.Workflow("third", triggers=[podium.after_workflow("second", status="any")])


@third.task()
def finish(ctx):
    return "end of chain"


on_failure = podium.Workflow("on_failure", triggers=[podium.after_workflow("hello", status="failed")])


@on_failure.task()
def alert(ctx):
    return "hello failed"
""",
        },
    )
    assert project.ok("validate").out.startswith("ok: 7 workflows")
    up = project.up()
    first = start_run(up, "hello")
    third = wait_until(
        lambda: up.runs(workflow="third"), 15, interval=0.05, message="the third run of the chain"
    )
    assert up.wait_run(third[0]["run_id"], 15)["status"] == "succeeded"
    second = up.runs(workflow="second")
    assert len(second) == 1
    assert second[0]["status"] == "succeeded"
    assert second[0]["trigger"] == {
        "type": "workflow",
        "workflow": "hello",
        "run_id": first["run_id"],
        "status": "succeeded",
    }
    assert third[0]["trigger"]["run_id"] == second[0]["run_id"]
    assert up.runs(workflow="on_failure") == []  # hello succeeded
    assert up.run(first["run_id"])["status"] == "succeeded"


# -- retry / cancel ----------------------------------------------------------------------------


def test_retry_and_cancel_through_the_api(make_project: MakeProject) -> None:
    project = api_project(make_project)
    up = project.up()
    failed = up.wait_run(start_run(up, "etl")["run_id"], 15)
    assert failed["status"] == "failed"
    run_id = failed["run_id"]
    retried = up.http.post(f"/api/runs/{run_id}/retry", json={"failed_only": True})
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"run_id": run_id, "tasks": ["load"]}
    run = up.wait_run(run_id, 15)
    assert run["status"] == "succeeded"
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["extract"]["attempts"] == 1
    assert tasks["load"]["attempts"] == 2
    assert tasks["load"]["output"] == {
        "attempt": 2,
        "upstream": {"extract": tasks["extract"]["output"]},
    }
    nothing = up.http.post(f"/api/runs/{run_id}/retry", json={"failed_only": True})
    assert nothing.status_code == 409 and "no failed tasks" in nothing.json()["error"]

    long = start_run(up, "long")
    wait_until(
        lambda: (project.root / "marks" / "long.started").exists(),
        10,
        message="the long task to start",
    )
    busy = up.http.post(f"/api/runs/{long['run_id']}/retry", json={})
    assert busy.status_code == 409 and "is still running" in busy.json()["error"]
    cancelling = up.http.post(f"/api/runs/{long['run_id']}/cancel")
    assert cancelling.status_code == 200
    assert cancelling.json() == {"run_id": long["run_id"], "cancelling": True}
    ended = up.wait_run(long["run_id"], 10)
    assert ended["status"] == "cancelled"
    assert ended["tasks"][0]["status"] == "cancelled"
    again = up.http.post(f"/api/runs/{long['run_id']}/cancel")
    assert again.json() == {"run_id": long["run_id"], "cancelling": False}


# -- other processes talking to a running `podium up` ----------------------------------------


def test_cli_commands_from_another_process_wake_up_at_once(make_project: MakeProject) -> None:
    # A long poll interval: only the wake-up datagram can explain a fast reaction.
    project = api_project(make_project, config=DEFAULT_CONFIG + "engine: {poll_interval: 10s}\n")
    up = project.up()
    emitted = project.podium("emit", "orders_dropped", "--payload", '{"store": "us"}')
    returned = time.monotonic()
    assert emitted.code == 0, emitted
    runs = wait_until(
        lambda: up.runs(workflow="on_drop"), 5, interval=0.005, message="the emitted event's run"
    )
    took = time.monotonic() - returned
    assert took < 0.5, f"the run appeared {took:.3f}s after `podium emit` returned"
    assert up.wait_run(runs[0]["run_id"], 5)["status"] == "succeeded"

    # `podium cancel` from another process reaches the running attempt at once as well
    long = start_run(up, "long")
    wait_until(
        lambda: (project.root / "marks" / "long.started").exists(),
        10,
        message="the long task to start",
    )
    cancelled = project.podium("cancel", long["run_id"])
    returned = time.monotonic()
    assert cancelled.code == 0, cancelled
    ended = up.wait_run(long["run_id"], 5)
    took = time.monotonic() - returned
    assert ended["status"] == "cancelled"
    assert took < 1.0, f"the cancel took {took:.3f}s to reach podium up"

    # `podium run` hands the run to podium up and follows it
    ran = project.podium("run", "hello", "--param", "days=2")
    assert ran.code == 0, ran
    assert "podium up is serving this store" in ran.out
    assert re.search(r"run \w+ succeeded", ran.out), ran
    assert up.runs(workflow="hello")[0]["params"] == {"days": 2}


def test_up_refuses_to_bind_beyond_loopback(tmp_path: Path) -> None:
    project = Project(tmp_path, podium_env())
    project.write({"podium.yaml": DEFAULT_CONFIG})
    result = podium_cli(tmp_path, "up", "--host", "0.0.0.0", "--port", "1", timeout=20)
    assert result.code == 2, result
    assert result.err.startswith("podium: --host 0.0.0.0 would expose podium beyond this machine")
    assert "bind to 127.0.0.1" in result.err
    assert "Traceback" not in result.err


def test_up_on_a_port_in_use_fails_with_a_clear_message(make_project: MakeProject) -> None:
    project = api_project(make_project)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = project.podium("up", "--port", str(port), timeout=30)
    assert result.code == 2, result
    assert result.err.startswith("podium: ") and str(port) in result.err, result
    assert "UI on" not in result.out, result  # it never served anything
    assert "Traceback" not in result.err


def test_a_second_up_on_the_same_sqlite_store_refuses(make_project: MakeProject) -> None:
    project = api_project(make_project)
    up = project.up()
    # a free port (up.port + 1 was sometimes another parallel test's): the store refuses
    second = project.podium("up", "--port", str(free_port()), timeout=20)
    assert second.code == 2, second
    assert "another podium engine" in second.err
    assert f"podium up on 127.0.0.1:{up.port}, pid {up.proc.pid}" in second.err
    assert "Traceback" not in second.err
    assert up.healthy()  # the first one is untouched


def test_sigterm_lets_the_running_task_finish_then_stops(make_project: MakeProject) -> None:
    project = api_project(
        make_project,
        {
            "workflows/drain.yaml": """
            name: drain
            tasks:
              - id: drained
                run: pipeline.tasks:drained
        """,
        },
    )
    up = project.up()
    run_id = start_run(up, "drain")["run_id"]
    marks = project.root / "marks"
    wait_until(lambda: (marks / "drained.started").exists(), 10, message="the task to start")
    up.proc.signal(signal.SIGTERM)
    code = up.proc.wait(timeout=20)
    assert code == 0, up.proc.describe()
    assert up.proc.out.rstrip().endswith("podium up: stopped"), up.proc.describe()
    assert "still running" not in up.proc.err, up.proc.describe()
    assert (marks / "drained.ended").exists()
    run = project.show(run_id)  # recorded before it stopped
    assert run["status"] == "succeeded"
    assert run["tasks"][0]["output"] == "finished while draining"
    assert project.query("SELECT status FROM attempts") == [("succeeded",)]


def test_sigterm_stops_after_the_lease_and_the_next_up_takes_over(
    make_project: MakeProject,
) -> None:
    project = api_project(
        make_project,
        {
            "workflows/outlive.yaml": """
            name: outlive
            tasks:
              - id: slow
                run: pipeline.tasks:outlives_lease
        """
        },
        config=DEFAULT_CONFIG + "engine: {lease_timeout: 1s}\n",
    )
    up = project.up()
    run_id = start_run(up, "outlive")["run_id"]
    marks = project.root / "marks"
    wait_until((marks / "outlives.started.1").exists, 10, message="the task to start")
    up.proc.signal(signal.SIGTERM)
    assert up.proc.wait(timeout=10) == 0, up.proc.describe()  # waits the lease (1 s), not 6 s
    assert "podium up: 1 attempts still running; the next engine takes them over" in up.proc.err
    assert up.proc.out.rstrip().endswith("podium up: stopped")
    assert not (marks / "outlives.ended.1").exists()

    again = project.up()
    run = again.wait_run(run_id, 15)
    assert run["status"] == "succeeded" and run["tasks"][0]["output"] == 2
    attempts = again.http.get(f"/api/runs/{run_id}/attempts").json()
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "lost"), (2, "succeeded")]
    assert attempts[0]["error"].startswith("lost: engine ")


TOKEN = "shp_tok_api_7c1d93ee"


def test_api_masks_secrets_like_the_cli(make_project: MakeProject) -> None:
    project = api_project(
        make_project,
        {
            "workflows/shop.yaml": """
            name: shop
            tasks:
              - id: leak
                run: pipeline.tasks:leak_token
        """
        },
        config=DEFAULT_CONFIG + 'connections:\n  shop:\n    token: "${SHOP_TOKEN}"\n',
        env={"SHOP_TOKEN": TOKEN},
    )
    up = project.up()
    run_id = start_run(up, "shop")["run_id"]
    run = up.wait_run(run_id, 15)
    assert run["status"] == "succeeded"
    cli = project.ok("show", run_id, "--json").out
    assert TOKEN not in cli  # the CLI masks it ...
    assert json.loads(cli)["tasks"][0]["output"] == {"token": "***"}
    served = {
        "run": up.http.get(f"/api/runs/{run_id}").text,  # ... and so does the API
        "runs": up.http.get("/api/runs").text,
        "events": up.http.get("/api/events").text,
        "workflows": up.http.get("/api/workflows").text,
        "start": up.http.post("/api/workflows/shop/runs", json={}).text,
    }
    for where, text in served.items():
        assert TOKEN not in text, f"the token leaked in {where}: {text}"
    assert up.http.get(f"/api/runs/{run_id}").json()["tasks"][0]["output"] == {"token": "***"}


# -- the schedule, last: its fixture started with the module ----------------------------------


def test_a_minutely_schedule_fires_while_up_runs(minutely_up: tuple[Up, float]) -> None:
    up, started = minutely_up
    # the first tick is the next minute boundary after `podium up` started
    budget = started + 65 - time.time()
    runs = wait_until(
        lambda: up.runs(workflow="minutely"),
        max(budget, 1),
        interval=0.2,
        message="a run of the * * * * * schedule",
    )
    run = up.wait_run(runs[-1]["run_id"], 15)
    assert run["status"] == "succeeded"
    assert run["trigger"]["type"] == "schedule" and run["trigger"]["cron"] == "* * * * *"
    tick = run["logical_time"]
    assert re.search(r"T\d\d:\d\d:00\+00:00$", tick), tick  # on a minute boundary
    assert run["trigger"]["tick"] == tick
    assert datetime.fromisoformat(tick).timestamp() > started - 1  # no tick from before up
