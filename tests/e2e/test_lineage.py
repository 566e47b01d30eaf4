"""OpenLineage events from the commerce demo project: ``podium run daily`` with
``lineage: {file: …}`` against the simulators writes a START and a COMPLETE per extract,
model, check and sync attempt, naming the raw tables, the models' inputs and the marts."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde

from podium.project import load_project
from podium.sandbox.brand import BrandConfig
from podium.sandbox.service import SERVED, Sandbox, start_sandbox

from .conftest import podium_cli
from .test_commerce_model import commerce_project, run_daily


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(config=BrandConfig(days=10), fast=True, apis=SERVED) as running:
        yield running


def names(datasets: list[dict[str, Any]]) -> set[str]:
    return {d["name"] for d in datasets}


def test_the_demo_run_writes_start_and_complete_events_naming_its_tables(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    root = commerce_project(tmp_path, sandbox, {"type": "duckdb"})
    config = yaml.safe_load((root / "podium.yaml").read_text())
    config["lineage"] = {"file": "lineage/events.jsonl", "namespace": "acme"}
    (root / "podium.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = run_daily(root)

    lines = (root / "lineage/events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    by_job: dict[str, dict[str, dict[str, Any]]] = {}
    for event in events:
        assert event["producer"].startswith("urn:podium:")
        assert event["schemaURL"].endswith("#/$defs/RunEvent")
        by_job.setdefault(event["job"]["name"], {})[event["eventType"]] = event
        assert event["job"]["namespace"] == "acme"
    daily = load_project(root).workflows["daily"]
    kinds = {"extract", "model", "check", "sync"}
    expected = {f"daily.{t.id}" for t in daily.tasks if t.kind in kinds}
    assert {t["id"] for t in run["tasks"]} >= {job.removeprefix("daily.") for job in expected}
    assert expected and set(by_job) == expected, sorted(set(by_job) ^ expected)
    for job, seen in by_job.items():
        assert set(seen) == {"START", "COMPLETE"}, (job, set(seen))
        assert seen["START"]["run"]["runId"] == seen["COMPLETE"]["run"]["runId"]

    warehouse = f"duckdb://{(root / '.podium/warehouse.duckdb').resolve()}"
    shopify = by_job["daily.shopify"]["COMPLETE"]
    assert {d["namespace"] for d in shopify["outputs"]} == {warehouse}
    assert {"raw_shopify.orders", "raw_shopify.customers"} <= names(shopify["outputs"])
    host = sandbox.url_for("shopify").split("//")[1].split("/")[0]
    assert {d["namespace"] for d in shopify["inputs"]} == {f"shopify://{host}"}
    assert "orders" in names(shopify["inputs"])

    mart = by_job["daily.models.marts.daily_sales_by_channel"]
    for state in ("START", "COMPLETE"):
        assert names(mart[state]["outputs"]) == {"marts.daily_sales_by_channel"}
        assert "commerce.orders" in names(mart[state]["inputs"])
    orders = by_job["daily.models.commerce.orders"]["COMPLETE"]
    assert any(n.startswith("raw_shopify.") for n in names(orders["inputs"]))

    push = by_job["daily.push_vip"]["COMPLETE"]
    assert names(push["inputs"]) == {"marts.vip_customers"}
    klaviyo = sandbox.url_for("klaviyo").split("//")[1].split("/")[0]
    assert [(d["namespace"], d["name"]) for d in push["outputs"]] == [
        (f"klaviyo://{klaviyo}", "list_members")
    ]

    # each line is a RunEvent openlineage's own classes read back
    first = Serde.to_dict(RunEvent(**{**_strip(events[0])}))  # type: ignore[arg-type]
    assert first["eventType"] == events[0]["eventType"]


def _strip(event: dict[str, Any]) -> dict[str, Any]:
    """The fields RunEvent's constructor takes (schemaURL is set by the class itself)."""
    return {k: v for k, v in event.items() if k != "schemaURL"}


def small_project(root: Path, lineage: str) -> Path:
    """test_transform_tasks' project, a check task that fails, and ``lineage:``."""
    from .test_transform_tasks import WORKFLOW, project

    project(root)
    (root / "podium.yaml").write_text((root / "podium.yaml").read_text() + lineage)
    (root / "checks").mkdir()
    (root / "checks/sales.yaml").write_text(
        "checks:\n  - {kind: row_count, model: raw_retail.sales, min: 5}\n"
    )
    (root / "workflows/daily.yaml").write_text(
        WORKFLOW + "  - id: sales_checks\n    check: checks/sales.yaml\n    depends_on: [retail]\n"
    )
    return root


def test_a_failed_check_task_ends_in_a_fail_event_naming_the_table_it_checked(
    tmp_path: Path,
) -> None:
    root = small_project(tmp_path, "lineage: {file: lineage.jsonl}\n")
    done = podium_cli(root, "run", "daily")
    assert done.code == 1, done
    events = [json.loads(line) for line in (root / "lineage.jsonl").read_text().splitlines()]
    check = [e for e in events if e["job"]["name"] == "daily.sales_checks"]
    assert [e["eventType"] for e in check] == ["START", "FAIL"]
    assert [names(e["inputs"]) for e in check] == [{"raw_retail.sales"}] * 2
    error = check[1]["run"]["facets"]["errorMessage"]
    assert "raw_retail.sales" in error["message"] and error["programmingLanguage"] == "python"
    jobs = {e["job"]["name"] for e in events}
    assert "daily.report" not in jobs  # a shell task: no lineage
    shop = [e for e in events if e["job"]["name"] == "daily.shop"][-1]
    assert shop["eventType"] == "COMPLETE"
    assert [(d["namespace"], d["name"]) for d in shop["inputs"]] == [("files://shop", "orders")]


def test_an_unreachable_lineage_endpoint_never_fails_a_task(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    lineage = f"lineage: {{url: 'http://127.0.0.1:{port}', timeout: 1s}}\n"
    root = small_project(tmp_path, lineage)
    (root / "checks/sales.yaml").write_text(
        "checks:\n  - {kind: row_count, model: raw_retail.sales, min: 1}\n"
    )
    done = podium_cli(root, "run", "daily", "--json")
    assert done.code == 0, done
    assert {t["status"] for t in done.json()["tasks"]} == {"succeeded"}
    reports = [line for line in done.err.splitlines() if "lineage" in line]
    failed = [line for line in reports if "ConnectionError" in line]
    assert len(failed) == 1, done.err  # said once, however many events failed
    # and, when the command ends before every event was tried, how many were not
    assert all("still queued are not handled" in line for line in reports if line not in failed)
