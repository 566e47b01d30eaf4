"""Pages read from their bytes and pages parsed in Python land the same rows.

The rest source hands link-paged bodies to the loader unparsed; the loader reads a page
straight from its bytes when it adds nothing to the stream's shape, and parses it
otherwise (``normalize/conform.py``). Here late pages bring what the first ones did not: a
new field, a new field inside line items, a list that was always empty, a type that widens,
an object where text was. The warehouse must hold exactly what the same records give when
every page is parsed (``MemorySource``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, StreamResult, load_stream
from podium.connectors.source import Stream, WriteMode
from podium.connectors.sources.rest import open_rest_source
from podium.sandbox import PageServer
from podium.testing import MemorySource


def _records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for i in range(1, 601):
        record: dict[str, Any] = {
            "id": i,
            "updated_at": f"2026-11-01T{i % 24:02d}:00:00Z",
            "total": i * 1.5,
            "note": None if i % 3 else "gift",
            "tags": [],
            "customer": {"id": i % 17, "email": f"c{i % 17}@example.com"},
            "line_items": [{"sku": f"S{k}", "qty": k + 1} for k in range(1 + i % 3)],
        }
        if i == 230:
            record["coupon"] = "NEW"  # a new field, nine pages in
        if i == 260:
            record["line_items"][0]["gift_wrap"] = True  # new inside a list's objects
        if i == 300:
            record["tags"] = ["vip", "wholesale"]  # a list only ever seen empty
        if i == 330:
            record["customer"]["id"] = "guest-1"  # integer → text
        if i == 360:
            record["note"] = {"text": "leave at door"}  # an object where text was
        if i >= 400:
            record["total"] = i  # whole numbers where fractions were: still a double
        records.append(record)
    return records


STREAM = Stream("orders", primary_key=("id",), cursor="updated_at", write_mode=WriteMode.MERGE)


def _load_from_server(url: str, folder: Path) -> StreamResult:
    settings = {
        "base_url": url,
        "page_size": 25,
        "pagination": {"style": "link"},
        "streams": {
            "orders": {
                "path": "/orders.json",
                "records": "orders",
                "primary_key": "id",
                "cursor": "updated_at",
            }
        },
    }
    source = open_rest_source("shop", settings, secrets=frozenset(), sleep=lambda s: None)
    stream = source.streams()[0]
    job = LoadJob(
        source, stream, DuckDBDestination(folder / "wh.duckdb"), "shop", "raw", folder / "loads"
    )
    try:
        return load_stream(job)
    finally:
        source.close()


def _load_parsed(records: list[dict[str, Any]], folder: Path) -> StreamResult:
    pages = [records[n : n + 25] for n in range(0, len(records), 25)]
    source = MemorySource({"orders": pages}, [STREAM])
    job = LoadJob(
        source, STREAM, DuckDBDestination(folder / "wh.duckdb"), "shop", "raw", folder / "loads"
    )
    return load_stream(job)


def _dump(folder: Path) -> dict[str, Any]:
    with duckdb.connect(str(folder / "wh.duckdb"), read_only=True) as db:
        tables = {}
        for (table,) in db.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' ORDER BY 1"
        ).fetchall():
            columns = db.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw' "
                "AND table_name = ? AND column_name NOT IN ('_load_id', '_extracted_at') "
                "ORDER BY column_name",
                [table],
            ).fetchall()
            names = ", ".join(f'"{name}"' for name, _ in columns)
            rows = db.execute(f"SELECT {names} FROM raw.{table} ORDER BY ALL").fetchall()
            tables[table] = (columns, rows)
        return tables


def test_pages_read_from_bytes_land_exactly_what_parsed_pages_do(tmp_path: Path) -> None:
    records = _records()
    with PageServer(records, pagination="link") as server:
        from_bytes = _load_from_server(server.url, tmp_path / "bytes")
    parsed = _load_parsed(records, tmp_path / "parsed")
    assert (from_bytes.received, from_bytes.loaded, from_bytes.quarantined) == (600, 600, 0)
    assert from_bytes.schema_changes == parsed.schema_changes
    landed, expected = _dump(tmp_path / "bytes"), _dump(tmp_path / "parsed")
    assert landed == expected
    columns, rows = landed["orders"]
    assert ("coupon", "VARCHAR") in columns and ("customer__id", "VARCHAR") in columns
    assert ("note", "JSON") in columns and ("total", "DOUBLE") in columns
    assert set(landed) == {"orders", "orders__line_items", "orders__tags"}
    line_items, tags = landed["orders__line_items"][0], landed["orders__tags"][1]
    assert ("gift_wrap", "BOOLEAN") in line_items
    assert sorted(value for *_, value in tags) == ["vip", "wholesale"]
