"""The demo's project: the commerce template pointed at running simulators, its inbox
files, and which folders it may write."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from podium.demo.inbox import AD_SPEND_COLUMNS, SELL_THROUGH_COLUMNS, write_inbox
from podium.demo.project import MARKER, is_demo, prepare_folder, set_late_after, write_project
from podium.errors import UsageError
from podium.project import init_project, load_project
from podium.project.schema import project_schema, workflow_schema
from podium.sandbox.brand import BrandConfig
from podium.sandbox.service import APIS, Sandbox, start_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(config=BrandConfig(days=12)) as running:
        yield running


def test_the_demo_project_validates_against_the_schemas(tmp_path: Path, sandbox: Sandbox) -> None:
    """What ``podium demo`` writes is what an editor with ``podium schema`` accepts."""
    write_project(tmp_path, sandbox)
    set_late_after(tmp_path, "6s")
    files = [("podium.yaml", project_schema())]
    files += [(f"workflows/{p.name}", workflow_schema()) for p in tmp_path.glob("workflows/*.yaml")]
    assert len(files) >= 2
    for file, schema in files:
        document = yaml.safe_load((tmp_path / file).read_text())
        errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)]
        assert errors == [], file


def test_the_project_points_at_the_simulators_and_keeps_the_rest(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    template = tmp_path / "template"
    init_project(template, "commerce")
    demo = tmp_path / "demo"
    marker = write_project(demo, sandbox)
    assert marker.port == sandbox.server.port and is_demo(demo)
    start = sandbox.brand.config.first_day.isoformat()
    assert marker.serve_again == (
        f"podium sandbox start --port {marker.port} --fast --days 12 --start {start}"
    )

    project = load_project(demo, environ={})  # nothing to export
    original = yaml.safe_load((template / "podium.yaml").read_text())["connections"]
    for api in APIS:
        assert project.connections[api]["base_url"] == sandbox.url_for(api)
    assert project.connections["amazon"]["report_poll_interval"] == "1s"
    for files in ("retailers", "ad_spend"):
        assert project.connections[files] == original[files]
    key = project.warehouse["pii_key"]
    assert len(key) == 32 and key in project.secrets  # a secret, masked wherever it shows
    text = (demo / "podium.yaml").read_text()
    assert "# Retailers' weekly sell-through reports" in text  # the template's comments stay
    assert marker.serve_again in text
    assert project.workflows["daily"].task("amazon").late_after == 30 * 60

    set_late_after(demo, "6s")
    assert load_project(demo, environ={}).workflows["daily"].task("amazon").late_after == 6
    assert (
        "late_after: 6s  # podium demo: 30m in the template"
        in (demo / "workflows/daily.yaml").read_text()
    )


def test_the_inbox_holds_each_finished_day_and_week_once(tmp_path: Path, sandbox: Sandbox) -> None:
    now = sandbox.clock.now()
    written = write_inbox(tmp_path, sandbox.brand, now)
    days = (now.date() - sandbox.brand.config.start).days
    spend = sorted(p for p in written if p.parent.name == "ad_spend")
    weeks = sorted(p for p in written if p.parent.name == "retailers")
    assert len(spend) == days and weeks
    assert write_inbox(tmp_path, sandbox.brand, now) == []  # nothing new: nothing written
    later = write_inbox(tmp_path, sandbox.brand, now + timedelta(days=1))
    assert [p.name for p in later if p.parent.name == "ad_spend"] == [
        f"ad_spend_{now.date().isoformat()}.csv"
    ]
    skus = {v.sku for v in sandbox.brand.variants}
    retailers = {a.name for a in sandbox.brand.wholesale_accounts}
    with weeks[0].open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == SELL_THROUGH_COLUMNS
    assert {r["sku"] for r in rows} <= skus and {r["retailer"] for r in rows} == retailers
    with spend[0].open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == AD_SPEND_COLUMNS
    assert {r["platform"] for r in rows} == {"meta", "google", "tiktok"}
    again = tmp_path / "again"
    write_inbox(again, sandbox.brand, now)
    assert (again / "inbox/ad_spend" / spend[0].name).read_text() == spend[0].read_text()


def test_a_folder_is_written_only_when_empty_or_a_previous_demo(tmp_path: Path) -> None:
    assert prepare_folder(tmp_path / "new") is False and (tmp_path / "new").is_dir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep\n")
    with pytest.raises(UsageError, match="is not empty and is not a podium demo"):
        prepare_folder(mine)
    assert (mine / "notes.txt").read_text() == "keep\n"
    old = tmp_path / "old"
    (old / MARKER).parent.mkdir(parents=True)
    (old / MARKER).write_text("{}")
    (old / "podium.yaml").write_text("store: x\n")
    assert prepare_folder(old) is True
    assert list(old.iterdir()) == []
