"""Webhook receiver: acknowledgement latency under a burst, and nothing lost to a SIGKILL.

Each round starts `podium up` (a subprocess, default SQLite store) on a free port with a
Shopify-style webhook connection, sends a few deliveries to warm it, then fires
--deliveries signed deliveries with distinct ids at once, each on its own connection (as
webhook senders do). A delivery's latency runs from just before its connection opens to
the end of the 200 response. Right after the last 2xx arrives the server is SIGKILLed;
then the store is opened and every acknowledged delivery must be in the inbox.

The client is raw asyncio (pre-built HTTP/1.1 requests): a heavier client would spend more
of this machine's cores than the server does and measure itself. With --trigger, every
delivery also starts a run of a one-task workflow while the burst is still arriving.

Figures are the median of --rounds rounds measured in one invocation.

    python bench/webhooks.py [--deliveries 200] [--rounds 3] [--trigger]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PODIUM = [sys.executable, "-m", "podium.cli.main"]
SECRET = "bench-webhook-secret-0123456789"
WARM_UP = 10
CONFIG = f"""store: sqlite:///.podium/state.db
connections:
  shop:
    type: webhook
    webhooks: {{verify: shopify, secret: {SECRET}}}
"""
WORKFLOW = """name: on_order
triggers:
  - webhook: shop
    topic: orders/*
    filters: {financial_status: paid}
tasks:
  - id: note
    run: bench_hooks:noop
"""


@dataclass
class Round:
    latencies_ms: list[float]
    acknowledged: int
    in_inbox: int
    statuses: dict[int, int]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed_request(port: int, delivery_id: str, order: int) -> bytes:
    body = json.dumps(
        {"id": order, "financial_status": "paid", "total_price": "59.00", "currency": "USD"}
    ).encode()
    mac = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    head = (
        f"POST /webhooks/shop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Shopify-Hmac-Sha256: {mac}\r\nX-Shopify-Topic: orders/create\r\n"
        f"X-Shopify-Webhook-Id: {delivery_id}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def post(port: int, request: bytes) -> tuple[float, int]:
    """(seconds, status) of one delivery on a fresh connection."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    await reader.read()  # the server closes after answering (Connection: close)
    writer.close()
    return time.perf_counter() - started, status


async def burst(port: int, requests: list[bytes], on_last: Any) -> list[tuple[float, int]]:
    results = await asyncio.gather(*(post(port, r) for r in requests))
    on_last()  # right after the last answer arrived
    return list(results)


def write_project(root: Path, trigger: bool) -> None:
    (root / "podium.yaml").write_text(CONFIG)
    if trigger:
        (root / "workflows").mkdir()
        (root / "workflows" / "on_order.yaml").write_text(WORKFLOW)
        (root / "bench_hooks.py").write_text("def noop(ctx):\n    return None\n")


def start_up(root: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PODIUM_STORE_URL", "PODIUM_DEBUG")}
    return subprocess.Popen(
        [*PODIUM, "up", "--port", str(port), "--project", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def wait_healthy(port: int, proc: subprocess.Popen[str]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"podium up exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("podium up did not answer /api/health within 30s")


def wait_idle(port: int, trigger: bool) -> None:
    """Until the warm-up deliveries are processed (and their runs ended): a burst then
    meets a server with nothing else to do."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            entries = client.get("/api/webhooks", params={"limit": 1000}).json()
            runs = client.get("/api/runs", params={"limit": 1000}).json() if trigger else []
            settled = all(e["status"] == "processed" for e in entries) and len(entries) == WARM_UP
            ended = all(r["status"] in ("succeeded", "failed") for r in runs)
            if settled and ended and (len(runs) == WARM_UP or not trigger):
                return
            time.sleep(0.05)
    raise RuntimeError("the warm-up deliveries were not processed within 30s")


def inbox_ids(root: Path) -> set[str]:
    """Delivery ids in the inbox, read from the store the killed server left behind."""
    conn = sqlite3.connect(root / ".podium" / "state.db", timeout=10)
    try:
        return {row[0] for row in conn.execute("SELECT delivery_id FROM webhook_inbox")}
    finally:
        conn.close()


def one_round(deliveries: int, trigger: bool) -> Round:
    with tempfile.TemporaryDirectory(prefix="podium-bench-webhooks-") as tmp:
        root = Path(tmp)
        write_project(root, trigger)
        port = free_port()
        proc = start_up(root, port)
        try:
            wait_healthy(port, proc)
            warm = [signed_request(port, f"warm-{i}", i) for i in range(WARM_UP)]
            for request in warm:
                asyncio.run(post(port, request))
            wait_idle(port, trigger)
            ids = [str(uuid.uuid4()) for _ in range(deliveries)]
            requests = [signed_request(port, d, 1000 + i) for i, d in enumerate(ids)]
            kill = lambda: os.killpg(proc.pid, signal.SIGKILL)  # noqa: E731
            results = asyncio.run(burst(port, requests, kill))
        finally:
            with_pg = proc.poll() is None
            if with_pg:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        acked = {d for d, (_, status) in zip(ids, results, strict=True) if status == 200}
        stored = inbox_ids(root)
    statuses: dict[int, int] = {}
    for _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    return Round([s * 1000 for s, _ in results], len(acked), len(acked & stored), statuses)


def bench_webhooks(deliveries: int = 200, rounds: int = 3, trigger: bool = False) -> dict[str, Any]:
    done = [one_round(deliveries, trigger) for _ in range(rounds)]

    def median(q: float) -> float:
        return statistics.median(r.quantile(q) for r in done)

    return {
        "deliveries": deliveries,
        "rounds": rounds,
        "trigger": trigger,
        "p50_ms": median(0.50),
        "p90_ms": median(0.90),
        "p99_ms": median(0.99),
        "max_ms": statistics.median(max(r.latencies_ms) for r in done),
        "acknowledged": [r.acknowledged for r in done],
        "in_inbox": [r.in_inbox for r in done],
        "statuses": [r.statuses for r in done],
        "lost": sum(r.acknowledged - r.in_inbox for r in done),
    }


def rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    what = "each starts a run" if result["trigger"] else "no workflow triggered"
    label = f"webhooks: {result['deliveries']} concurrent deliveries ({what})"
    acked, kept = sum(result["acknowledged"]), sum(result["in_inbox"])
    return [
        (
            f"{label}, ack",
            f"p50 {result['p50_ms']:.1f} ms, p90 {result['p90_ms']:.1f} ms,"
            f" p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms",
        ),
        (
            f"{label}, SIGKILL after the last 2xx",
            f"{kept}/{acked} acknowledged deliveries in the inbox"
            + ("" if kept == acked else f" — {acked - kept} LOST"),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trigger", action="store_true", help="each delivery starts a run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench_webhooks(args.deliveries, args.rounds, args.trigger)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in rows(result):
            print(f"{name:<75}  {value}")
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
