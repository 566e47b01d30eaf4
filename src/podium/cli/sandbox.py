"""``podium sandbox start|stop|status``: the commerce API simulators for trying podium.

``start`` runs ``python -m podium.sandbox.serve`` in the background and waits until it
listens; its state (pid, URLs) goes to ``.podium/sandbox.json`` in the project folder, which
``stop`` and ``status`` read. ``--foreground`` serves in this process until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from podium.errors import UsageError

STATE_FILE = ".podium/sandbox.json"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=["start", "stop", "status"],
        help="start the simulators (in the background), stop them, or show where they run",
    )
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free)")
    p.add_argument("--seed", type=int, default=None, help="the generated brand's seed")
    p.add_argument("--days", type=int, default=None, help="days of orders to generate")
    p.add_argument(
        "--scale",
        type=_scale,
        default=None,
        help="the brand's size: small (default, ~22,000 orders a year), large (1,000,000) or "
        "orders a year; customers, Amazon, NetSuite and Klaviyo in proportion",
    )
    p.add_argument(
        "--start",
        type=_day,
        default=None,
        help="the brand's first day, YYYY-MM-DD (default: its history ends two weeks after "
        "today on podium's clock)",
    )
    p.add_argument("--foreground", action="store_true", help="serve here until Ctrl-C")
    p.add_argument(
        "--fast",
        action="store_true",
        help="raise the slow limits: Amazon's rates 100x, Shopify's query cost, Klaviyo's reports",
    )


def cmd_sandbox(args: argparse.Namespace) -> int:
    state_file = Path(args.project) / STATE_FILE
    if args.action == "start":
        return _start(args, state_file)
    if args.action == "stop":
        return _stop(state_file)
    state = running_sandbox(state_file)
    if state is None:
        print("the sandbox is not running; start it with `podium sandbox start`")
        return 1
    _print_state(state)
    return 0


def _start(args: argparse.Namespace, state_file: Path) -> int:
    if (state := running_sandbox(state_file)) is not None:
        raise UsageError(
            f"the sandbox already runs at {state['url']} (pid {state['pid']}); "
            "`podium sandbox stop` ends it"
        )
    cmd = [sys.executable, "-m", "podium.sandbox.serve", "--port", str(args.port)]
    cmd += ["--seed", str(args.seed)] if args.seed is not None else []
    cmd += ["--days", str(args.days)] if args.days is not None else []
    cmd += ["--scale", str(args.scale)] if args.scale is not None else []
    cmd += ["--start", args.start.isoformat()] if args.start is not None else []
    cmd += ["--fast"] if args.fast else []
    if args.foreground:
        return subprocess.call(cmd)
    state_file.unlink(missing_ok=True)
    log = state_file.with_name("sandbox.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cmd, "--state-file", str(state_file.resolve())],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if state_file.exists():
            _print_state(json.loads(state_file.read_text()))
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise UsageError(f"the sandbox did not start; see {log} for why")


def _stop(state_file: Path) -> int:
    state = running_sandbox(state_file)
    if state is None:
        print("the sandbox is not running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    state_file.unlink(missing_ok=True)
    print(f"stopped the sandbox at {state['url']}")
    return 0


def running_sandbox(state_file: Path) -> dict[str, Any] | None:
    """The state of a sandbox that is still alive; a stale file is removed."""
    try:
        state: dict[str, Any] = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if _alive(int(state.get("pid", 0))):
        return state
    state_file.unlink(missing_ok=True)
    return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    return True


def _print_state(state: dict[str, Any]) -> None:
    print(f"sandbox running at {state['url']} (pid {state['pid']}); simulated now {state['now']}")
    for api, url in state["apis"].items():
        print(f"  {api:<9} {url}")
    print(f"  control   {state['control']}  (clock, clock/advance, truth, violations)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-09-01, got {text!r}") from None


def _scale(text: str) -> str | int:
    from podium.sandbox.serve import scale_of

    return scale_of(text)
