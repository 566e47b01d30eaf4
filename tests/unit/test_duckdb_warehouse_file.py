"""Opening the DuckDB warehouse file: waiting while another process is still creating it
(two first loads at once), and a clear error when the file is not DuckDB's at all."""

from __future__ import annotations

import subprocess
import sys
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


def test_reads_attach_the_file_only_for_the_read_and_wait_while_it_is_created(
    tmp_path: Path,
) -> None:
    """``read_state`` and ``schemas`` attach the file to one in-memory database kept by
    the destination (a new DuckDB database costs ~18 ms, an attach ~3 ms): the file is
    free for another process right after, and a file still being created is waited for."""
    path = tmp_path / "warehouse.duckdb"
    made = tmp_path / "made.duckdb"
    with duckdb.connect(str(made)) as db:
        db.execute("CREATE SCHEMA shop; CREATE TABLE shop.orders (id BIGINT, total DOUBLE)")
        db.execute(
            "CREATE SCHEMA _podium; CREATE TABLE _podium.state (connection VARCHAR, "
            "stream VARCHAR, state VARCHAR)"
        )
        db.execute("""INSERT INTO _podium.state VALUES ('shopify', 'orders', '{"cursor": 7}')""")
    path.write_bytes(b"\0" * 100)  # created, header not written yet

    def finish_creating() -> None:
        time.sleep(0.3)
        made.replace(path)

    thread = threading.Thread(target=finish_creating)
    thread.start()
    destination = DuckDBDestination(path, lock_timeout=10)
    assert destination.read_state("shopify", "orders") == {"cursor": 7}
    thread.join()
    assert destination.read_state("shopify", "refunds") is None
    assert destination.schemas("shop", ["orders"]) == {
        "orders": {"id": "bigint", "total": "double"}
    }
    assert destination.schemas("other", ["orders"]) == {}
    other = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert other.returncode == 0, other.stderr  # not held between reads
    destination.close()
