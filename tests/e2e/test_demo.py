"""``podium demo``: the commerce template against the simulators, a late Amazon restated,
a readable summary, and a project left to keep working in."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from tests.calendar_clock import a_year_ahead

from podium import clock

from .conftest import Result, free_port, podium_cli, podium_env

DEMO_BUDGET_S = 120  # the promise: under two minutes on a 2-core machine


def test_the_demo_runs_late_amazon_restates_and_leaves_a_working_project(tmp_path: Path) -> None:
    folder = tmp_path / "podium-demo"
    port = free_port()
    demo = podium_cli(tmp_path, "demo", "--port", str(port), timeout=DEMO_BUDGET_S)
    assert demo.code == 0, demo
    assert demo.seconds < DEMO_BUDGET_S, demo
    out = demo.out
    assert "project     podium-demo: the commerce template" in out, out
    for section in (
        "1. Yesterday",
        "2. Today",
        "Rows per source",
        "Net revenue by channel, last 7 days",
        "Checks: ",
        "Late: amazon",
        "Restated: ",
        "Keep working in it:",
        f"podium sandbox start --port {port} --fast --days 28",
    ):
        assert section in out, f"{section!r} missing from:\n{out}"
    assert re.search(r"… amazon\s+late \(on_late: continue\)", out), out
    assert re.search(r"podium demo finished in [\d.]+s", out), out
    assert "FAILED" not in out and "did not succeed" not in out, out
    revenue = out[out.index("Net revenue by channel") : out.index("Checks: ")]
    assert len(re.findall(r"^  \d{4}-\d{2}-\d{2} ", revenue, re.M)) == 7, revenue
    assert re.search(r"^  total\s+[\d,]+\.\d\d", revenue, re.M), revenue
    checks = re.search(r"Checks: (\d+) of (\d+) passed", out)
    assert checks and checks.group(1) == checks.group(2) and int(checks.group(1)) > 0, out
    # the PII key made for the demo is a secret: in podium.yaml, never on the terminal
    key = re.search(r"PODIUM_PII_KEY:-(\w+)", (folder / "podium.yaml").read_text())
    assert key and key.group(1) not in out

    today = re.search(r"Summary \(run (\w+)\)", out)
    assert today, out
    run = json.loads(cli(folder, "show", today.group(1), "--json").out)
    tasks = {t["id"]: t for t in run["tasks"]}
    assert tasks["amazon"]["late"] and tasks["amazon"]["status"] == "succeeded"
    incomplete = sorted(t for t, task in tasks.items() if task["incomplete"])
    assert "models.marts.daily_sales_by_channel" in incomplete
    assert not any(tasks[t]["incomplete"] for t in ("shopify", "netsuite", "klaviyo"))
    [catchup_id] = run["catchup_runs"]
    catchup = json.loads(cli(folder, "show", catchup_id, "--json").out)
    assert catchup["status"] == "succeeded"
    assert sorted(t["id"] for t in catchup["tasks"]) == incomplete  # exactly those restated
    assert f"catch-up run {catchup_id} re-ran exactly those: succeeded" in out, out

    # the last step: the VIP audience went to Klaviyo once the late source landed, and the
    # next hours' orders reached the 3PL, each once
    etl = out[out.index("Reverse ETL") :]
    assert re.search(r"push_vip \(the run\): sync vip_to_klaviyo: not sent: amazon ran late", etl)
    assert re.search(rf"push_vip \(catch-up run {catchup_id}\): sync vip_to_klaviyo: \d+ sent", etl)
    forwarded = re.search(
        r"(\d+) orders/create webhooks, (\d+) of (\d+) runs succeeded; the 3PL holds (\d+)"
        r" orders, 0 twice",
        out,
    )
    assert forwarded and len(set(forwarded.groups())) == 1 and int(forwarded[1]) > 0, out
    assert cli(folder, "validate").out.startswith("ok: 2 workflows")
    assert "marts.daily_sales_by_channel" in cli(folder, "models", "list").out
    assert_lineage_shows_the_late_amazon_path(folder)
    assets = {a["asset"]: a for a in json.loads(cli(folder, "assets", "--json").out)}
    mart = assets["marts.daily_sales_by_channel"]
    assert mart["complete"] and mart["rows"] > 0  # restated: complete again

    # a second demo replaces the first; a taken port makes it pick a free one. It runs a
    # year ahead at 00:30 UTC (podium's clock, not the machine's): its first morning is the
    # day before, its brand ends days after; every date must still line up.
    later = a_year_ahead(0)
    shifted = podium_env({clock.OFFSET_VARIABLE: repr(clock.shifted_to(later))})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        again = podium_cli(
            tmp_path,
            *("demo", "--port", str(port), "--days", "10"),
            timeout=DEMO_BUDGET_S,
            env=shifted,
        )
    assert again.code == 0, again
    assert f"2. Today, {later.date().isoformat()} 00:" in again.out, again
    assert "it replaces the previous demo" in again.out, again
    used = re.search(r"at http://127\.0\.0\.1:(\d+)", again.out)
    assert used and int(used.group(1)) != port, again
    assert f"127.0.0.1:{used.group(1)}/shopify" in (folder / "podium.yaml").read_text()
    assert "--days 10" in again.out
    daily = json.loads(cli(folder, "runs", "--json", "--workflow", "daily").out)
    assert len(daily) == 3  # 2 mornings, 1 catch-up


def test_the_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    refused = podium_cli(tmp_path, "demo", "mine", "--port", str(free_port()))
    assert refused.code == 2, refused
    assert "is not empty and is not a podium demo" in refused.err, refused
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me\n"
    too_short = podium_cli(tmp_path, "demo", "brand-new", "--days", "3")
    assert too_short.code == 2 and "at least" in too_short.err, too_short
    assert not (tmp_path / "brand-new").exists()


def cli(folder: Path, *args: str) -> Result:
    """``podium ARGS`` in the demo project, which must exit 0."""
    result = podium_cli(folder, *args, timeout=60)
    assert result.code == 0, result
    return result


def assert_lineage_shows_the_late_amazon_path(folder: Path) -> None:
    """The UI's lineage graph of the demo: Amazon ran late, its raw tables landed late, and
    the models that read them were built incomplete, then restated."""
    from podium.project import load_project
    from podium.server.ui.lineage import lineage_drawing
    from podium.store.database import open_database

    project = load_project(folder)
    db = open_database(project.store_url, project.secrets)
    try:
        (last,) = db.read().fetchone("SELECT max(at) FROM events", ()) or (None,)
        drawing = lineage_drawing(db, project, now=float(last))
    finally:
        db.close()
    nodes = {n.id: n for n in drawing.nodes}
    assert nodes["source:amazon"].late and not nodes["source:shopify"].late
    assert nodes["raw_amazon.orders"].late and nodes["raw_amazon.orders"].href
    assert nodes["commerce.orders"].status == "restated"
    assert nodes["marts.daily_sales_by_channel"].status == "restated"
    assert nodes["commerce.marketing_spend"].status == "fresh"  # reads no Amazon table
    late_edges = {(e.source, e.target) for e in drawing.edges if e.late}
    assert ("source:amazon", "raw_amazon.orders") in late_edges
    assert ("raw_amazon.orders", "commerce.orders") in late_edges
