"""A load killed just before or just after its commit, on both destinations.

``podium extract`` runs in a child process with the loader's test hook set: it SIGKILLs
itself at that point. Before the commit: no rows and no cursor. After: rows and cursor
together; the next run changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

PODIUM = [sys.executable, "-m", "podium.cli.main"]


def _project(tmp_path: Path, warehouse: str) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(3):
        rows = "\n".join(f"{n * 100 + i},{i % 7},{i * 1.5}" for i in range(100))
        (inbox / f"sales_{n}.csv").write_text("id,store,amount\n" + rows + "\n")
    (tmp_path / "podium.yaml").write_text(
        warehouse + "connections:\n  drops:\n    type: files\n    path: inbox\n"
        "    streams:\n      sales: {pattern: '*.csv', primary_key: id}\n"
    )
    return tmp_path


def _extract(root: Path, fault: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PODIUM_FAULT": fault or ""}
    return subprocess.run(
        [*PODIUM, "extract", "drops", "--project", str(root), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "duckdb":
        path = tmp_path / "wh.duckdb"

        def query(sql: str) -> list[tuple[object, ...]]:
            if not path.exists():
                return []
            with duckdb.connect(str(path)) as db:
                return db.execute(sql.format(p="")).fetchall()

        yield f"warehouse: {{type: duckdb, path: {path}}}\n", query
        return
    url = os.environ.get("PODIUM_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PODIUM_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    prefix = f"k{uuid.uuid4().hex[:8]}_"

    def query_pg(sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute(sql.format(p=prefix)).fetchall()]

    yield f"warehouse: {{type: postgres, url: '{url}', schema_prefix: {prefix}}}\n", query_pg
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in ("raw_drops", "_podium"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{schema}" CASCADE')


def _count(query, table: str) -> int | None:  # type: ignore[no-untyped-def]
    try:
        rows = query(f"SELECT count(*) FROM {{p}}{table}")
    except (duckdb.Error, psycopg.Error):
        return None  # the table was never created
    return int(rows[0][0]) if rows else None


def test_killed_before_the_commit_leaves_no_rows_and_no_cursor(tmp_path: Path, target) -> None:  # type: ignore[no-untyped-def]
    warehouse, query = target
    root = _project(tmp_path, warehouse)
    killed = _extract(root, "load.before_commit")
    assert killed.returncode == -signal.SIGKILL
    assert _count(query, "raw_drops.sales") in (None, 0)
    assert _count(query, "_podium.state") in (None, 0)
    done = _extract(root, None)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["inserted"] == 300
    assert _count(query, "raw_drops.sales") == 300


def test_killed_after_the_commit_keeps_rows_and_cursor_together(tmp_path: Path, target) -> None:  # type: ignore[no-untyped-def]
    warehouse, query = target
    root = _project(tmp_path, warehouse)
    killed = _extract(root, "load.after_commit")
    assert killed.returncode == -signal.SIGKILL
    assert _count(query, "raw_drops.sales") == 300
    state = json.loads(query("SELECT state FROM {p}_podium.state")[0][0])
    assert sorted(state["extra"]["files"]) == ["sales_0.csv", "sales_1.csv", "sales_2.csv"]
    again = _extract(root, None)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["received"] == 0  # every file is known: nothing re-read
    assert _count(query, "raw_drops.sales") == 300
