"""The demo's last step: new orders forwarded to the 3PL as Shopify's webhooks arrive.

``forward_new_orders`` starts ``podium up`` on the demo project (a process of its own, as
a user runs it), moves the simulators' clock a few hours on so that new orders exist,
has the Shopify simulator deliver their ``orders/create`` webhooks, signed, to podium's
receiver, and waits for the ``forward_orders`` runs they start. Each run's sync sends its
order to the 3PL simulator; the 3PL's ground truth then says how many orders it holds,
and the runs say how long each took from the webhook to the 3PL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from podium.demo.speeds import WEBHOOK_SECRET

WORKFLOW = "forward_orders"
HOURS = 6  # the simulated hours of new orders the step delivers
START_TIMEOUT_S = 60.0
RUNS_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Forwarded:
    delivered: int  # orders/create webhooks podium acknowledged
    succeeded: int  # forward_orders runs that succeeded
    runs: int
    held: int  # orders the 3PL holds
    duplicated: int  # reference ids the 3PL holds twice (0: exactly once)
    median_ms: float | None  # webhook to 3PL, per run (created → finished)
    problem: str | None = None


def forward_new_orders(folder: Path, sandbox: Any) -> Forwarded:
    """Runs the step (see the module docstring); stops its ``podium up`` however it ends."""
    port = _free_port()
    log = (folder / ".podium" / "demo-up.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium.cli.main", "up", "--project", str(folder), "--port",
         str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as api:
            if not _healthy(api, proc):
                return _failed(f"podium up did not start; see {log.name}")
            shopify = sandbox.simulator("shopify")
            shopify.webhooks_since = sandbox.clock.now()  # only what happens from now on
            sandbox.advance(timedelta(hours=HOURS))
            sent = shopify.deliver_webhooks(f"{url}/webhooks/shopify", WEBHOOK_SECRET)
            delivered = sum(1 for d in sent if d.topic == "orders/create" and d.status == 200)
            runs = _wait_runs(api, delivered)
        held = httpx.get(f"{sandbox.url}/_sandbox/truth/threepl", timeout=10).json()
        return Forwarded(
            delivered=delivered,
            succeeded=sum(1 for r in runs if r["status"] == "succeeded"),
            runs=len(runs),
            held=int(held["orders"]),
            duplicated=len(held["duplicated_reference_ids"]),
            median_ms=_median_ms(runs),
        )
    finally:
        _stop(proc)
        log.close()


def _failed(problem: str) -> Forwarded:
    return Forwarded(0, 0, 0, 0, 0, None, problem)


def _healthy(api: httpx.Client, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if api.get("/api/health").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _wait_runs(api: httpx.Client, expected: int) -> list[dict[str, Any]]:
    """The workflow's runs once ``expected`` of them ended (or the timeout passed)."""
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = list(api.get("/api/runs", params={"workflow": WORKFLOW, "limit": 1000}).json())
        ended = [r for r in runs if r["status"] in ("succeeded", "failed", "cancelled")]
        if len(ended) >= expected and len(runs) == len(ended):
            return ended
        time.sleep(0.2)
    return runs


def _median_ms(runs: list[dict[str, Any]]) -> float | None:
    took = []
    for run in runs:
        start, end = run.get("created_at"), run.get("finished_at")
        if start and end:
            took.append((_at(end) - _at(start)).total_seconds() * 1000)
    took.sort()
    return took[len(took) // 2] if took else None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
