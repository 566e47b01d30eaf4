"""End-to-end fixtures: projects made from dicts of files, the CLI run as a user types it,
and ``podium up`` as a real subprocess on a free loopback port.

Nothing here imports podium: every test drives ``python -m podium.cli.main`` in a
subprocess whose environment has no ``PODIUM_STORE_URL`` (so the store is the project's own
SQLite file under ``.podium/``) unless a test sets one on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

PODIUM = [sys.executable, "-m", "podium.cli.main"]
T = TypeVar("T")

#: a minimal podium.yaml: the default store, spelled out
DEFAULT_CONFIG = "store: sqlite:///.podium/state.db\n"


def wait_until(
    predicate: Callable[[], T], timeout: float, *, interval: float = 0.02, message: str = ""
) -> T:
    """Polls ``predicate`` until it returns something truthy (returned) or ``timeout``
    seconds pass (the test fails with ``message``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            pytest.fail(f"timed out after {timeout:g}s waiting for: {what}")
        time.sleep(interval)


def eventually(predicate: Callable[[], object], timeout: float, *, interval: float = 0.02) -> bool:
    """Like ``wait_until``, but says whether ``predicate`` came true instead of failing."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def podium_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a podium subprocess: ours, minus a store override and debug."""
    env = dict(os.environ)
    for name in ("PODIUM_STORE_URL", "PODIUM_DEBUG"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def podium_cli(
    cwd: Path, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> Result:
    """Runs ``podium ARGS`` in ``cwd`` as a user would type it, and waits for it."""
    started = time.monotonic()
    done = subprocess.run(
        [*PODIUM, *args],
        cwd=cwd,
        env=dict(env) if env is not None else podium_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@dataclass
class Result:
    """A finished CLI invocation."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        return (
            f"podium {' '.join(self.args)} -> exit {self.code} in {self.seconds:.2f}s\n"
            f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}"
        )

    def json(self) -> Any:
        return json.loads(self.out)


class Proc:
    """A podium subprocess left running; its output is collected line by line."""

    def __init__(self, args: list[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.out_lines: list[str] = []
        self.err_lines: list[str] = []
        self._pumps = [
            threading.Thread(
                target=self._pump, args=(self.popen.stdout, self.out_lines), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(self.popen.stderr, self.err_lines), daemon=True
            ),
        ]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)
        stream.close()

    @property
    def out(self) -> str:
        return "".join(self.out_lines)

    @property
    def err(self) -> str:
        return "".join(self.err_lines)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """The exit code, once the process ended and its output was read.

        (Output is read until every holder of the pipes closed them, which a surviving
        child process would delay: at most 2 s more are spent on that.)"""
        code = self.popen.wait(timeout=timeout)
        deadline = time.monotonic() + 2
        for pump in self._pumps:
            pump.join(timeout=max(0.0, deadline - time.monotonic()))
        return code

    def signal(self, signum: int) -> None:
        if self.alive():
            self.popen.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL the process and everything in its process group (session)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Teardown: SIGTERM, a short grace, then the whole group killed."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
        self.kill_group()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout=5)

    def describe(self) -> str:
        return f"{' '.join(self.args[2:])}\n--- stdout ---\n{self.out}--- stderr ---\n{self.err}"


class Up:
    """A running ``podium up`` and an HTTP client for it."""

    def __init__(self, proc: Proc, port: int) -> None:
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def healthy(self) -> bool:
        if not self.proc.alive():
            pytest.fail(
                f"podium up exited early ({self.proc.popen.returncode}):\n{self.proc.describe()}"
            )
        try:
            return self.http.get("/api/health").status_code == 200
        except httpx.TransportError:
            return False

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/runs/{run_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_run(self, run_id: str, timeout: float = 30) -> dict[str, Any]:
        """The run once it ended (failing the test if it does not in time)."""
        return wait_until(
            lambda: (r := self.run(run_id))["status"] in ("succeeded", "failed", "cancelled") and r,
            timeout,
            interval=0.05,
            message=f"run {run_id} to end",
        )

    def runs(self, **query: Any) -> list[dict[str, Any]]:
        response = self.http.get("/api/runs", params=query)
        assert response.status_code == 200, response.text
        return list(response.json())

    def close(self) -> None:
        self.http.close()
        self.proc.stop()


@dataclass
class Project:
    """A project folder in ``tmp_path`` and ways to drive the CLI against it."""

    root: Path
    env: dict[str, str] = field(default_factory=podium_env)
    _procs: list[Proc] = field(default_factory=list)
    _ups: list[Up] = field(default_factory=list)

    def write(self, files: Mapping[str, str]) -> None:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))

    def podium(
        self, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
    ) -> Result:
        """Runs ``podium ARGS`` in the project folder and waits for it."""
        return podium_cli(self.root, *args, timeout=timeout, env={**self.env, **(env or {})})

    def ok(self, *args: str, timeout: float = 60) -> Result:
        """``podium ARGS``, which must exit 0."""
        result = self.podium(*args, timeout=timeout)
        assert result.code == 0, str(result)
        return result

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> Proc:
        """Starts ``podium ARGS`` in the background (its own session); stopped at teardown."""
        proc = Proc([*PODIUM, *args], self.root, {**self.env, **(env or {})})
        self._procs.append(proc)
        return proc

    def up(self, *extra: str, env: Mapping[str, str] | None = None, timeout: float = 20) -> Up:
        """``podium up`` on a free port, once its API answers."""
        port = free_port()
        up = Up(self.start("up", "--port", str(port), *extra, env=env), port)
        self._ups.append(up)
        wait_until(up.healthy, timeout, interval=0.05, message="podium up to answer /api/health")
        return up

    def show(self, run_id: str) -> dict[str, Any]:
        return dict(self.ok("show", run_id, "--json").json())

    def runs(self, *args: str) -> list[dict[str, Any]]:
        return list(self.ok("runs", "--json", *args).json())

    def store(self) -> sqlite3.Connection:
        """A read-only connection to the project's SQLite store."""
        path = self.root / ".podium" / "state.db"
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.store()
        try:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def close(self) -> None:
        for up in self._ups:
            up.http.close()
        for proc in self._procs:
            proc.stop()


MakeProject = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[MakeProject]:
    """``make_project({"workflows/a.yaml": "...", ...}, name="proj")``: a project folder.

    ``podium.yaml`` defaults to the SQLite store under ``.podium/``; a ``pipeline/``
    package gets its ``__init__.py``. Every process a project started is stopped (and its
    process group killed) at teardown.
    """
    made: list[Project] = []

    def make(
        files: Mapping[str, str] | None = None,
        *,
        name: str = "proj",
        env: Mapping[str, str] | None = None,
    ) -> Project:
        project = Project(tmp_path / name, podium_env(env))
        project.root.mkdir(parents=True, exist_ok=True)
        files = dict(files or {})
        files.setdefault("podium.yaml", DEFAULT_CONFIG)
        if any(rel.startswith("pipeline/") for rel in files):
            files.setdefault("pipeline/__init__.py", "")
        project.write(files)
        made.append(project)
        return project

    yield make
    for project in made:
        project.close()


MINUTELY_FILES = {
    "podium.yaml": DEFAULT_CONFIG,
    "workflows/minutely.yaml": """
        name: minutely
        triggers:
          - schedule: "* * * * *"
        tasks:
          - id: tick
            shell: "echo tick"
    """,
}


@pytest.fixture(scope="session", autouse=True)
def minutely_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Up, float]]:
    """A ``podium up`` serving a ``* * * * *`` schedule for the whole e2e session, and when
    it started.

    Started with the session (autouse) so that the test of the schedule, which runs last,
    seldom has to wait for the next minute boundary."""
    project = Project(tmp_path_factory.mktemp("minutely"), podium_env())
    project.write(MINUTELY_FILES)
    started = time.time()
    up = project.up()
    yield up, started
    project.close()


def run_id_from(output: str) -> str:
    """The run id in ``podium run``'s first line: ``run ID of WORKFLOW started``."""
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "run" and parts[2] == "of" and parts[-1] == "started":
            return parts[1]
    raise AssertionError(f"no 'run ID of WORKFLOW started' line in:\n{output}")
