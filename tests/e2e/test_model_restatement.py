"""A late extract holds back only the models that read its tables; when it lands, the
catch-up run rebuilds exactly those."""

from __future__ import annotations

import json
from pathlib import Path

from podium.sandbox import Faults
from podium.sandbox.faults import ALWAYS
from podium.sandbox.pages import PageServer

from .conftest import podium_cli

WORKFLOW = """
name: daily
tasks:
  - id: shop
    extract: shop
  - id: amazon
    extract: amazon
    late_after: 1s
    on_late: continue
  - id: models
    transform: commerce
"""
MODELS = {
    "models/commerce/shop_orders.sql": "select id, total from raw_shop.orders",
    "models/commerce/amazon_orders.sql": "select id, total from raw_amazon.orders",
    "models/commerce/all_orders.sql": (
        "-- materialized: table\n"
        "select 'shop' as source, id, total from commerce.shop_orders union all "
        "select 'amazon', id, total from commerce.amazon_orders"
    ),
}


def records(prefix: int) -> list[dict[str, object]]:
    return [
        {"id": prefix + n, "total": n + 0.5, "updated_at": f"2026-11-2{n}T10:00:00Z"}
        for n in range(3)
    ]


def test_a_late_source_restates_only_the_models_that_read_it(tmp_path: Path) -> None:
    with (
        PageServer(records(100)) as shop,
        PageServer(records(200), faults=Faults(slow=ALWAYS, slow_seconds=2.5)) as amazon,
    ):
        connections = "".join(
            f"  {name}:\n    type: rest\n    base_url: {server.url}\n"
            "    pagination: {style: link}\n    streams:\n      orders:\n"
            "        path: /orders.json\n        records: orders\n        primary_key: id\n"
            "        cursor: updated_at\n"
            for name, server in (("shop", shop), ("amazon", amazon))
        )
        files = {"podium.yaml": "connections:\n" + connections, "workflows/daily.yaml": WORKFLOW}
        for name, text in {**files, **MODELS}.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        # yesterday's load: the raw tables exist, as they do on every day but the first
        assert podium_cli(tmp_path, "extract", "amazon", timeout=60).code == 0
        done = podium_cli(tmp_path, "run", "daily", "--json", timeout=120)
    assert done.code == 0, done
    run = json.loads(done.out)
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["amazon"]["late"]
    # built without Amazon: the models reading it are incomplete, the Shopify one is not
    assert tasks["models.commerce.shop_orders"]["incomplete"] is False
    assert tasks["models.commerce.amazon_orders"]["incomplete"] is True
    assert tasks["models.commerce.all_orders"]["incomplete"] is True
    [catchup_id] = run["catchup_runs"]
    catchup = json.loads(podium_cli(tmp_path, "show", catchup_id, "--json").out)
    rerun = sorted(t["id"] for t in catchup["tasks"] if t["status"] == "succeeded")
    assert rerun == ["models.commerce.all_orders", "models.commerce.amazon_orders"]
    assets = {a["asset"]: a for a in json.loads(podium_cli(tmp_path, "assets", "--json").out)}
    assert assets["commerce.all_orders"]["complete"] and assets["commerce.all_orders"]["rows"] == 6
