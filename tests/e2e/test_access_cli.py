"""Access control as a user drives it: ``podium users``/``podium tokens``, ``podium up`` on a
public address, and the CLI against a remote ``podium up`` with a token."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from .conftest import PODIUM, MakeProject, Project, Result, free_port, podium_cli, podium_env

PASSWORD = "correct horse battery"
WORKFLOW = {
    "workflows/hello.yaml": """
        name: hello
        params: {days: 1}
        tasks:
          - id: greet
            shell: "echo hello from greet; seq 1 2500"
          - id: shout
            shell: "echo LOUD"
            depends_on: [greet]
    """,
    "workflows/broken.yaml": """
        name: broken
        tasks:
          - id: fails
            shell: "echo about to fail; exit 3"
    """,
}


def add_user(project: Project, name: str, role: str, password: str = PASSWORD) -> Result:
    """``podium users add NAME --role ROLE --password-stdin`` with the password piped in."""
    args = ("users", "add", name, "--role", role, "--password-stdin")
    started = time.monotonic()
    done = subprocess.run(
        [*PODIUM, *args],
        cwd=project.root,
        env=project.env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Result(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def new_token(project: Project, user: str) -> str:
    result = project.ok("tokens", "create", "--user", user, "--description", "e2e")
    token = result.out.strip()
    assert re.fullmatch(r"pdm_[A-Za-z0-9_-]{43}", token), result
    assert "shown only now" in result.err
    return token


def store_dump(project: Project) -> str:
    conn = sqlite3.connect(project.root / ".podium" / "state.db")
    try:
        rows = []
        for table in ("users", "api_tokens", "sessions"):
            rows += conn.execute(f"SELECT * FROM {table}").fetchall()
        return repr(rows)
    finally:
        conn.close()


# -- users and tokens -----------------------------------------------------------------------


def test_users_and_tokens_from_the_command_line(make_project: MakeProject) -> None:
    project = make_project(WORKFLOW)
    assert "no users" in project.ok("users", "list").out
    added = add_user(project, "ada", "admin")
    assert added.code == 0, added
    assert "access control is now on" in added.out
    assert add_user(project, "vera", "viewer", "another password").code == 0
    listed = project.ok("users", "list").out
    assert re.search(r"ada\s+admin", listed) and re.search(r"vera\s+viewer", listed)

    again = add_user(project, "ada", "viewer")
    assert again.code == 2 and "user 'ada' exists already" in again.err
    short = add_user(project, "bob", "viewer", "short")
    assert short.code == 2 and "at least 8 characters" in short.err
    bad_role = project.podium("users", "add", "bob", "--role", "root", "--password-stdin")
    assert bad_role.code == 2 and "invalid choice: 'root'" in bad_role.err
    no_tty = project.podium("users", "add", "bob", "--role", "viewer")
    assert no_tty.code == 2 and "--password-stdin" in no_tty.err

    assert "vera is now operator" in project.ok("users", "set-role", "vera", "operator").out
    assert project.ok("users", "list", "--json").json()[1] == {
        "name": "vera",
        "role": "operator",
        "created_at": project.ok("users", "list", "--json").json()[1]["created_at"],
    }

    token = new_token(project, "vera")
    tokens = project.ok("tokens", "list")
    assert "vera" in tokens.out and "e2e" in tokens.out and token not in tokens.out
    token_id = re.search(r"tok_[0-9a-f]{8}", tokens.out).group(0)  # type: ignore[union-attr]
    assert f"token {token_id} revoked" in project.ok("tokens", "revoke", token_id).out
    assert "revoked already" in project.ok("tokens", "revoke", token_id).out
    assert "no API tokens" in project.ok("tokens", "list").out
    assert "revoked" in project.ok("tokens", "list", "--all").out
    unknown = project.podium("tokens", "revoke", "tok_00000000")
    assert unknown.code == 2 and "no token 'tok_00000000'" in unknown.err

    dump = store_dump(project)
    assert PASSWORD not in dump and "another password" not in dump and token not in dump

    removed = project.ok("users", "remove", "vera")
    assert "user vera removed" in removed.out
    missing = project.podium("users", "remove", "vera")
    assert missing.code == 2 and "no user 'vera'" in missing.err


# -- podium up on a public address ----------------------------------------------------------


def test_up_on_a_public_address_needs_access_control(make_project: MakeProject) -> None:
    project = make_project(WORKFLOW)
    refused = project.podium("up", "--host", "0.0.0.0", "--port", str(free_port()), timeout=30)
    assert refused.code == 2, refused
    assert "access control is not configured" in refused.err
    assert "podium users add alice --role admin" in refused.err
    assert "podium up --host 0.0.0.0" in refused.err
    assert "Traceback" not in refused.err

    assert add_user(project, "ada", "admin").code == 0
    up = project.up("--host", "0.0.0.0")
    assert "access control on: 1 user" in up.proc.out
    assert up.http.get("/api/health").status_code == 200
    assert up.http.get("/api/runs").status_code == 401
    token = new_token(project, "ada")
    headers = {"Authorization": f"Bearer {token}"}
    assert up.http.get("/api/runs", headers=headers).status_code == 200

    # removing every user does not reopen a public server to everyone
    project.ok("users", "remove", "ada")
    assert up.http.get("/api/runs").status_code == 401
    assert up.http.get("/api/runs", headers=headers).status_code == 401


def test_auth_off_refuses_a_public_address(make_project: MakeProject) -> None:
    project = make_project(
        {**WORKFLOW, "podium.yaml": "store: sqlite:///.podium/state.db\nserver: {auth: off}\n"}
    )
    assert add_user(project, "ada", "admin").code == 0
    refused = project.podium("up", "--host", "0.0.0.0", "--port", str(free_port()), timeout=30)
    assert refused.code == 2, refused
    assert "server: {auth: off}" in refused.err


# -- the CLI against a remote podium up -----------------------------------------------------


def test_the_cli_drives_a_remote_podium_up_with_a_token(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project(WORKFLOW)
    for name, role in (("otto", "operator"), ("vera", "viewer")):
        assert add_user(project, name, role).code == 0
    operator, viewer = new_token(project, "otto"), new_token(project, "vera")
    up = project.up()
    up.http.headers["Authorization"] = f"Bearer {viewer}"  # for the test's own checks
    elsewhere = tmp_path / "elsewhere"  # not a project: nothing local is opened
    elsewhere.mkdir()

    def remote(*args: str, token: str | None = operator, server: str = up.url) -> Result:
        env = {**podium_env(), "PODIUM_SERVER": server}
        if token is not None:
            env["PODIUM_TOKEN"] = token
        result = podium_cli(elsewhere, *args, env=env, timeout=60)
        for secret in (operator, viewer):
            assert secret not in result.out and secret not in result.err, result
        return result

    ran = remote("run", "hello", "--param", "days=3")
    assert ran.code == 0, ran
    run_id = re.search(r"run (\w+) of hello started", ran.out).group(1)  # type: ignore[union-attr]
    assert f"run {run_id} succeeded" in ran.out
    assert up.run(run_id)["params"] == {"days": 3}

    listed = remote("runs", "--workflow", "hello")
    assert listed.code == 0 and run_id in listed.out
    assert remote("runs", "--json").code == 0
    shown = remote("show", run_id)
    assert shown.code == 0 and "greet" in shown.out and "succeeded" in shown.out
    logs = remote("logs", run_id)
    assert logs.code == 0 and "greet#1  hello from greet" in logs.out, logs
    said = [line.rsplit("  ", 1)[-1] for line in logs.out.splitlines()]
    numbers = [text for text in said if text.isdigit()]
    assert numbers == [str(n) for n in range(1, 2501)]  # three pages of the log API, in order
    assert "LOUD" in remote("logs", run_id, "shout").out

    failed = remote("run", "broken")
    assert failed.code == 1, failed
    broken_id = re.search(r"run (\w+) of broken", failed.out).group(1)  # type: ignore[union-attr]
    retried = remote("retry", broken_id, "--failed-only", "--wait")
    assert retried.code == 1 and "re-running 1 task(s): fails" in retried.out, retried
    cancelled = remote("cancel", broken_id)
    assert cancelled.code == 0 and "already finished" in cancelled.out
    emitted = remote("emit", "orders_dropped", "--payload", '{"store": "us"}')
    assert emitted.code == 0 and "event orders_dropped stored" in emitted.out
    forged = remote("emit", "runFinished", "--payload", '{"workflow": "hello"}')
    assert forged.code == 2, forged
    assert "400" in forged.err and "body field name" in forged.err, forged
    assert "podium's system event 'RunFinished'" in forged.err and "Traceback" not in forged.err

    # a viewer may look, not act
    assert remote("runs", token=viewer).code == 0
    denied = remote("run", "hello", token=viewer)
    assert denied.code == 2, denied
    assert "403" in denied.err and "needs the operator role" in denied.err

    # no token, a bad token, no server
    anonymous = remote("runs", token=None)
    assert anonymous.code == 2 and "PODIUM_TOKEN" in anonymous.err, anonymous
    bad = remote("runs", token="pdm_" + "x" * 43)
    assert bad.code == 2 and "not accepted" in bad.err and "pdm_xxx" not in bad.err
    gone = remote("runs", server=f"http://127.0.0.1:{free_port()}")
    assert gone.code == 1 and "cannot reach podium at" in gone.err, gone
    assert "Traceback" not in gone.err + bad.err + anonymous.err

    # --server and --token on the command line work too (the env is empty)
    flags = podium_cli(
        elsewhere, "runs", "--server", up.url, "--token", operator, env=podium_env(), timeout=60
    )
    assert flags.code == 0 and run_id in flags.out
    with httpx.Client(base_url=up.url) as http:
        assert http.get("/api/runs").status_code == 401
