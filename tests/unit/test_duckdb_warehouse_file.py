"""Opening the DuckDB warehouse file: waiting while another process is still creating it
(two first loads at once), and a clear error when the file is not DuckDB's at all."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.errors import TransientTaskError


def test_a_file_another_process_is_still_creating_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"\0" * 100)  # created, header not written yet
    made = tmp_path / "made.duckdb"
    duckdb.connect(str(made)).close()

    def finish_creating() -> None:
        time.sleep(0.3)
        made.replace(path)

    thread = threading.Thread(target=finish_creating)
    thread.start()
    started = time.monotonic()
    with DuckDBDestination(path, lock_timeout=10).connection() as db:
        assert db.execute("SELECT 42").fetchone() == (42,)
    thread.join()
    assert time.monotonic() - started >= 0.25


def test_a_file_that_is_not_duckdbs_fails_at_once_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"not a database\n" * 2000)
    started = time.monotonic()
    opened = DuckDBDestination(path, lock_timeout=10).connection()
    with pytest.raises(TransientTaskError, match="could not be opened .*not a valid DuckDB"):
        opened.__enter__()
    assert time.monotonic() - started < 2
