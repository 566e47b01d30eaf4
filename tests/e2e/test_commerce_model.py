"""The commerce template end to end: its daily workflow against the simulators, judged by
the simulators' own ground truth, to the cent, on DuckDB and on PostgreSQL; and a late
Amazon restated by the catch-up run."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.calendar_clock import a_year_ahead, set_podium_clock
from tests.postgres_schemas import POSTGRES_URL, SKIP_POSTGRES

from podium.demo.project import set_late_after
from podium.demo.speeds import connection_settings
from podium.project import init_project
from podium.sandbox import Faults
from podium.sandbox.brand import BrandConfig, truth
from podium.sandbox.faults import ALWAYS
from podium.sandbox.service import SERVED, Sandbox, start_sandbox

from .conftest import PODIUM, podium_cli, podium_env, wait_until

BRAND = {"days": 40}  # anchored to podium's clock when the sandbox starts
SELL_THROUGH = (
    "retailer,store_id,sku,week,units_sold,sales_amount,on_hand\n"
    "Northwind Outfitters,101,EVETEE-M,2026-09-07,12,300.00,40\n"
    "Northwind Outfitters,102,WOOSOC-L,2026-09-07,5,70.00,12\n"
)
AD_SPEND = (
    "date,platform,campaign_id,campaign_name,spend,impressions,clicks,currency\n"
    "2026-09-01,meta,c1,Fall launch,120.50,10000,250,USD\n"
    "2026-09-02,google,g7,Brand search,80.00,4000,300,USD\n"
)
MART = "marts.daily_sales_by_channel"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(config=BrandConfig(**BRAND), fast=True, apis=SERVED) as running:
        yield running


@pytest.fixture
def sandbox_a_year_ahead(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The sandbox, and podium's clock in this process and its subprocesses, a year ahead
    at 23:30 UTC: the brand's days and its API's days end half an hour later."""
    set_podium_clock(monkeypatch, a_year_ahead(23))
    with start_sandbox(config=BrandConfig(**BRAND), fast=True, apis=SERVED) as running:
        yield running


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "duckdb":
        yield {"type": "duckdb"}
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import uuid

    import psycopg

    prefix = f"cm{uuid.uuid4().hex[:8]}_"
    yield {"type": "postgres", "url": POSTGRES_URL, "schema_prefix": prefix}
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def commerce_project(
    root: Path, sandbox: Sandbox, warehouse: dict[str, Any], template: str = "commerce"
) -> Path:
    init_project(root, template)
    config = yaml.safe_load((root / "podium.yaml").read_text())
    config["warehouse"] = {**warehouse, "pii_key": "${PODIUM_PII_KEY:-test-pii-key}"}
    named = {settings.get("type"): name for name, settings in config["connections"].items()}
    for api in sandbox.apis:  # the 3PL's connection is called fulfilment
        config["connections"][named.get(api, api)] = {
            **sandbox.connection(api),
            **connection_settings(api),
        }
    (root / "podium.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "inbox/retailers/sell_through_2026-09-07.csv").write_text(SELL_THROUGH)
    (root / "inbox/ad_spend/2026-09.csv").write_text(AD_SPEND)
    return root


def run_daily(root: Path) -> dict[str, Any]:
    done = podium_cli(root, "run", "daily", "--json", timeout=300)
    run: dict[str, Any] = json.loads(done.out) if done.out.startswith("{") else {}
    failed = {t["id"]: t["error"] for t in run.get("tasks", []) if t["status"] != "succeeded"}
    assert done.code == 0, failed or done
    return run


def mart(root: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the project's warehouse (DuckDB or PostgreSQL)."""
    from podium.project import load_project
    from podium.transforms.warehouse_sql import open_warehouse_sql

    project = load_project(root)
    with open_warehouse_sql(project.warehouse, root) as db:
        if db.schema_prefix:
            sql = sql.replace("marts.", f"{db.schema_prefix}marts.")
            sql = sql.replace("commerce.", f"{db.schema_prefix}commerce.")
        return db.query(sql)


def daily_sales(root: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows = mart(
        root,
        f"SELECT day, channel, orders, units, gross, discounts, refunds, net FROM {MART}",
    )
    return {(str(r[0]), str(r[1])): (int(r[2]), int(r[3]), *map(Decimal, r[4:])) for r in rows}


def expected_sales(
    now: datetime, sandbox: Sandbox, channels: set[str] | None = None
) -> dict[Any, Any]:
    days = truth(sandbox.brand, now, priced_only=True)
    return {
        (d.day.isoformat(), str(d.channel)): (
            d.orders, d.units, d.gross, d.discounts, d.refunds, d.net
        )
        for d in days
        if channels is None or str(d.channel) in channels
    }  # fmt: skip


def test_daily_sales_equal_the_ground_truth_to_the_cent(
    tmp_path: Path, sandbox: Sandbox, warehouse: dict[str, Any]
) -> None:
    assert_daily_sales_equal_the_truth(tmp_path, sandbox, warehouse)


def test_a_year_ahead_at_23h30_daily_sales_still_equal_the_truth(
    tmp_path: Path, sandbox_a_year_ahead: Sandbox
) -> None:
    assert sandbox_a_year_ahead.clock.now().year > datetime.now().year  # noqa: DTZ005
    assert_daily_sales_equal_the_truth(tmp_path, sandbox_a_year_ahead, {"type": "duckdb"})


def assert_daily_sales_equal_the_truth(
    tmp_path: Path, sandbox: Sandbox, warehouse: dict[str, Any]
) -> None:
    root = commerce_project(tmp_path, sandbox, warehouse)
    run = run_daily(root)
    assert {t["status"] for t in run["tasks"]} == {"succeeded"}, run
    expected = expected_sales(sandbox.clock.now(), sandbox)
    assert {c for _, c in expected} == {"dtc", "marketplace", "wholesale"}
    assert daily_sales(root) == expected

    # Three days later: new orders, statuses moved on, refunds landed on old orders; the
    # incremental sync and the incremental orders model must still agree to the cent.
    sandbox.advance(timedelta(days=3))
    run_daily(root)
    later = expected_sales(sandbox.clock.now(), sandbox)
    assert later != expected and sum(v[4] for v in later.values()) > 0
    assert daily_sales(root) == later


def test_the_rest_of_the_model_is_consistent(tmp_path: Path, sandbox: Sandbox) -> None:
    root = commerce_project(tmp_path, sandbox, {"type": "duckdb"})
    run = run_daily(root)
    checks = [c for t in run["tasks"] for c in (t["output"] or {}).get("checks", [])]
    assert checks and all(c["passed"] for c in checks), checks
    brand = sandbox.brand
    # every SKU is known to every system that sells it, and orders' lines add up
    skus = {r[0] for r in mart(root, "SELECT sku FROM commerce.products")}
    assert {v.sku for v in brand.variants} <= skus
    assert mart(
        root,
        "SELECT count(*) FROM commerce.order_lines l LEFT JOIN commerce.products p"
        " ON p.sku = l.sku WHERE p.sku IS NULL",
    ) == [(0,)]
    # one person per email across Shopify and Klaviyo, and no raw email anywhere
    people = mart(
        root,
        "SELECT count(DISTINCT person_id), count(*) FROM commerce.identity_map"
        " WHERE customer_type = 'consumer'",
    )
    [(persons, records)] = people
    assert records == 2 * persons  # each shopper is a Shopify customer and a Klaviyo profile
    hashes = mart(root, "SELECT email_hash FROM commerce.customers WHERE source = 'shopify'")
    assert all(len(h) == 64 and "@" not in h for (h,) in hashes)
    first = brand.customers[0]
    email = first.email.strip().lower().encode()  # normalised as pii_email() does
    assert (hmac.new(b"test-pii-key", email, hashlib.sha256).hexdigest(),) in hashes
    # the marts' other figures tie back to the orders
    [(net_sales,)] = mart(root, "SELECT sum(net_sales) FROM marts.cohort_revenue")
    [(known,)] = mart(root, "SELECT sum(net_sales) FROM marts.customer_orders")
    assert net_sales == known
    [(spend,)] = mart(root, "SELECT sum(spend) FROM marts.marketing_efficiency")
    assert spend == Decimal("200.50")


def test_a_late_amazon_is_restated_when_it_lands(tmp_path: Path, sandbox: Sandbox) -> None:
    root = commerce_project(tmp_path, sandbox, {"type": "duckdb"})
    run_daily(root)  # yesterday: every source on time
    yesterday = sandbox.clock.now()
    sandbox.advance(timedelta(days=1))
    set_late_after(root, "2s")
    sandbox.server.set_faults("amazon", Faults(slow=ALWAYS, slow_seconds=0.5))
    earlier = run_ids(root)
    running = subprocess.Popen(
        [*PODIUM, "run", "daily", "--json", "--project", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # While Amazon is still syncing the marts are built without its new day: DTC and
        # wholesale are today's truth, marketplace is still yesterday's, flagged incomplete.
        wait_until(
            lambda: mart_built_in_new_run(root, earlier), 120, message="the mart's first build"
        )
        assert running.poll() is None, "Amazon landed before the check: make it slower"
        now = sandbox.clock.now()
        sales = daily_sales(root)
        assert sales == {
            **expected_sales(now, sandbox, {"dtc", "wholesale"}),
            **expected_sales(yesterday, sandbox, {"marketplace"}),
        }
        out, err = running.communicate(timeout=300)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, err
    run = json.loads(out)
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["amazon"]["late"]
    incomplete = {t for t, v in tasks.items() if v.get("incomplete")}
    assert incomplete == RESTATED
    # which source made the mart incomplete, and until when that source was complete:
    # yesterday's load
    [(late, through)] = tasks[f"models.{MART}"]["output"]["late_sources"].items()
    assert late == "amazon" and through is not None
    [catchup_id] = run["catchup_runs"]
    catchup = json.loads(podium_cli(root, "show", catchup_id, "--json").out)
    rerun = {t["id"] for t in catchup["tasks"] if t["status"] == "succeeded"}
    assert rerun == RESTATED  # and nothing else ran again
    # after the catch-up the marts equal the truth and nothing is flagged incomplete
    assert daily_sales(root) == expected_sales(now, sandbox)
    assets = {a["asset"]: a for a in json.loads(podium_cli(root, "assets", "--json").out)}
    assert all(assets[t.removeprefix("models.")]["complete"] for t in READS_AMAZON)


READS_AMAZON = {
    "models.commerce.orders",
    "models.commerce.order_lines",
    "models.commerce.refunds",
    "models.commerce.products",
    "models.commerce.sku_map",
    "models.commerce.payments_fees",
    f"models.{MART}",
    "models.marts.customer_orders",
    "models.marts.new_vs_returning",
    "models.marts.cohort_revenue",
    "models.marts.marketing_efficiency",
    "models.marts.vip_customers",
}
#: and the VIP sync after the models: it waits for the catch-up instead of sending
RESTATED = READS_AMAZON | {"push_vip"}


def run_ids(root: Path) -> set[str]:
    with sqlite3.connect(root / ".podium/state.db") as db:
        return {r[0] for r in db.execute("SELECT id FROM runs")}


def mart_built_in_new_run(root: Path, earlier: set[str]) -> bool:
    """Whether a run started after ``earlier`` (not a catch-up) has built the sales mart."""
    with sqlite3.connect(root / ".podium/state.db") as db:
        rows = db.execute(
            "SELECT r.id FROM task_runs t JOIN runs r ON r.id = t.run_id"
            " WHERE r.kind != 'catchup' AND t.task_id = ? AND t.status = 'succeeded'",
            (f"models.{MART}",),
        ).fetchall()
    return any(r[0] not in earlier for r in rows)


TEMPLATE_VARIABLES = [
    "PODIUM_PII_KEY",
    "SHOPIFY_SHOP",
    "SHOPIFY_ACCESS_TOKEN",
    "AMAZON_REFRESH_TOKEN",
    "AMAZON_CLIENT_ID",
    "AMAZON_CLIENT_SECRET",
    "NETSUITE_ACCOUNT_ID",
    "NS_CONSUMER_KEY",
    "NS_CONSUMER_SECRET",
    "NS_TOKEN_ID",
    "NS_TOKEN_SECRET",
    "KLAVIYO_API_KEY",
    "SHOPIFY_WEBHOOK_SECRET",
    "THREEPL_TOKEN",
    "THREEPL_CHANNEL_ID",
]


def test_init_commerce_makes_a_project_that_validates_once_its_secrets_are_set(
    tmp_path: Path,
) -> None:
    made = podium_cli(tmp_path, "init", "shop", "--template", "commerce")
    assert made.code == 0, made
    root = tmp_path / "shop"
    unset = podium_cli(root, "validate")
    assert unset.code == 2
    assert "environment variable SHOPIFY_ACCESS_TOKEN is not set" in unset.out + unset.err
    values = {name: f"value-of-{name.lower()}" for name in TEMPLATE_VARIABLES}
    values |= {
        "SHOPIFY_SHOP": "acme-goods",
        "SHOPIFY_ACCESS_TOKEN": "shpat_" + "0" * 32,
        "KLAVIYO_API_KEY": "pk_" + "1" * 34,
        "NETSUITE_ACCOUNT_ID": "1234567_SB1",
    }
    env = {**podium_env(), **values}
    done = podium_cli(root, "validate", env=env)
    assert done.code == 0, done
    listed = podium_cli(root, "models", "list", "--json", env=env)
    names = {m["name"] for m in json.loads(listed.out)}
    assert {"commerce.orders", "commerce.identity_map", f"{MART}"} <= names
    graph = podium_cli(root, "graph", "daily", env=env)
    assert "models.commerce.orders" in graph.out and "amazon" in graph.out
