"""The shape of parsed records: the DuckDB types it declares, paths, and what counts as new."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from podium.connectors.normalize.shape import Observer, duckdb_columns, observe


def types_of(records: list[dict[str, Any]]) -> dict[str, str]:
    return {name: field.duckdb_type() for name, field in observe(records).fields.items()}


def test_types_follow_duckdbs_detection() -> None:
    found = types_of(
        [
            {"a": 1, "b": 1.5, "c": "x", "d": True, "e": None, "f": [], "g": {}, "h": 1},
            {"a": 2, "b": 2, "h": "x", "i": [1, "x"], "j": [[1]], "k": {"x": None}},
        ]
    )
    assert found == {
        "a": "BIGINT",
        "b": "DOUBLE",
        "c": "VARCHAR",
        "d": "BOOLEAN",
        "e": "NULL",
        "f": "JSON[]",
        "g": "JSON",
        "h": "JSON",
        "i": "JSON[]",
        "j": "BIGINT[][]",
        "k": 'STRUCT("x" NULL)',
    }


def test_nested_objects_and_lists_merge_every_record() -> None:
    records = [
        {"c": {"id": 1}, "lines": [{"sku": "A"}]},
        {"c": {"id": 2, "vip": True}, "lines": [{"sku": "B", "qty": 2}, {"sku": None}]},
    ]
    assert types_of(records) == {
        "c": 'STRUCT("id" BIGINT, "vip" BOOLEAN)',
        "lines": 'STRUCT("sku" VARCHAR, "qty" BIGINT)[]',
    }


def test_a_repeated_layout_still_notes_what_its_lists_hold() -> None:
    # the second record has the first one's layout; only its list is new
    found = types_of([{"id": 1, "tags": ["a"]}, {"id": 2, "tags": [1]}])
    assert found["tags"] == "JSON[]"


def test_zoned_timestamps_are_declared_and_other_dates_are_guessed() -> None:
    shape = observe(
        [
            {
                "paid": "2026-11-01T10:00:00Z",
                "day": "2026-11-01",
                "at": "10:00:00",
                "local": "2026-11-01 10:00",
                "name": "2026 sale",
                "lines": [{"shipped": "2026-11-02T10:00:00+01:00"}],
                "days": ["2026-11-01"],
            }
        ]
    )
    assert shape.fields["paid"].duckdb_type() == "TIMESTAMPTZ"
    guesses = {path: getattr(shape.find(path), "temporal", None) for path in _PATHS}
    assert guesses == {
        ("day",): "date",
        ("at",): "time",
        ("local",): "timestamp",
        ("name",): "",
        ("lines", "shipped"): "timestamptz",
        ("days", "value"): "date",
        ("missing",): None,
    }


_PATHS = [("day",), ("at",), ("local",), ("name",), ("lines", "shipped"), ("days", "value")]
_PATHS.append(("missing",))


def test_the_observer_hands_out_a_snapshot_only_when_something_changed() -> None:
    observer = Observer()
    observer.observe([{"id": 1, "c": {"x": 1}}])
    first = observer.snapshot()
    assert first is not None and observer.snapshot() is None
    observer.observe([{"id": 2, "c": {"x": 5}}])
    assert observer.snapshot() is None
    observer.observe([{"id": 3, "c": {"x": None}}])
    second = observer.snapshot()
    assert second is not None and second.fields["c"].fields["x"].kinds == {int, type(None)}
    assert first.fields["c"].fields["x"].kinds == {int}  # a snapshot is a copy


@pytest.mark.parametrize("name", ["it's", 'say "hi"', "UPPER"])
def test_columns_are_a_literal_duckdb_reads(name: str, tmp_path: Any) -> None:
    records = [{name: {"inner's": 1}, "id": 1}]
    path = tmp_path / "page.json"
    path.write_text(__import__("json").dumps(records))
    columns = duckdb_columns(observe(records))
    row = duckdb.sql(
        f"SELECT * FROM read_json('{path}', format='array', auto_detect=false, columns={columns})"
    ).fetchall()
    assert row == [({"inner's": 1}, 1)]
