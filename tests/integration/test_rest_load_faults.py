"""The rest source into the warehouse through every fault a real API throws.

A real local HTTP server (PageServer) pages through the records while throttling, failing
in bursts, resetting connections, truncating bodies and answering slowly. The final table
must equal the source exactly and the cursor must equal the last committed record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.sources.rest import open_rest_source
from podium.sandbox import Faults, PageServer, When


def _orders(n: int, day: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "updated_at": f"2026-11-{day:02d}T{i % 24:02d}:00:00Z",
            "total_price": f"{i}.{i % 100:02d}",
            "customer": {"id": i % 17},
            "line_items": [{"sku": f"S{k}", "quantity": k + 1} for k in range(1 + i % 3)],
        }
        for i in range(1, n + 1)
    ]


def _settings(url: str) -> dict[str, Any]:
    return {
        "type": "rest",
        "base_url": url,
        "headers": {"Authorization": "Bearer sekret-token"},
        "page_size": 25,
        "pagination": {"style": "link"},
        "retries": 8,
        "streams": {
            "orders": {
                "path": "/orders.json",
                "records": "orders",
                "primary_key": "id",
                "cursor": "updated_at",
                "cursor_param": "updated_at_min",
                "lookback": "1h",
                "columns": {"total_price": "decimal(18,2)"},
            }
        },
    }


def _load(url: str, tmp_path: Path) -> Any:
    settings = _settings(url)
    del settings["type"]
    source = open_rest_source(
        "shop", settings, secrets=frozenset({"sekret-token"}), sleep=lambda s: None
    )
    stream = source.streams()[0]
    job = LoadJob(
        source,
        stream,
        DuckDBDestination(tmp_path / "wh.duckdb"),
        "shop",
        "raw_shop",
        tmp_path / "loads",
    )
    return load_stream(job)


def _table(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as db:
        return db.execute(sql).fetchall()


def test_every_fault_class_gives_the_exact_source(tmp_path: Path) -> None:
    faults = Faults(
        throttle=When.every(7),
        retry_after=0,
        errors=When.every(5),
        error_burst=2,
        reset=When.every(11),
        truncate=When.every(9),
        slow=When.every(13),
        slow_seconds=0.01,
        seed=3,
    )
    records = _orders(500)
    with PageServer(
        records, records_path="orders", token="Bearer sekret-token", faults=faults
    ) as server:
        result = _load(server.url, tmp_path)
        assert (result.received, result.quarantined) == (500, 0)
        rows = _table(
            tmp_path,
            "SELECT id, total_price::VARCHAR, customer__id FROM raw_shop.orders ORDER BY id",
        )
        assert rows == [(r["id"], r["total_price"], r["customer"]["id"]) for r in records]
        items = _table(tmp_path, "SELECT count(*) FROM raw_shop.orders__line_items")[0][0]
        assert items == sum(len(r["line_items"]) for r in records)
        assert _table(tmp_path, "SELECT count(*) - count(DISTINCT id) FROM raw_shop.orders") == [
            (0,)
        ]
        latest = max(r["updated_at"] for r in records)
        assert result.cursor == latest
        assert server.violations == 0

        # the source moves on: one order changes, new ones arrive; an incremental load
        changed = dict(records[0], updated_at="2026-11-02T05:00:00Z", total_price="99.99")
        server.set_records([changed, *records[1:], *_orders(520, day=3)[500:]])
        second = _load(server.url, tmp_path)
        assert (second.counts.inserted, second.counts.updated) == (20, 1)
        assert _table(tmp_path, "SELECT count(*) FROM raw_shop.orders") == [(520,)]
        assert _table(
            tmp_path, "SELECT total_price::VARCHAR FROM raw_shop.orders WHERE id = 1"
        ) == [("99.99",)]
        assert second.cursor == max(r["updated_at"] for r in server.records)
