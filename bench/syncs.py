"""Reverse-ETL syncs (issue 19): Klaviyo throughput at its published limits, the requests
an incremental 1 % change costs, and webhook → 3PL latency through ``podium up``.

1. Klaviyo, first sync. --profiles rows (default 100,000) of a DuckDB model go through
   ``run_sync`` to the Klaviyo simulator (real sockets, real 1 s / 60 s windows, the
   default poll schedule) as ``list_members`` of the VIP list in mirror mode. Measured:
   records/s over the whole ``run_sync`` (plan, diff reads, state writes, payloads,
   requests, waits), and where the time went.

   *What the limits allow* (``max_records_per_s``): the records/s a perfect client making
   this run's requests would reach if the published limits were the only thing it waited
   for. Each endpoint has its own budget (bulk import job create, job poll, import-errors:
   10/s burst, 150/min steady, ≤ 10,000 profiles a job; lists L 75/s, 750/min), and a
   poll cannot precede its job's create, so the least time is the endpoints taken one
   after another: ``Σ fastest(calls on e, limit of e)`` where ``n`` calls to an endpoint
   with limits B/s and S/min take at least ``60 × ((n − 1) // S) + ceil(rest / B)``
   seconds (bench/connector_klaviyo.py). This ignores the time Klaviyo needs to process
   a job, which the simulator stands for by finishing a job on its second poll: the
   seconds the simulator spent answering (its own parsing, validation and upserts) are
   reported separately, as is the share with them taken out (``podium share``).

2. Klaviyo, incremental. After the first sync, 1 % of the rows change (a third updated,
   a third added, a third removed) and the sync runs again. The minimum requests the
   batch sizes allow: one list lookup, ``ceil(removes / 100)`` profile lookups,
   ``ceil(removes / 1,000)`` list-relationship deletes, and per 10,000 upserts one job
   create plus the two polls the simulator needs to report it complete.

3. Webhook → 3PL. ``podium up`` (a subprocess) on the order-forwarding project
   (tests/e2e/test_order_forwarding.py: a Shopify webhook triggers a workflow whose
   ``sync`` task sends the order to the 3PL), the 3PL simulator on real time. --orders
   signed ``orders/create`` deliveries are posted one at a time every --order-interval
   seconds (within the 3PL's 150/min), after a few warm-up orders; latency runs from just
   before the POST to the moment the simulator holds the order (its ``OrderBook.create``
   returning, timed by a wrapper in this process). The steps between come from the
   store: the inbox row's ``received_at``, then the engine step that processed it (its
   ``processed_at``, the run's ``created_at`` and the attempt's ``started_at`` all carry
   that step's time), the moment the 3PL held the order, and the attempt's end.

    python bench/syncs.py [--profiles 100000] [--orders 200] [--order-interval 0.45]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PODIUM = [sys.executable, "-m", "podium.cli.main"]
NOW = datetime(2026, 12, 7, 6, tzinfo=UTC)
FIELDS = {"external_id": "ext", "email": "email", "first_name": "first_name"}
SECRET = "bench-shop-webhook-secret-42"
WARM_UP = 5

# the simulator's path → the endpoint whose budget it spends (Klaviyo's operation ids)
ENDPOINTS = (
    ("POST", "/profile-bulk-import-jobs", "bulk_import_profiles"),
    ("GET", "/import-errors", "get_errors_for_bulk_import_profiles_job"),
    ("GET", "/profile-bulk-import-jobs/", "get_bulk_import_profiles_job"),
    ("DELETE", "/relationships/profiles", "remove_profiles_from_list"),
    ("GET", "/api/lists", "lists"),
    ("GET", "/api/profiles", "profiles"),
    ("POST", "/api/profile-import", "create_or_update_profile"),
)


def endpoint_of(method: str, path: str) -> str:
    for m, fragment, name in ENDPOINTS:
        if m == method and fragment in path:
            return name
    return f"{method} {path}"


def fastest(calls: int, burst: int, steady: int) -> float:
    """The least seconds ``calls`` requests take inside Klaviyo's fixed windows."""
    if calls <= 0:
        return 0.0
    minutes, rest = divmod(calls - 1, steady)
    return 60.0 * minutes + math.ceil((rest + 1) / burst)


# -- 1 and 2: Klaviyo -------------------------------------------------------------------
class Phases:
    """Wall seconds per phase of ``run_sync``, by wrapping the functions it calls."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


@contextmanager
def timed_phases(phases: Phases, writer: Any, simulator: Any) -> Iterator[None]:
    """Times plan, diff reads, mark_pending, record_batch, the writer's send, its sleeps
    and the simulator's answers (server side) for the duration of the block."""
    import podium.syncs.run as run_module

    names = ("plan", "read_changes", "mark_pending", "record_batch")
    saved = {n: getattr(run_module, n) for n in names}
    send, answer = writer.send, simulator.answer
    for n in names:
        setattr(run_module, n, phases.wrap(n, saved[n]))
    writer.send = phases.wrap("writer.send", send)
    simulator.answer = phases.wrap("simulator", answer)
    try:
        yield
    finally:
        for n in names:
            setattr(run_module, n, saved[n])
        writer.send, simulator.answer = send, answer


def _table(sql: Any) -> str:
    return f'"{sql.schema_prefix}marts".customers'


def seed(sql: Any, first: int, last: int) -> None:
    sql.execute(
        f"INSERT INTO {_table(sql)} SELECT i, 'cust-' || CAST(i AS VARCHAR),"
        " 'p' || CAST(i AS VARCHAR) || '@sync.example', 'Ada' || CAST(i AS VARCHAR)"
        f" FROM generate_series({first}, {last}) AS g(i)"
    )


def change_one_percent(sql: Any, n: int) -> dict[str, int]:
    k = n // 300
    sql.execute(f"UPDATE {_table(sql)} SET first_name = 'Grace' WHERE id <= {k}")
    sql.execute(f"DELETE FROM {_table(sql)} WHERE id > {n - k}")
    seed(sql, n + 1, n + (n // 100 - 2 * k))
    return {"update": k, "remove": k, "add": n // 100 - 2 * k}


def one_sync(sandbox: Any, sql: Any, sleeps: list[float]) -> dict[str, Any]:
    """One run of the VIP list_members sync; its report, seconds, phases and requests."""
    from podium.syncs import Mode, SyncSpec
    from podium.syncs.destination import SyncTarget, WriterEnv
    from podium.syncs.destinations.klaviyo import KlaviyoDestination
    from podium.syncs.run import run_sync

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    destination = KlaviyoDestination(sleep=sleep)  # Klaviyo's real windows and poll schedule
    spec = SyncSpec("vip", "marts.customers", "id", FIELDS, Mode.MIRROR)
    target = SyncTarget("vip", "klaviyo", "list_members", Mode.MIRROR, "id", tuple(FIELDS),
                        {"list": "VIP"})  # fmt: skip
    env = WriterEnv()
    log_before = len(sandbox.server.log("klaviyo"))
    violations = sandbox.server.violations("klaviyo")
    writer = destination.open("klaviyo", sandbox.connection("klaviyo"), target, env)
    phases = Phases()
    slept_before = sum(sleeps)
    try:
        with timed_phases(phases, writer, sandbox.simulator("klaviyo")):
            started = time.perf_counter()
            report = run_sync(sql, spec, writer, now=lambda: NOW, counters=env.counters)
            seconds = time.perf_counter() - started
    finally:
        writer.close()
    calls = Counter(endpoint_of(m, p) for m, p, _ in sandbox.server.log("klaviyo")[log_before:])
    phases.seconds["writer sleeps"] = sum(sleeps) - slept_before
    return {
        "report": report,
        "seconds": seconds,
        "phases": phases.seconds,
        "calls": calls,
        "violations": sandbox.server.violations("klaviyo") - violations,
    }


def limits_seconds(calls: Counter[str], tiers: dict[str, Any]) -> float:
    return sum(fastest(n, tiers[e].burst, tiers[e].steady) for e, n in calls.items())


def minimum_requests(changes: dict[str, int]) -> int:
    upserts = changes["add"] + changes["update"]
    removes = changes["remove"]
    jobs = math.ceil(upserts / 10_000)
    return (
        1  # the list, by name
        + math.ceil(removes / 100)  # profile ids, 100 a lookup
        + math.ceil(removes / 1000)  # list-relationship deletes, 1,000 a request
        + 3 * jobs  # create, and the two polls the simulator needs to say complete
    )


def bench_klaviyo(profiles: int) -> dict[str, Any]:
    from podium.sandbox.brand import EXAMPLE_START, BrandConfig
    from podium.sandbox.klaviyo.limits import tiers_for
    from podium.sandbox.service import start_sandbox
    from podium.transforms.warehouse_sql import open_warehouse_sql

    config = BrandConfig(start=EXAMPLE_START, days=10, customers=40, dtc_orders_per_day=3)
    tiers = tiers_for()
    sleeps: list[float] = []
    with (
        start_sandbox(config=config, apis=["klaviyo"]) as sandbox,
        tempfile.TemporaryDirectory(prefix="podium-bench-syncs-") as tmp,
        open_warehouse_sql({"type": "duckdb", "path": f"{tmp}/w.duckdb"}, Path(tmp)) as sql,
    ):
        sql.ensure_schema("marts")
        sql.execute(f"CREATE TABLE {_table(sql)} (id INTEGER, ext TEXT, email TEXT, first_name TEXT)")  # fmt: skip
        seed(sql, 1, profiles)
        first = one_sync(sandbox, sql, sleeps)
        changes = change_one_percent(sql, profiles)
        second = one_sync(sandbox, sql, sleeps)
    r1 = first["report"]
    landed = r1.landed["add"]
    per_s = landed / first["seconds"]
    allowed_s = limits_seconds(first["calls"], tiers)
    best = landed / allowed_s if allowed_s else 0.0
    simulator_s = first["phases"]["simulator"]
    podium_per_s = landed / max(1e-9, first["seconds"] - simulator_s)
    r2 = second["report"]
    return {
        "profiles": profiles,
        "landed": landed,
        "rejected": r1.rejected,
        "seconds": first["seconds"],
        "records_per_s": per_s,
        "limits_seconds": allowed_s,
        "max_records_per_s": best,
        "share": per_s / best if best else 0.0,
        "simulator_s": simulator_s,
        "podium_share": podium_per_s / best if best else 0.0,
        "phases": dict(first["phases"]),
        "calls": dict(first["calls"]),
        "violations": first["violations"] + second["violations"],
        "incremental": {
            "changes": changes,
            "landed": dict(r2.landed),
            "rejected": r2.rejected,
            "requests": sum(second["calls"].values()),
            "minimum": minimum_requests(changes),
            "calls": dict(second["calls"]),
            "seconds": second["seconds"],
        },
    }


# -- 3: webhook → 3PL -------------------------------------------------------------------
PROJECT = """
store: sqlite:///.podium/state.db
warehouse: {{type: duckdb, path: .podium/warehouse.duckdb}}
engine: {{lease_timeout: 5s, workers: 4}}
connections:
  shop:
    type: webhook
    webhooks: {{verify: shopify, secret: {secret}}}
  fulfilment:
    type: threepl
    base_url: {base_url}
    token: {token}
    channel_id: "{channel}"
syncs:
  orders_to_3pl:
    from: trigger
    to: fulfilment
    object: orders
    key: id
    mode: insert
    fields:
      order_number: name
      shipping_method: shipping_lines.0.title
      recipient.name: shipping_address.name
      recipient.address.address1: shipping_address.address1
      recipient.address.city: shipping_address.city
      recipient.address.state: shipping_address.province_code
      recipient.address.country: shipping_address.country_code
      recipient.address.zip_code: shipping_address.zip
      products: "line_items[].{{reference_id: sku, name: title, quantity: quantity}}"
"""
WORKFLOW = """
name: forward_orders
triggers:
  - webhook: shop
    topic: orders/create
tasks:
  - id: forward
    sync: orders_to_3pl
    retries: 3
    retry_delay: 200ms
"""


def order(number: int) -> dict[str, Any]:
    return {
        "id": 7_000_000 + number,
        "name": f"#{1000 + number}",
        "financial_status": "paid",
        "shipping_lines": [{"title": "Standard"}],
        "shipping_address": {
            "name": f"Buyer {number}",
            "address1": f"{number} N Racine Ave",
            "city": "Chicago",
            "province_code": "IL",
            "country_code": "US",
            "zip": "60607",
        },  # fmt: skip
        "line_items": [
            {"sku": "LIGHT-ROAST", "title": "Light Roast", "quantity": 1 + number % 3},
            {"sku": "MUG", "title": "Mug", "quantity": 1},
        ],
    }


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    from podium.sandbox.shopify.webhooks import signed_delivery

    return signed_delivery(SECRET, payload)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"podium up exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("podium up did not answer /api/health within 60s")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def bench_webhook_to_3pl(orders: int, interval: float) -> dict[str, Any]:
    import httpx

    from podium.sandbox.service import start_sandbox
    from podium.sandbox.threepl.app import DEMO_CHANNEL_ID, DEMO_TOKEN

    held: dict[str, float] = {}
    held_wall: dict[str, float] = {}  # the same moments on the store's clock (time.time)
    sent_wall: dict[str, float] = {}
    deliveries: dict[str, str] = {}  # reference id → delivery id
    landed = threading.Condition()
    options = {"threepl": {"timer": time.monotonic}}
    with (
        start_sandbox(apis=["threepl"], options=options) as sandbox,
        tempfile.TemporaryDirectory(prefix="podium-bench-3pl-") as tmp,
    ):
        book = sandbox.simulator("threepl").book
        create = book.create

        def timed_create(body: Any, channel_id: str, now: datetime) -> Any:
            made = create(body, channel_id, now)
            with landed:
                held.setdefault(str(body["reference_id"]), time.perf_counter())
                held_wall.setdefault(str(body["reference_id"]), time.time())
                landed.notify_all()
            return made

        book.create = timed_create
        root = Path(tmp)
        (root / "workflows").mkdir()
        (root / "podium.yaml").write_text(
            textwrap.dedent(PROJECT).format(
                secret=SECRET,
                base_url=sandbox.url_for("threepl"),
                token=DEMO_TOKEN,
                channel=DEMO_CHANNEL_ID,
            )  # fmt: skip
        )
        (root / "workflows" / "forward_orders.yaml").write_text(textwrap.dedent(WORKFLOW))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("PODIUM_STORE_URL", "PODIUM_DEBUG")}
        proc = subprocess.Popen(
            [*PODIUM, "up", "--port", str(port), "--project", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        sent: dict[str, float] = {}
        try:
            _wait_healthy(url, proc)
            with httpx.Client(timeout=10) as client:
                for n in range(WARM_UP + orders):
                    body, headers = signed(order(n))
                    ref = str(7_000_000 + n)
                    deliveries[ref] = headers["X-Shopify-Webhook-Id"]
                    sent_wall[ref] = time.time()
                    slot = time.perf_counter()
                    sent[ref] = slot
                    status = client.post(f"{url}/webhooks/shop", content=body, headers=headers)
                    status.raise_for_status()
                    if n < WARM_UP:  # the first syncs import and open what later ones reuse
                        _wait_for(held, landed, str(7_000_000 + n), 30)
                        continue
                    time.sleep(max(0.0, slot + interval - time.perf_counter()))
                _wait_for(held, landed, str(7_000_000 + WARM_UP + orders - 1), 60)
                deadline = time.monotonic() + 30
                while len(held) < len(sent) and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        truth = sandbox.simulator("threepl").truth()
        measured = [str(7_000_000 + n) for n in range(WARM_UP, WARM_UP + orders)]
        steps = breakdown(root, {r: deliveries[r] for r in measured}, sent_wall, held_wall)
    latencies = [(held[r] - sent[r]) * 1000 for r in measured if r in held]
    return {
        "orders": orders,
        "interval": interval,
        "held": len(latencies),
        "p50_ms": quantile(latencies, 0.5) if latencies else float("nan"),
        "p99_ms": quantile(latencies, 0.99) if latencies else float("nan"),
        "max_ms": max(latencies, default=float("nan")),
        "duplicates": len(truth["duplicated_reference_ids"]),
        "steps_p50_ms": steps,
    }


STEPS = ("post → inbox", "inbox → processed", "processed → run", "run → attempt",
         "attempt → 3PL holds", "3PL holds → attempt ends")  # fmt: skip


def breakdown(
    root: Path, deliveries: dict[str, str], sent: dict[str, float], held: dict[str, float]
) -> dict[str, float]:
    """Median ms of each step from the POST to the 3PL, from the store's timestamps: the
    delivery's inbox row (received, processed), its run (created) and the sync's attempt
    (started, finished)."""
    import sqlite3

    conn = sqlite3.connect(root / ".podium" / "state.db", timeout=10)
    try:
        rows = conn.execute(
            "SELECT i.delivery_id, i.received_at, i.processed_at, r.created_at, a.started_at,"
            " a.finished_at FROM webhook_inbox i"
            " JOIN runs r ON r.dedupe_key LIKE 'webhook:' || i.id || ':%'"
            " JOIN attempts a ON a.run_id = r.id AND a.number = 1"
        ).fetchall()
    finally:
        conn.close()
    by_delivery = {r[0]: r[1:] for r in rows}
    spans: dict[str, list[float]] = {name: [] for name in STEPS}
    for ref, delivery in deliveries.items():
        found = by_delivery.get(delivery)
        if found is None or ref not in held or None in found:
            continue
        received, processed, created, started, finished = found
        marks = (sent[ref], received, processed, created, started, held[ref], finished)
        for name, a, b in zip(STEPS, marks, marks[1:], strict=False):
            spans[name].append((b - a) * 1000)
    return {name: round(statistics.median(v), 1) for name, v in spans.items() if v}


def _wait_for(
    held: dict[str, float], landed: threading.Condition, ref: str, timeout: float
) -> None:
    with landed:
        if not landed.wait_for(lambda: ref in held, timeout):
            raise RuntimeError(f"order {ref} did not reach the 3PL within {timeout}s")


# -- the table ---------------------------------------------------------------------------
def run_syncs(profiles: int, orders: int, interval: float) -> tuple[list[tuple[str, ...]], bool]:
    """(rows: metric, value, target, ok/NOT), and whether nothing went wrong (no 429, every
    order held once)."""
    k = bench_klaviyo(profiles)
    w = bench_webhook_to_3pl(orders, interval)
    inc = k["incremental"]
    n = f"{profiles:,}"
    calls = ", ".join(f"{e} {c}" for e, c in sorted(k["calls"].items()))
    phases = ", ".join(f"{p} {s:.1f}" for p, s in sorted(k["phases"].items()))
    changed = ", ".join(f"{n} {op}s" for op, n in inc["changes"].items())
    rows: list[tuple[str, str, str, bool | None]] = [
        (f"syncs: klaviyo {n} list members, first sync", f"{k['records_per_s']:,.0f} records/s"
         f" ({k['landed']:,} in {k['seconds']:.1f} s, {k['rejected']} rejected)", "", None),
        ("syncs: klaviyo, what the limits allow this request plan",
         f"{k['max_records_per_s']:,.0f} records/s ({k['limits_seconds']:.0f} s for: {calls})",
         "", None),
        ("syncs: klaviyo, share of what the limits allow", f"{k['share']:.0%}", "≥ 90 %",
         k["share"] >= 0.9),
        ("syncs: klaviyo, share without the simulator's own time",
         f"{k['podium_share']:.0%} (simulator answering {k['simulator_s']:.1f} s)", "", None),
        ("syncs: klaviyo, phases (s)", phases, "", None),
        ("syncs: klaviyo, 429s", str(k["violations"]), "0", k["violations"] == 0),
        (f"syncs: klaviyo, 1 % change ({changed})",
         f"{inc['requests']} requests, minimum {inc['minimum']} ({inc['seconds']:.1f} s)",
         "≤ min + 10 %", inc["requests"] <= inc["minimum"] * 1.1),
        (f"syncs: webhook → 3PL, {w['orders']} orders every {w['interval']} s",
         f"p50 {w['p50_ms']:.0f} ms, p99 {w['p99_ms']:.0f} ms, max {w['max_ms']:.0f} ms",
         "p99 ≤ 250 ms", w["p99_ms"] <= 250),
        ("syncs: webhook → 3PL, steps (p50 ms)",
         ", ".join(f"{k} {v:.0f}" for k, v in w["steps_p50_ms"].items()), "", None),
        ("syncs: webhook → 3PL, orders held once", f"{w['held']}/{w['orders']},"
         f" {w['duplicates']} duplicated", "all, 0", w["held"] == w["orders"] and
         not w["duplicates"]),
    ]  # fmt: skip
    # what fails `make bench`: a 429 (the pacing broke a published limit), an order lost or
    # doubled; the throughput and latency targets are reported ok/NOT, like other groups'
    ok = k["violations"] == 0 and w["held"] == w["orders"] and not w["duplicates"]
    table = [(m, v, t, "" if good is None else ("ok" if good else "NOT")) for m, v, t, good in rows]
    return table, ok


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sync-profiles", type=int, default=100_000)
    parser.add_argument("--sync-orders", type=int, default=200)
    parser.add_argument("--sync-order-interval", type=float, default=0.45)


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("metric", "value", "target", "ok")
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--only", choices=["klaviyo", "3pl"], default=None)
    args = parser.parse_args()
    if args.only == "klaviyo":
        print(json.dumps(bench_klaviyo(args.sync_profiles), indent=2, default=str))
        return 0
    if args.only == "3pl":
        print(json.dumps(bench_webhook_to_3pl(args.sync_orders, args.sync_order_interval),
                         indent=2))  # fmt: skip
        return 0
    rows, ok = run_syncs(args.sync_profiles, args.sync_orders, args.sync_order_interval)
    print_table(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
