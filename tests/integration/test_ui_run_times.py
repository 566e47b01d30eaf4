"""The runs list and a run's page: the logical date, and "took" counted from the first
attempt (a run that sat queued for an engine did not take that long)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.test_ui_pages import Site, finish_run, finish_task, make_site, start, workflows


@pytest.fixture
def site(store_url: str, tmp_path: Path) -> Iterator[Site]:
    with make_site(store_url, tmp_path, workflows()) as made:
        yield made


def test_took_leaves_out_the_time_queued_and_the_logical_date_shows(site: Site) -> None:
    run_id = start(site, "daily")
    with site.db.transaction() as tx:  # created and admitted 10 minutes before an engine came
        tx.execute(
            "UPDATE runs SET created_at = ?, started_at = ?, logical_time = ? WHERE id = ?",
            (time.time() - 600, time.time() - 600, "2026-11-02T00:00:00-05:00", run_id),
        )
    for task in ("extract", "amazon", "models", "publish"):
        finish_task(site.db, run_id, task, "succeeded")  # attempts from 2 s ago
    finish_run(site.db, run_id, "succeeded")
    listed = site.get("/runs").text
    row = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', listed, re.S)
    assert row and "<th>Logical date</th>" in listed, listed
    assert '<td title="2026-11-02T00:00:00-05:00">2026-11-02 00:00</td>' in row.group(1)
    took = re.findall(r"<td>([\d.]+(?:ms|s)|\dm\d\ds)</td>", row.group(1))
    assert took and re.fullmatch(r"[\d.]+s", took[-1]) and float(took[-1][:-1]) < 60, row.group(1)
    page = site.get(f"/runs/{run_id}").text
    finished = re.search(r"\(took ([^,]+), from its first attempt\)", page)
    assert finished and not finished.group(1).startswith(("9m", "10m")), page
