"""``podium up`` picks up workflow files written by hand without a restart: a new workflow
runs, a changed one runs its new tasks, and a broken file keeps the last good version with
its problem told (file:line) until it is fixed."""

from __future__ import annotations

import textwrap

from .conftest import MakeProject, wait_until

FIRST = """
    name: first
    tasks:
      - id: one
        shell: "echo one"
"""
SECOND = """
    name: second
    tasks:
      - id: a
        shell: "echo a"
      - id: b
        shell: "echo b"
        depends_on: [a]
"""


def test_up_reloads_changed_workflow_files(make_project: MakeProject) -> None:
    project = make_project({"workflows/first.yaml": FIRST})
    up = project.up()

    def names() -> set[str]:
        return {w["name"] for w in up.http.get("/api/workflows").json()}

    assert names() == {"first"}
    project.write({"workflows/second.yaml": SECOND})
    wait_until(lambda: "second" in names(), 10, interval=0.1, message="second to be served")
    run = up.http.post("/api/workflows/second/runs", json={})
    assert run.status_code == 201, run.text
    assert up.wait_run(run.json()["run_id"])["status"] == "succeeded"
    assert "workflow files changed; reloaded (2 workflows; added second)" in up.proc.out

    # a broken file: the last good version runs on, and the problem names file and line
    broken = SECOND.replace("depends_on: [a]", "depends_on: [nope]")
    project.write({"workflows/second.yaml": broken})
    wait_until(
        lambda: "workflows/second.yaml:7:" in up.proc.err, 10, interval=0.1, message="the problem"
    )
    assert "the last good version runs on" in up.proc.err
    run = up.http.post("/api/workflows/second/runs", json={})
    assert up.wait_run(run.json()["run_id"])["status"] == "succeeded"
    page = up.http.get("/builder")
    assert "workflows/second.yaml:7:" in page.text

    # fixed, with a task more: new runs have it
    fixed = textwrap.dedent(SECOND) + '  - id: c\n    shell: "echo c"\n    depends_on: [b]\n'
    (project.root / "workflows" / "second.yaml").write_text(fixed.lstrip("\n"))
    wait_until(
        lambda: "reloaded (2 workflows)" in up.proc.out, 10, interval=0.1, message="a reload"
    )
    run = up.http.post("/api/workflows/second/runs", json={})
    finished = up.wait_run(run.json()["run_id"])
    assert finished["status"] == "succeeded"
    assert {t["id"] for t in finished["tasks"]} == {"a", "b", "c"}
    assert "workflows/second.yaml:7:" not in up.http.get("/builder").text
