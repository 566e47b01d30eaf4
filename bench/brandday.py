"""A large brand's day: the commerce template end to end against the simulators.

The sandbox serves a brand of ``--brandday-orders-per-year`` orders a year (Shopify,
Amazon and NetSuite in the default brand's mix, Klaviyo's profiles and events with them;
``BrandConfig.at_scale``) with ``--brandday-days`` days of history; retailer sell-through
and ad-spend files land in the project's inbox in proportion (one file per week and day).
Per warehouse (DuckDB, and PostgreSQL when ``PODIUM_TEST_POSTGRES_URL`` is set):

1. First load: ``podium run daily`` on a fresh project made from the commerce template:
   every extract from nothing, every model, every check, the VIP sync.
2. One simulated day: the sandbox's clock moves 24 h on (new orders, statuses moved,
   refunds landed, deletions), a new day's ad-spend file lands.
3. Daily run: ``podium run daily`` again, incremental. Timed as a whole (the command:
   process start to exit) and per phase, from the run's own task times: each extract,
   the models (last extract's end → last model's end, their checks included), the
   checks (the seconds the checks themselves took, summed), the sync.
4. Ground truth: after each run, ``marts.daily_sales_by_channel`` must equal, to the cent,
   what the brand says its APIs show as of the clock (``truth(priced_only=True)``, the
   computation tests/e2e/test_commerce_model.py uses).

The API budget: for every source, the requests its extract made (the simulator's log) and
the fewest seconds Amazon's, Shopify's and Klaviyo's *published* limits allow for them
(shared/reference/commerce-apis.md; the simulators' defaults): Amazon per operation
``max(0, calls − burst) ÷ rate`` (getOrderItems 0.5/s burst 30, getOrders 0.0167/s
burst 20, …), the slowest operation; Shopify ``max(0, points − 1000) ÷ 100`` (Standard's
GraphQL bucket); Klaviyo per endpoint the least time inside its aligned fixed burst
(1 s) and steady (1 min) windows, ``connector_klaviyo.fastest`` (profiles 75/s and
750/min, events 350/s and 3500/min, values reports 1/s and 2/min; the burst windows were
left out before, so 669 profile pages showed a floor of 0 s). NetSuite limits
concurrency, not rate: no floor. ``% of limits`` = that floor ÷ the extract's seconds: 100 % is a load going exactly
as fast as the API allows.

``--brandday-limits fast`` (the default) serves the sandbox's ``--fast`` limits (Amazon's
rates ×100, Shopify's restore rate 2000 points/s, Klaviyo's reports 30/min), which the demo
and the commerce tests use; ``published`` serves the real ones, at which the floor above is
the run's pace (hours for a year's Amazon first load: 0.5 getOrderItems calls a second).

    .venv/bin/python bench/run.py --only brandday [--brandday-orders-per-year 1000000]
        [--brandday-days 14] [--brandday-limits fast|published]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from connector_klaviyo import LIMITS as KLAVIYO_LIMITS
from connector_klaviyo import fastest

from podium.demo.speeds import connection_settings
from podium.project import init_project
from podium.sandbox.amazon.access import RATE_LIMITS
from podium.sandbox.brand import BrandConfig, truth
from podium.sandbox.service import SERVED, Sandbox, start_sandbox

PODIUM = [sys.executable, "-m", "podium.cli.main"]
DAILY_TARGET_S = 60.0
MART = "marts.daily_sales_by_channel"
AMAZON_LIMITS = RATE_LIMITS  # SP-API's published (requests/s, burst) per operation
SHOPIFY_BUCKET, SHOPIFY_RESTORE = 1000.0, 100.0  # Standard plan, GraphQL points
SOURCES = ("shopify", "amazon", "netsuite", "klaviyo")
FILES = ("retailers", "ad_spend")
PLATFORMS = ("meta", "google", "tiktok")


@dataclass(frozen=True)
class Options:
    orders_per_year: int = 1_000_000
    days: int = 14
    limits: str = "fast"
    postgres_url: str = ""  # "" leaves PostgreSQL out


@dataclass
class RunFigures:
    """One ``podium run daily``: its command's seconds and its phases."""

    seconds: float
    status: str
    phases: dict[str, float] = field(default_factory=dict)  # phase → seconds
    requests: dict[str, int] = field(default_factory=dict)  # source → requests
    floors: dict[str, float | None] = field(default_factory=dict)  # source → seconds
    failed: dict[str, str] = field(default_factory=dict)  # task → error
    truth_equal: bool = False
    differences: list[str] = field(default_factory=list)
    podium_cpu_s: float = 0.0  # CPU seconds of the `podium run` process (user + system)
    shopify_points: float = 0.0  # query-cost points Shopify charged (actualQueryCost)
    sandbox_cpu_s: float = 0.0  # … and of this process, which serves every simulator


@dataclass
class Case:
    warehouse: str
    orders: int  # orders the first load saw (every channel)
    orders_after_a_day: int  # and the daily run
    first: RunFigures
    daily: RunFigures

    @property
    def ok(self) -> bool:
        return all(r.truth_equal and not r.failed for r in (self.first, self.daily))


# -- the brand's project ----------------------------------------------------------------


def warehouse_settings(kind: str, postgres_url: str) -> dict[str, Any]:
    if kind == "duckdb":
        return {"type": "duckdb"}
    return {"type": "postgres", "url": postgres_url, "schema_prefix": f"bd{uuid.uuid4().hex[:8]}_"}


def write_project(root: Path, sandbox: Sandbox, warehouse: dict[str, Any], *, fast: bool) -> Path:
    """The commerce template pointed at ``sandbox`` (what test_commerce_model does)."""
    init_project(root, "commerce")
    config = yaml.safe_load((root / "podium.yaml").read_text())
    config["warehouse"] = {**warehouse, "pii_key": "${PODIUM_PII_KEY:-bench-pii-key}"}
    named = {s.get("type"): name for name, s in config["connections"].items()}
    for api in sandbox.apis:
        extra = dict(connection_settings(api))
        if not fast:  # the connection's own defaults pace Klaviyo's reports as published
            extra.pop("rate_limits", None)
        config["connections"][named.get(api, api)] = {**sandbox.connection(api), **extra}
    (root / "podium.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def drop_files(root: Path, sandbox: Sandbox, since: date, until: date) -> None:
    """Retailers' weekly sell-through and the ad platforms' daily spend for the days in
    [since, until), in proportion to the brand's size."""
    brand = sandbox.brand
    scale = max(1.0, brand.config.orders_per_year / 22_000)
    stores = max(2, int(brand.config.orders_per_year // 40_000))
    skus = [v.sku for v in brand.variants]
    day = since
    while day < until:
        spend = [("date,platform,campaign_id,campaign_name,spend,impressions,clicks,currency")]
        for p, platform in enumerate(PLATFORMS):
            for c in range(max(1, int(scale // 5))):
                cents = 5_000 + (day.toordinal() * 37 + p * 11 + c * 7) % 20_000
                spend.append(
                    f"{day},{platform},{platform[0]}{c},Campaign {c},{Decimal(cents) / 100},"
                    f"{cents * 3},{cents // 40},USD"
                )
        (root / f"inbox/ad_spend/{day}.csv").write_text("\n".join(spend) + "\n")
        if day.weekday() == 0:  # a retailer's week, reported on Mondays
            rows = ["retailer,store_id,sku,week,units_sold,sales_amount,on_hand"]
            for account in brand.wholesale_accounts:
                for store in range(stores):
                    for s, sku in enumerate(skus):
                        units = (account.id + store * 3 + s * 5 + day.toordinal()) % 13
                        price = brand.variant_by_sku(sku).price
                        rows.append(
                            f"{account.name},{100 + store},{sku},{day},{units},"
                            f"{price * units},{(units * 7) % 50}"
                        )
            (root / f"inbox/retailers/sell_through_{day}.csv").write_text("\n".join(rows) + "\n")
        day += timedelta(days=1)


# -- running and measuring --------------------------------------------------------------


def run_daily(root: Path, sandbox: Sandbox, postgres_url: str) -> RunFigures:
    before = {api: sandbox.server.requests(api) for api in SOURCES}
    spent_before = sandbox.simulator("shopify").spent
    env = {k: v for k, v in os.environ.items() if k != "PODIUM_STORE_URL"}
    cpu_before = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    done = subprocess.run(
        [*PODIUM, "run", "daily", "--json", "--project", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=6 * 3600,
    )
    seconds = time.perf_counter() - started
    podium_cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu_before[0]
    sandbox_cpu = _cpu(resource.RUSAGE_SELF) - cpu_before[1]
    try:
        run: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"podium run daily exited {done.returncode}: {done.stderr[-2000:]}"
        ) from exc
    figures = RunFigures(seconds, str(run.get("status")), phases=phases(run["tasks"]))
    figures.podium_cpu_s, figures.sandbox_cpu_s = podium_cpu, sandbox_cpu
    figures.failed = {
        t["id"]: str(t.get("error") or t["status"])
        for t in run["tasks"]
        if t["status"] != "succeeded"
    }
    for api in SOURCES:
        log = sandbox.server.log(api)[before[api] :]
        figures.requests[api] = len(log)
        figures.floors[api] = floor_seconds(api, log, sandbox, spent_before)
    figures.shopify_points = float(sandbox.simulator("shopify").spent) - spent_before
    return figures


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def phases(tasks: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per phase from the tasks' own times (see the module docstring)."""
    found: dict[str, float] = {}
    models: list[tuple[datetime, datetime]] = []
    extracts: list[datetime] = []
    checks = 0.0
    for task in tasks:
        if not task.get("started_at") or not task.get("finished_at"):
            continue
        start = datetime.fromisoformat(task["started_at"])
        end = datetime.fromisoformat(task["finished_at"])
        if task["id"] in (*SOURCES, *FILES):
            found[f"extract {task['id']}"] = (end - start).total_seconds()
            extracts.append(end)
        elif task["id"].startswith("models."):
            models.append((start, end))
            checks += sum(float(c["seconds"]) for c in (task["output"] or {}).get("checks", []))
        else:
            found[task["id"]] = (end - start).total_seconds()
    if models:
        # the models' own stretch: from the last extract's end (or the first model's start,
        # when later) to the last model's end; models on files start early and wait
        begun = max([min(s for s, _ in models), *extracts])
        found["models (checks included)"] = (max(e for _, e in models) - begun).total_seconds()
        found["checks"] = checks
    return found


def floor_seconds(
    api: str, log: list[tuple[str, str, int]], sandbox: Sandbox, spent_before: float
) -> float | None:
    """The fewest seconds the published limits allow for these requests (None: the API
    limits concurrency, not rate)."""
    if api == "shopify":
        spent = float(sandbox.simulator("shopify").spent) - spent_before
        return max(0.0, spent - SHOPIFY_BUCKET) / SHOPIFY_RESTORE
    if api == "amazon":
        calls = Counter(amazon_operation(method, path) for method, path, _ in log)
        return max(
            (max(0.0, n - AMAZON_LIMITS[op][1]) / AMAZON_LIMITS[op][0] for op, n in calls.items()
             if op in AMAZON_LIMITS),
            default=0.0,
        )  # fmt: skip
    if api == "klaviyo":
        calls = Counter(klaviyo_endpoint(path) for _, path, _ in log)
        return max(
            (fastest(n, KLAVIYO_LIMITS[e]) for e, n in calls.items() if e in KLAVIYO_LIMITS),
            default=0.0,
        )
    return None


_AMAZON = (
    ("GET", re.compile(r"^/orders/v0/orders$"), "getOrders"),
    ("GET", re.compile(r"^/orders/v0/orders/[^/]+/orderItems$"), "getOrderItems"),
    ("GET", re.compile(r"^/finances/v0/financialEvents$"), "listFinancialEvents"),
    ("GET", re.compile(r"^/reports/2021-06-30/reports$"), "getReports"),
    ("POST", re.compile(r"^/reports/2021-06-30/reports$"), "createReport"),
    ("GET", re.compile(r"^/reports/2021-06-30/reports/[^/]+$"), "getReport"),
    ("GET", re.compile(r"^/reports/2021-06-30/documents/[^/]+$"), "getReportDocument"),
)


def amazon_operation(method: str, path: str) -> str:
    bare = path.split("?", 1)[0].removeprefix("/amazon")
    return next((op for m, pattern, op in _AMAZON if m == method and pattern.match(bare)), "")


def klaviyo_endpoint(path: str) -> str:
    parts = path.split("?", 1)[0].removeprefix("/klaviyo").strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "api" else ""


# -- the ground truth -------------------------------------------------------------------


def daily_sales(root: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    from podium.project import load_project
    from podium.transforms.warehouse_sql import open_warehouse_sql

    sql = f"SELECT day, channel, orders, units, gross, discounts, refunds, net FROM {MART}"
    with open_warehouse_sql(load_project(root).warehouse, root) as db:
        if db.schema_prefix:
            sql = sql.replace("marts.", f"{db.schema_prefix}marts.")
        rows = db.query(sql)
    return {(str(r[0]), str(r[1])): (int(r[2]), int(r[3]), *map(Decimal, r[4:])) for r in rows}


def expected_sales(sandbox: Sandbox) -> dict[tuple[str, str], tuple[Any, ...]]:
    days = truth(sandbox.brand, sandbox.clock.now(), priced_only=True)
    return {
        (d.day.isoformat(), str(d.channel)): (
            d.orders, d.units, d.gross, d.discounts, d.refunds, d.net
        )
        for d in days
    }  # fmt: skip


def judge(figures: RunFigures, root: Path, sandbox: Sandbox) -> int:
    """Compares the mart with the truth; returns the orders the truth counts."""
    expected = expected_sales(sandbox)
    try:
        got = daily_sales(root)
    except Exception as exc:  # noqa: BLE001 - a mart the run did not build is a finding
        got = {}
        figures.differences = [f"{MART} unreadable: {str(exc).splitlines()[0]}"]
    figures.truth_equal = expected == got
    keys = sorted(set(expected) | set(got))
    figures.differences += [
        f"{k}: expected {expected.get(k)}, warehouse {got.get(k)}"
        for k in keys
        if expected.get(k) != got.get(k)
    ][:5]
    return sum(int(v[0]) for v in expected.values())


def run_case(kind: str, options: Options, work: Path) -> Case:
    config = BrandConfig.at_scale(options.orders_per_year, days=options.days)
    fast = options.limits == "fast"
    _progress(f"{kind}: generating a brand of {options.orders_per_year:,} orders a year")
    with start_sandbox(config=config, fast=fast, apis=SERVED) as sandbox:
        root = write_project(
            work / kind, sandbox, warehouse_settings(kind, options.postgres_url), fast=fast
        )
        today = sandbox.clock.now().date()
        drop_files(root, sandbox, config.first_day, today + timedelta(days=1))
        _progress(f"{kind}: first load as of {sandbox.clock.now():%Y-%m-%d %H:%M}")
        first = run_daily(root, sandbox, options.postgres_url)
        orders = judge(first, root, sandbox)
        sandbox.advance(timedelta(days=1))
        drop_files(
            root, sandbox, today + timedelta(days=1), sandbox.clock.now().date() + timedelta(1)
        )
        _progress(f"{kind}: the daily run as of {sandbox.clock.now():%Y-%m-%d %H:%M}")
        daily = run_daily(root, sandbox, options.postgres_url)
        orders_after_a_day = judge(daily, root, sandbox)
    if kind == "postgres":
        drop_schemas(options.postgres_url, root)
    return Case(kind, orders, orders_after_a_day, first, daily)


def drop_schemas(url: str, root: Path) -> None:
    import psycopg

    prefix = yaml.safe_load((root / "podium.yaml").read_text())["warehouse"]["schema_prefix"]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (schema,) in rows:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run_brandday(options: Options) -> list[Case]:
    kinds = ["duckdb"] + (["postgres"] if options.postgres_url else [])
    with tempfile.TemporaryDirectory(prefix="podium-brandday-") as tmp:
        return [run_case(kind, options, Path(tmp)) for kind in kinds]


# -- reporting --------------------------------------------------------------------------


def summary_rows(cases: list[Case], options: Options) -> list[tuple[str, str]]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [("brand day: limits served, sandbox peak RSS", f"{options.limits}, {peak:.0f} MiB")]
    for case in cases:
        label = f"brand day ({options.orders_per_year:,}/yr, {options.days} d, {case.warehouse})"
        first, daily = case.first, case.daily
        rows.append(
            (
                f"{label}: first load",
                f"{first.seconds:.1f} s, {case.orders:,} orders (CPU: podium"
                f" {first.podium_cpu_s:.1f} s, simulators {first.sandbox_cpu_s:.1f} s)",
            )
        )
        for api in SOURCES:
            rows.append((f"{label}: first load {api}", _budget(first, api)))
        verdict = "OK" if daily.seconds <= DAILY_TARGET_S else "MISSED"
        rows.append(
            (
                f"{label}: daily run",
                f"{daily.seconds:.1f} s (target ≤ {DAILY_TARGET_S:.0f} s: {verdict})",
            )
        )
        rows.append(
            (
                f"{label}: daily run CPU",
                f"podium {daily.podium_cpu_s:.1f} s, simulators {daily.sandbox_cpu_s:.1f} s"
                f" (of {daily.seconds:.1f} s wall)",
            )
        )
        for phase, seconds in daily.phases.items():
            rows.append((f"{label}: daily {phase}", f"{seconds:.1f} s"))
        for api in SOURCES:
            rows.append((f"{label}: daily {api}", _budget(daily, api)))
        for name, run in (("first load", first), ("daily run", daily)):
            said = (
                "equal to the cent"
                if run.truth_equal
                else "DIFFERENT: " + "; ".join(run.differences[:2])
            )
            rows.append((f"{label}: ground truth after the {name}", said))
            rows.extend((f"{label}: {name} FAILED {t}", e[:120]) for t, e in run.failed.items())
    return rows


def _budget(run: RunFigures, api: str) -> str:
    took = run.phases.get(f"extract {api}", 0.0)
    floor = run.floors.get(api)
    if floor is None:
        return f"{took:.1f} s, {run.requests[api]:,} requests (concurrency-limited: no rate floor)"
    share = f"{floor / took:.0%} of their pace" if took > 0 and floor > 0 else "under the burst"
    points = f", {run.shopify_points:,.0f} points" if api == "shopify" else ""
    return (
        f"{took:.1f} s, {run.requests[api]:,} requests{points}; published limits allow ≥ "
        f"{floor:.1f} s → {share}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--brandday-orders-per-year", type=int, default=1_000_000)
    parser.add_argument("--brandday-days", type=int, default=14, help="days of history")
    parser.add_argument("--brandday-limits", choices=["fast", "published"], default="fast")


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        orders_per_year=args.brandday_orders_per_year,
        days=args.brandday_days,
        limits=args.brandday_limits,
        postgres_url=os.environ.get("PODIUM_TEST_POSTGRES_URL", ""),
    )


def _progress(message: str) -> None:
    print(f"[brandday {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    options = options_from(parser.parse_args(argv))
    cases = run_brandday(options)
    for name, value in summary_rows(cases, options):
        print(f"{name:<72}  {value}")
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
