"""The log API in pages, over a real server, on the SQLite and the PostgreSQL store.

A run with megabytes of log lines is read back through ``GET /api/runs/{id}/logs``: each
answer is bounded (lines and bytes), ``X-Next-Cursor`` leads through every line exactly
once and in order, even where many lines share one time stamp at a page's edge.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.live_app import serve
from podium.engine import services
from podium.engine.log_pages import LINE_BYTES, PAGE_BYTES
from podium.project import load_project
from podium.server.api import create_app
from podium.store.database import Database, open_database

WORKFLOW = """
    name: chatty
    tasks:
      - id: talk
        shell: "echo hi"
      - id: shout
        shell: "echo HI"
"""


@pytest.fixture
def site(store_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, Database, str]]:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "podium.yaml").write_text("")
    (tmp_path / "workflows" / "chatty.yaml").write_text(textwrap.dedent(WORKFLOW).lstrip())
    project = load_project(tmp_path, environ={"PODIUM_STORE_URL": store_url})
    db = open_database(project.store_url, project.secrets)
    run_id = services.start_run(db, project, "chatty")
    with serve(create_app(project, db, lambda: None)) as url, httpx.Client(base_url=url) as http:
        yield http, db, run_id
    db.close()


def write_logs(db: Database, rows: list[tuple[str, int, float, str]], run_id: str) -> None:
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO logs (run_id, task_id, attempt, at, stream, line) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, task, attempt, at, "stdout", line) for task, attempt, at, line in rows],
        )


def read_all(http: httpx.Client, path: str, **params: Any) -> list[httpx.Response]:
    pages = [http.get(path, params=params)]
    while "X-Next-Cursor" in pages[-1].headers:
        assert pages[-1].status_code == 200, pages[-1].text
        link = pages[-1].headers["Link"]
        assert link.startswith(f"<{path}?") and link.endswith('>; rel="next"')
        cursor = pages[-1].headers["X-Next-Cursor"]
        pages.append(http.get(path, params={**params, "cursor": cursor}))
        assert len(pages) < 100, "the cursor does not move on"
    assert pages[-1].status_code == 200, pages[-1].text
    return pages


def test_megabytes_of_logs_come_in_bounded_pages_each_line_once(
    site: tuple[httpx.Client, Database, str],
) -> None:
    http, db, run_id = site
    rows = [("talk", 1, 1000.0 + i, f"line {i:05d}") for i in range(2400)]
    rows += [("talk", 1, 1995.5, f"tied {i:03d}") for i in range(30)]  # across a page edge
    rows += [("talk", 2, 1000.0 + i, "x" * 60_000 + f" {i}") for i in range(140)]  # 8 MB
    rows += [("shout", 1, 1000.0, "y" * (LINE_BYTES + 10))]
    write_logs(db, rows, run_id)

    pages = read_all(http, f"/api/runs/{run_id}/logs")
    assert all(len(p.content) < PAGE_BYTES + 2 * LINE_BYTES for p in pages)
    assert max(len(p.json()) for p in pages) <= 1000
    lines = [line for p in pages for line in p.json()]
    got = [(entry["task_id"], entry["attempt"], entry["line"]) for entry in lines]
    expected = sorted((t, a, ln) for t, a, _at, ln in rows if "y" not in ln)
    assert sorted(g for g in got if g[0] == "talk") == expected
    assert len(got) == len(set(got)) == len(rows)  # every line once
    assert [g[:2] for g in got] == sorted(g[:2] for g in got)  # task, attempt order
    (cut,) = [g for g in got if g[0] == "shout"]
    assert cut[2].endswith("… (10 more characters cut)")
    assert len(pages) >= 8  # 8 MB of lines cannot come in fewer than 8 pages of 1 MiB


def test_a_task_and_a_small_limit_page_one_task(site: tuple[httpx.Client, Database, str]) -> None:
    http, db, run_id = site
    write_logs(db, [("talk", 1, 10.0 + i, f"t{i}") for i in range(7)], run_id)
    write_logs(db, [("shout", 1, 10.0, "other task")], run_id)
    pages = read_all(http, f"/api/runs/{run_id}/logs", task="talk", limit=3)
    assert [[e["line"] for e in p.json()] for p in pages] == [
        ["t0", "t1", "t2"],
        ["t3", "t4", "t5"],
        ["t6"],
    ]


def test_bad_cursors_and_limits_are_refused_clearly(
    site: tuple[httpx.Client, Database, str],
) -> None:
    http, _db, run_id = site
    bad = http.get(f"/api/runs/{run_id}/logs", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"], bad.text
    assert http.get(f"/api/runs/{run_id}/logs", params={"limit": 5001}).status_code in (400, 422)
    assert http.get("/api/runs/nope/logs").status_code == 404
