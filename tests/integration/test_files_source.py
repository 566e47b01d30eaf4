"""The ``files`` source into DuckDB: CSV, JSON lines, JSON and Parquet dropped in a folder,
each file loaded once, a file that cannot be read quarantined whole while the rest load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, StreamResult, load_stream
from podium.connectors.sources.files import open_files_source


def _load(root: Path, warehouse: DuckDBDestination) -> StreamResult:
    source = open_files_source(
        "retail",
        {
            "type": "files",
            "path": "drop",
            "streams": {
                "sell_through": {"pattern": "sell_through_*", "primary_key": ["store", "sku"]}
            },
        },
        root=root,
    )
    stream = source.streams()[0]
    job = LoadJob(source, stream, warehouse, "retail", "raw_retail", root / ".podium" / "loads")
    return load_stream(job)


def _rows(warehouse: DuckDBDestination, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse.path), read_only=True) as db:
        return db.execute(sql).fetchall()


def test_every_format_loads_once_and_a_broken_file_is_quarantined_whole(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "sell_through_1.csv").write_text("store,sku,units\n1,A,5\n1,B,7\n")
    (drop / "sell_through_2.jsonl").write_text('{"store": 2, "sku": "A", "units": 3}\n')
    (drop / "sell_through_3.json").write_text('[{"store": 3, "sku": "C", "units": 1}]')
    with duckdb.connect() as db:
        db.execute(
            f"COPY (SELECT 4 AS store, 'D' AS sku, 9 AS units) TO '{drop / 'sell_through_4.parquet'}'"
        )
    (drop / "sell_through_5.json").write_text('{"store": 5, "sku": ')  # cut short
    (drop / "sell_through_6.xlsx").write_bytes(b"PK\x03\x04")
    warehouse = DuckDBDestination(tmp_path / "warehouse.duckdb")

    first = _load(tmp_path, warehouse)
    assert (first.received, first.loaded, first.quarantined) == (7, 5, 2)
    assert _rows(
        warehouse, "SELECT store, sku, units FROM raw_retail.sell_through ORDER BY 1, 2"
    ) == [
        (1, "A", 5),
        (1, "B", 7),
        (2, "A", 3),
        (3, "C", 1),
        (4, "D", 9),
    ]
    quarantined = _rows(warehouse, "SELECT location, reason FROM _podium.quarantine ORDER BY 1")
    assert [location for location, _ in quarantined] == [
        "sell_through_5.json",
        "sell_through_6.xlsx",
    ]
    assert quarantined[0][1].startswith("cannot be read")
    assert "unknown file type '.xlsx'" in quarantined[1][1]

    again = _load(tmp_path, warehouse)  # nothing changed: nothing is read again
    assert (again.received, again.loaded, again.quarantined) == (0, 0, 0)

    (drop / "sell_through_1.csv").write_text("store,sku,units\n1,A,6\n")  # a corrected file
    fixed = _load(tmp_path, warehouse)
    assert (fixed.received, fixed.loaded, fixed.counts.updated) == (1, 1, 1)
    assert _rows(
        warehouse, "SELECT units FROM raw_retail.sell_through WHERE sku = 'A' AND store = 1"
    ) == [(6,)]
