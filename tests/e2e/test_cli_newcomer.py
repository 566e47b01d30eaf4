"""What a new user tripped over (issue 22), as they type it: runs that a run triggers,
the project found from a subfolder, run-id prefixes, ``logs --follow``, colour only on a
terminal, and "did you mean" on a mistyped id."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

from .conftest import PODIUM, MakeProject, run_id_from, wait_until

TASKS_PY = """
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def talk_until_go(ctx):
    ctx.log.info("waiting for go")
    deadline = time.monotonic() + 20
    while not (ROOT / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("nobody said go")
        time.sleep(0.02)
    ctx.log.info("went")
    return "went"
"""

FILES = {
    "pipeline/tasks.py": TASKS_PY,
    "workflows/etl.yaml": """
        name: etl
        tasks:
          - id: load
            shell: "echo loaded"
    """,
    "workflows/report.yaml": """
        name: report
        triggers:
          - workflow: etl
        tasks:
          - id: build
            shell: "echo built"
    """,
    "workflows/chat.yaml": """
        name: chat
        tasks:
          - id: talk
            run: pipeline.tasks:talk_until_go
    """,
}


def test_a_run_runs_the_runs_it_triggers_and_says_so(make_project: MakeProject) -> None:
    project = make_project(FILES)
    subfolder = project.root / "pipeline"
    # typed in a subfolder: the project is found above it, as git finds its repository
    ran = subprocess.run(
        [*PODIUM, "run", "etl"],
        cwd=subfolder,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    first = run_id_from(ran.stdout)
    said = re.search(
        r"run (\w+) of report was triggered \(workflow trigger: etl succeeded\); running it here",
        ran.stdout,
    )
    assert said, ran.stdout
    assert re.search(rf"run {said.group(1)} succeeded", ran.stdout), ran.stdout

    left = project.ok("run", "etl", "--no-downstream")
    waiting = re.search(
        r"run (\w+) of report was triggered \(workflow trigger: etl succeeded\) and waits for",
        left.out,
    )
    assert waiting, left.out

    # retry without --wait: nothing runs it here, and it says so
    retried = project.ok("retry", first[:6])  # a unique prefix names the run
    assert f"run {first}: re-running 1 task(s): load" in retried.out
    assert "starts as soon as `podium up` runs" in retried.out and "--wait" in retried.out
    shown = project.ok("show", first[:5]).out
    assert shown.startswith(f"run {first}  workflow etl  running"), shown
    assert re.search(r"load\s+queued", shown), shown  # … until an engine takes it
    assert "\033[" not in shown  # not a terminal: no colour


def test_logs_follow_streams_until_the_run_ends(make_project: MakeProject) -> None:
    project = make_project(FILES)
    run = project.start("run", "chat")
    run_id = wait_until(lambda: _started(run.out), 20, message="the run to start")
    follow = project.start("logs", run_id, "--follow")
    wait_until(lambda: "talk#1  INFO waiting for go" in follow.out, 20, message="the first line")
    assert follow.alive() and "went" not in follow.out
    (project.root / "go").write_text("")
    assert follow.wait(timeout=20) == 0, follow.err
    assert run.wait(timeout=20) == 0, run.err
    lines = follow.out.splitlines()
    assert [line.split("  ")[-1] for line in lines] == ["INFO waiting for go", "INFO went"]
    assert lines == sorted(lines)
    one = project.ok("logs", run_id, "talk", "--follow")  # ended already: prints and leaves
    assert [line.split("  ")[-1] for line in one.out.splitlines()] == [
        "INFO waiting for go",
        "INFO went",
    ]


def _started(out: str) -> str | None:
    found = re.search(r"run (\w+) of chat started", out)
    return found.group(1) if found else None


def test_on_a_terminal_statuses_are_coloured_and_running_tasks_shown(
    make_project: MakeProject,
) -> None:
    project = make_project(FILES)
    (project.root / "go").write_text("")
    shown = _on_a_terminal(project.root, project.env, "run", "chat")
    assert "\033[32msucceeded\033[0m" in shown, shown
    assert "… running: talk" in shown, shown
    plain = _on_a_terminal(project.root, {**project.env, "NO_COLOR": "1"}, "run", "chat")
    assert "\033[3" not in plain and "succeeded" in plain, plain


def _on_a_terminal(cwd: Path, env: dict[str, str], *args: str) -> str:
    """``podium ARGS`` with a pseudo-terminal as its stdout; what it wrote there."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium.cli.main", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=subprocess.PIPE,
    )
    os.close(child)
    chunks = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=10)
    os.close(main)
    return b"".join(chunks).decode()


def test_a_mistyped_id_gets_the_closest_one(make_project: MakeProject) -> None:
    project = make_project(
        {
            **FILES,
            "podium.yaml": """
                store: sqlite:///.podium/state.db
                connections:
                  shopify:
                    type: files
                    path: inbox
                    streams:
                      orders: {pattern: "*.csv", primary_key: [id]}
            """,
        }
    )
    extract = project.podium("extract", "shopfy")
    assert extract.code == 2, extract
    assert "no connection 'shopfy' in podium.yaml; did you mean 'shopify'?" in extract.err
