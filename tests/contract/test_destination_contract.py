"""One contract for every destination: the same loads give the same tables and state.

Run against DuckDB (a file per test) and the real local PostgreSQL (a schema prefix per
test; skipped with the reason when PODIUM_TEST_POSTGRES_URL is unset).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from podium.connectors.destinations.base import Destination
from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.destinations.postgres import PostgresDestination
from podium.connectors.load import LoadJob, StreamResult, load_stream
from podium.connectors.normalize.contract import SchemaFrozenError
from podium.connectors.source import SchemaPolicy, Stream, TypeConflict, WriteMode
from podium.testing import MemorySource


class Warehouse:
    """A destination plus a way to query what landed, the same way for both."""

    def __init__(self, destination: Destination, query: Any, schema: Any) -> None:
        self.destination, self._query, self.schema = destination, query, schema

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._query(sql)]

    def table(self, name: str, columns: str, order: str = "1") -> list[tuple[Any, ...]]:
        return self.rows(f"SELECT {columns} FROM {self.schema('raw_shop')}.{name} ORDER BY {order}")


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"

        def query_duckdb(sql: str) -> list[Any]:
            with duckdb.connect(str(path)) as db:
                return db.execute(sql).fetchall()

        yield Warehouse(DuckDBDestination(path), query_duckdb, lambda s: s)
        return
    url = request.getfixturevalue("postgres_url")
    prefix = f"t{uuid.uuid4().hex[:8]}_"

    def query_pg(sql: str) -> list[Any]:
        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()

    yield Warehouse(PostgresDestination(url, schema_prefix=prefix), query_pg, lambda s: prefix + s)
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in ("raw_shop", "_podium"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{schema}" CASCADE')


ORDERS = Stream(
    "orders", primary_key=("id",), cursor="updated_at", columns={"total": "decimal(18,2)"}
)


def order(id: int, day: int, total: str = "10.00", items: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "updated_at": f"2026-11-{day:02d}T10:00:00Z",
        "total": total,
        "customer": {"id": 100 + id, "email": f"c{id}@example.com"},
        "line_items": [{"sku": f"S{id}-{k}", "qty": k + 1} for k in range(items)],
        **extra,
    }


def load(
    warehouse: Warehouse,
    tmp_path: Path,
    pages: list[list[Any]],
    stream: Stream = ORDERS,
    **options: Any,
) -> StreamResult:
    source = MemorySource({stream.name: pages}, [stream], options.pop("deleted", None))
    job = LoadJob(
        source, stream, warehouse.destination, "shop", "raw_shop", tmp_path / "loads", **options
    )
    return load_stream(job)


def state(warehouse: Warehouse) -> Any:
    return warehouse.destination.read_state("shop", "orders")


def test_first_load_flattens_objects_and_lists(warehouse: Warehouse, tmp_path: Path) -> None:
    result = load(warehouse, tmp_path, [[order(1, 1), order(2, 2, items=3)]])
    assert (result.received, result.loaded, result.quarantined) == (2, 2, 0)
    assert result.counts.inserted == 2
    assert warehouse.table("orders", "id, total, customer__id, customer__email", "id") == [
        (1, Decimal("10.00"), 101, "c1@example.com"),
        (2, Decimal("10.00"), 102, "c2@example.com"),
    ]
    assert warehouse.table("orders__line_items", "_root_key, _pos, sku, qty", "1, 2") == [
        ("1", 0, "S1-0", 1),
        ("1", 1, "S1-1", 2),
        ("2", 0, "S2-0", 1),
        ("2", 1, "S2-1", 2),
        ("2", 2, "S2-2", 3),
    ]
    loaded = warehouse.rows(
        f"SELECT count(*) FROM {warehouse.schema('raw_shop')}.orders WHERE _load_id = "
        f"'{result.load_id}' AND _extracted_at IS NOT NULL AND NOT _deleted"
    )
    assert loaded == [(2,)]
    assert state(warehouse) == {"cursor": "2026-11-02T10:00:00Z", "extra": {}}
    assert set(result.assets) == {"raw_shop.orders", "raw_shop.orders__line_items"}


def test_lists_that_are_always_empty_or_mixed_still_load(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    pages = [
        [
            order(1, 1, tags=[], meta={"notes": [], "labels": ["a", "b"]}, odd=[{"k": 1}, "x"]),
            order(2, 2, tags=[], meta={"notes": [], "labels": []}, odd=[]),
        ]
    ]
    result = load(warehouse, tmp_path, pages)
    assert (result.received, result.loaded, result.quarantined) == (2, 2, 0)
    assert warehouse.table("orders__meta__labels", "_root_key, _pos, value", "1, 2") == [
        ("1", 0, "a"),
        ("1", 1, "b"),
    ]
    assert warehouse.table("orders__odd", "_root_key, _pos", "1, 2") == [("1", 0), ("1", 1)]
    assert warehouse.table("orders__tags", "_root_key") == []


def test_merge_keeps_the_newest_version_and_replaces_its_children(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, [[order(1, 1, items=3), order(2, 1)]])
    result = load(
        warehouse,
        tmp_path,
        [[order(1, 5, total="12.50", items=1)], [order(1, 3, total="11.00"), order(2, 1)]],
    )
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (0, 1, 1)
    assert warehouse.table("orders", "id, total", "id") == [
        (1, Decimal("12.50")),
        (2, Decimal("10.00")),
    ]
    assert warehouse.table("orders__line_items", "_root_key, sku", "1, 2") == [
        ("1", "S1-0"),
        ("2", "S2-0"),
        ("2", "S2-1"),
    ]
    older = load(warehouse, tmp_path, [[order(1, 2, total="1.00")]])  # older than loaded
    assert older.counts.updated == 0
    assert warehouse.table("orders", "total", "id")[0] == (Decimal("12.50"),)


def test_loading_the_same_pages_twice_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    pages = [[order(1, 1), order(2, 2)], [order(3, 3)]]
    first = load(warehouse, tmp_path, pages)
    before = (
        warehouse.table("orders", "*", "id"),
        warehouse.table("orders__line_items", "*", "1, 2, 3"),
    )
    second = load(warehouse, tmp_path, pages)
    after = (
        warehouse.table("orders", "*", "id"),
        warehouse.table("orders__line_items", "*", "1, 2, 3"),
    )
    assert before == after
    assert second.counts.unchanged == 3 and second.counts.updated == 0
    assert first.load_id != second.load_id


def test_deletions_mark_rows_deleted(warehouse: Warehouse, tmp_path: Path) -> None:
    load(warehouse, tmp_path, [[order(1, 1), order(2, 1)]])
    result = load(warehouse, tmp_path, [[order(3, 2)]], deleted={"orders": [{"id": 2}]})
    assert result.counts.deleted == 1
    assert warehouse.table("orders", "id, _deleted", "id") == [(1, False), (2, True), (3, False)]


def test_each_loaded_table_reports_its_rows_after_the_commit(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, [[order(1, 1), order(2, 1)]])
    result = load(warehouse, tmp_path, [[order(3, 2, items=1)]], deleted={"orders": [{"id": 2}]})
    assert result.counts.rows == {"orders": 2, "orders__line_items": 5}  # not the deleted one
    assert result.assets["raw_shop.orders"]["rows"] == 2
    assert result.assets["raw_shop.orders__line_items"]["rows"] == 5


def test_a_load_of_only_deletions_marks_them(warehouse: Warehouse, tmp_path: Path) -> None:
    load(warehouse, tmp_path, [[order(1, 1), order(2, 1)]])
    result = load(warehouse, tmp_path, [[]], deleted={"orders": [{"id": 1}, {"id": 9}]})
    assert result.counts.deleted == 1 and result.loaded == 0
    assert warehouse.table("orders", "id, _deleted", "id") == [(1, True), (2, False)]
    assert state(warehouse) == {"cursor": "2026-11-01T10:00:00Z", "extra": {}}


def test_deletions_before_any_table_exists_are_a_no_op(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    result = load(warehouse, tmp_path, [[]], deleted={"orders": [{"id": 1}]})
    assert result.counts.deleted == 0 and result.loaded == 0


def test_append_skips_keys_already_loaded(warehouse: Warehouse, tmp_path: Path) -> None:
    events = Stream("orders", primary_key=("id",), write_mode=WriteMode.APPEND)
    load(warehouse, tmp_path, [[{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]], events)
    result = load(warehouse, tmp_path, [[{"id": 2, "v": "changed"}, {"id": 3, "v": "c"}]], events)
    assert result.counts.inserted == 1
    assert warehouse.table("orders", "id, v", "id") == [(1, "a"), (2, "b"), (3, "c")]


def test_replace_swaps_the_whole_table(warehouse: Warehouse, tmp_path: Path) -> None:
    load(warehouse, tmp_path, [[order(1, 1), order(2, 1)]])
    load(warehouse, tmp_path, [[order(3, 1, items=1)]], full_refresh=True)
    assert warehouse.table("orders", "id") == [(3,)]
    assert warehouse.table("orders__line_items", "_root_key") == [("3",)]


def test_new_fields_add_columns_and_conflicting_types_widen(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    stream = Stream("orders", primary_key=("id",))
    load(warehouse, tmp_path, [[{"id": 1, "qty": 1}]], stream)
    result = load(warehouse, tmp_path, [[{"id": 2, "qty": "many", "note": "new"}]], stream)
    assert result.schema_changes == [
        "orders.qty widened from bigint to text",
        "new column orders.note (text)",
    ]
    assert warehouse.table("orders", "id, qty, note", "id") == [(1, "1", None), (2, "many", "new")]


def test_fields_and_types_first_seen_after_many_pages_are_kept(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # DuckDB's read_json samples only 32 files of a read; the loader reads with the shape
    # of every record, so a late field is neither dropped nor a failed load.
    stream = Stream("orders", primary_key=("id",))
    pages: list[list[Any]] = [
        [{"id": n, "qty": n, "customer": {"id": n}, "lines": [{"sku": "A"}]}] for n in range(40)
    ]
    pages[38][0].update(gift_note="wrap it", customer={"id": 38, "vip": True})
    pages[39][0].update(qty="many", lines=[{"sku": "B", "engraving": "hi"}])
    result = load(warehouse, tmp_path, pages, stream)
    assert result.loaded == 40
    assert warehouse.table("orders", "id, qty, gift_note, customer__vip", "id")[-3:] == [
        (37, "37", None, None),
        (38, "38", "wrap it", True),
        (39, "many", None, None),
    ]
    assert warehouse.table("orders__lines", "_root_key, sku, engraving", "length(_root_key), 1")[
        -1
    ] == (
        "39",
        "B",
        "hi",
    )


def test_a_batch_read_by_detection_still_sees_every_page(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # an unsigned 64-bit integer does not fit the declared BIGINT, so DuckDB's own
    # detection reads this batch: it too must look past the first 32 pages
    stream = Stream("orders", primary_key=("id",))
    pages: list[list[Any]] = [[{"id": n, "big": 2**63 + n}] for n in range(40)]
    pages[39][0]["gift_note"] = "wrap it"
    result = load(warehouse, tmp_path, pages, stream)
    assert result.loaded == 40
    assert warehouse.table("orders", "id, big, gift_note", "id")[-1] == (
        39,
        Decimal(2**63 + 39),
        "wrap it",
    )


def test_text_is_typed_as_a_date_or_time_only_when_every_value_is_one(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    stream = Stream("orders", primary_key=("id",))
    first: list[Any] = [
        {"id": 1, "paid": "2026-11-01T10:00:00Z", "ships": "2026-11-02", "opens": "10:00:00"},
        {"id": 2, "paid": "2026-11-01T12:30:00+02:00", "ships": "2026-11-03", "opens": "noon"},
        {"id": 3, "local": "2026-11-01T10:00:00", "big": 2**63 + 5},
        {"id": 4, "local": "2026-11-01T11:00:00+01:00"},
    ]
    load(warehouse, tmp_path, [first[:2], first[2:]], stream)
    rows = warehouse.table("orders", "id, paid, ships, opens, local, big", "id")
    assert [r[1:3] for r in rows[:2]] == [
        (datetime(2026, 11, 1, 10, tzinfo=UTC), date(2026, 11, 2)),
        (datetime(2026, 11, 1, 10, 30, tzinfo=UTC), date(2026, 11, 3)),
    ]
    assert [r[3] for r in rows[:2]] == ["10:00:00", "noon"]  # not every value is a time
    # a timestamp without zone beside one with: text, so neither loses anything
    assert [r[4:] for r in rows[2:]] == [
        ("2026-11-01T10:00:00", Decimal(2**63 + 5)),
        ("2026-11-01T11:00:00+01:00", None),
    ]
    load(warehouse, tmp_path, [[{"id": 5, "paid": "pending", "ships": "soon"}]], stream)
    assert warehouse.table("orders", "paid, ships", "id")[-1] == ("pending", "soon")


def test_variant_columns_keep_the_type(warehouse: Warehouse, tmp_path: Path) -> None:
    stream = Stream("orders", primary_key=("id",), type_conflict=TypeConflict.VARIANT)
    load(warehouse, tmp_path, [[{"id": 1, "qty": 1}]], stream)
    load(warehouse, tmp_path, [[{"id": 2, "qty": "many"}, {"id": 3, "qty": "7"}]], stream)
    assert warehouse.table("orders", "id, qty, qty__v_text", "id") == [
        (1, 1, None),
        (2, None, "many"),
        (3, 7, None),
    ]


def test_a_frozen_schema_fails_before_anything_is_written(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    stream = Stream("orders", primary_key=("id",), cursor="u", schema=SchemaPolicy.FREEZE)
    load(warehouse, tmp_path, [[{"id": 1, "qty": 1, "u": 1}]], stream)
    with pytest.raises(SchemaFrozenError) as info:
        load(warehouse, tmp_path, [[{"id": 2, "qty": "many", "u": 2}]], stream)
    assert "stream 'orders'" in str(info.value)
    assert "'qty' has type text but table orders has bigint" in str(info.value)
    assert warehouse.table("orders", "id") == [(1,)]
    assert state(warehouse) == {"cursor": 1, "extra": {}}


def test_discard_row_quarantines_records_that_do_not_fit(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    stream = Stream("orders", primary_key=("id",), schema=SchemaPolicy.DISCARD_ROW)
    load(warehouse, tmp_path, [[{"id": 1, "qty": 1}]], stream)
    result = load(
        warehouse,
        tmp_path,
        [[{"id": 2, "qty": 2}, {"id": 3, "qty": "x"}, {"id": 4, "extra": 1}]],
        stream,
    )
    assert (result.received, result.loaded, result.quarantined) == (3, 1, 2)
    assert warehouse.table("orders", "id, qty", "id") == [(1, 1), (2, 2)]


def test_bad_records_go_to_quarantine_and_the_rest_load(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    records = [order(1, 1), ["not", "an", "object"], order(2, 1, total="abc"), {"total": "1"}]
    result = load(warehouse, tmp_path, [records])
    assert (result.received, result.loaded, result.quarantined) == (4, 1, 3)
    assert result.received == result.loaded + result.quarantined
    reasons = warehouse.rows(
        f"SELECT reason, location FROM {warehouse.schema('_podium')}.quarantine ORDER BY reason"
    )
    assert reasons == [
        ("field total: abc is not a decimal(18,2)", "memory orders page 0"),
        ("primary key field id is missing", "memory orders page 0"),
        ("record 1 is list, not an object", "memory orders page 0"),
    ]
    assert warehouse.table("orders", "id") == [(1,)]
    assert warehouse.table("orders__line_items", "_root_key, sku") == [("1", "S1-0"), ("1", "S1-1")]


def test_the_cursor_is_the_largest_committed_value(warehouse: Warehouse, tmp_path: Path) -> None:
    load(warehouse, tmp_path, [[order(1, 3), order(2, 9)]])
    source = MemorySource({"orders": [[order(3, 4)]]}, [ORDERS])
    job = LoadJob(source, ORDERS, warehouse.destination, "shop", "raw_shop", tmp_path / "loads")
    load_stream(job)
    assert source.states[0].cursor == "2026-11-09T10:00:00Z"  # the source was told where to start
    assert state(warehouse)["cursor"] == "2026-11-09T10:00:00Z"  # never moves backwards
    loads = warehouse.rows(f"SELECT count(*) FROM {warehouse.schema('_podium')}.loads")
    assert loads == [(2,)]
