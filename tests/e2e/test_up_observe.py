"""``podium up`` as an operator watches it: ``--log-format json`` and ``/metrics``, on the
real command."""

from __future__ import annotations

import json
import signal
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .conftest import MakeProject, wait_until

FILES = {
    "workflows/hello.yaml": """
        name: hello
        tasks:
          - id: greet
            shell: "echo hello"
          - id: fail
            shell: "exit 3"
            depends_on: [greet]
    """,
}


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_are_one_object_a_line_with_run_and_task(make_project: MakeProject) -> None:
    project = make_project(FILES)
    up = project.up("--log-format", "json")
    created = up.http.post("/api/workflows/hello/runs", json={})
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    assert up.wait_run(run_id)["status"] == "failed"
    wait_until(lambda: '"run of hello failed"' in up.proc.err, 10, message=up.proc.err)
    up.proc.signal(signal.SIGTERM)
    assert up.proc.wait(timeout=30) == 0
    assert up.proc.out == ""  # everything is a log line on stderr
    lines = json_lines(up.proc.err)  # every line parses
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= set(line), line
    said = [line["message"] for line in lines if line["logger"] == "podium.up"]
    assert said[0].startswith("engine ") and said[-1] == "stopped"
    mine = [line for line in lines if line.get("run_id") == run_id]
    started = [(x["task_id"], x["message"]) for x in mine if "started" in x["message"]]
    assert started == [
        ("greet", "attempt 1 of greet started"),
        ("fail", "attempt 1 of fail started"),
    ]
    failed = next(x for x in mine if x.get("task_id") == "fail" and x.get("status") == "failed")
    assert failed["level"] == "warning" and "exit" in failed["message"]
    ended = next(x for x in mine if x["message"] == "run of hello failed")
    assert ended["workflow"] == "hello" and ended["status"] == "failed"


def test_text_logs_stay_as_they_were(make_project: MakeProject) -> None:
    project = make_project(FILES)
    up = project.up()
    up.proc.signal(signal.SIGTERM)
    assert up.proc.wait(timeout=30) == 0
    assert up.proc.out.startswith("podium up: engine ")
    assert "{" not in up.proc.out


def test_metrics_of_the_real_podium_up_equal_its_store(make_project: MakeProject) -> None:
    project = make_project(FILES)
    up = project.up()
    runs = [up.http.post("/api/workflows/hello/runs", json={}).json()["run_id"] for _ in range(3)]
    for run_id in runs:
        up.wait_run(run_id)
    page = up.http.get("/metrics")
    assert page.status_code == 200, page.text
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            if sample.value and "status" in sample.labels:
                found.setdefault(sample.name, {})[sample.labels["status"]] = sample.value
    for table, name in (("runs", "podium_runs"), ("attempts", "podium_attempts")):
        stored = dict(project.query(f"SELECT status, COUNT(*) FROM {table} GROUP BY status"))
        assert found[name] == stored, table
    assert found["podium_runs"] == {"failed": 3}
