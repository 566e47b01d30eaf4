"""The conformer reads a page straight from its bytes only when the page adds nothing to
the load's shape; anything new sends it back to be parsed and observed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from podium.connectors.normalize.conform import Conformer, Conforming
from podium.connectors.normalize.shape import Observer

SEEN = [
    {
        "id": 1,
        "total": 9.5,
        "paid": True,
        "note": None,
        "tags": [],
        "customer": {"id": 7, "email": "a@example.com"},
        "lines": [{"sku": "A", "qty": 1, "codes": ["x"]}],
        "extra": {},
    },
    {"id": 2, "total": 3.25, "paid": False, "note": "gift", "lines": []},
]


def _conformer() -> Conformer:
    observer = Observer()
    observer.observe(SEEN)
    return Conformer(observer)


def _body(*records: Any, path: str = "orders") -> bytes:
    return orjson.dumps({path: list(records), "next": "ignored"})


def _records(read: Conforming | None) -> list[Any]:
    assert read is not None
    records = orjson.loads(b"[" + read.elements.tobytes() + b"]")
    assert read.count == len(records)
    return records  # type: ignore[no-any-return]


def test_a_page_like_the_ones_before_is_read_and_written_back_unchanged() -> None:
    conformer = _conformer()
    page = [
        {"id": 3, "total": 1.5, "note": None, "customer": {"id": 8}, "lines": [{"sku": "B"}]},
        {"id": 4, "paid": True, "tags": [], "extra": {}, "lines": [{"codes": []}]},
    ]
    read = conformer.read(_body(*page), ["orders"])
    # the records' own bytes: absent fields stay absent, an explicit null stays null
    assert _records(read) == page
    assert read is not None and read.elements.tobytes() == orjson.dumps(page)[1:-1]


NEW = [
    {"id": 5, "coupon": "NEW"},  # a new field
    {"id": 5, "customer": {"id": 8, "phone": "+1"}},  # a new nested field
    {"id": 5, "lines": [{"sku": "C", "gift": True}]},  # a new field in a list's objects
    {"id": "5"},  # a new type
    {"id": 5.5},  # a number with a fraction where only integers were seen
    {"id": 5, "paid": 1},  # an integer where only booleans were seen
    {"id": 5, "tags": ["a"]},  # an element in a list only ever seen empty
    {"id": 5, "extra": {"k": 1}},  # a field in an object only ever seen empty
    {"id": 5, "lines": [{"codes": [1]}]},  # a new element type
    {"id": 5, "customer": "c-8"},  # text where an object was seen
    {"id": 5, "tags": [None]},  # a null element in a list only ever seen empty
    {"id": 5, "customer": {"id": True}},  # a boolean where only integers were seen
]


@pytest.mark.parametrize("record", NEW)
def test_anything_new_is_refused(record: dict[str, Any]) -> None:
    conformer = _conformer()
    assert conformer.read(_body({"id": 4}, record), ["orders"]) is None


@pytest.mark.parametrize("record", NEW)
def test_parsed_records_with_anything_new_do_not_fit(record: dict[str, Any]) -> None:
    conformer = _conformer()
    # late in a page too: the check covers every record, not a sample
    assert not conformer.fits([{"id": n} for n in range(2000)] + [record, {"id": 6}])
    before = Observer()
    before.observe(SEEN)
    version = before.version
    before.observe([record])
    assert before.version > version  # so the observer, which now sees it, notes something


def test_parsed_records_like_the_ones_before_fit() -> None:
    conformer = _conformer()
    assert conformer.fits(
        [
            {"id": 3, "total": 1.5, "note": None, "customer": {"id": 8}, "lines": [{"sku": "B"}]},
            {"id": 4, "paid": True, "tags": [], "extra": {}, "lines": [{"codes": []}]},
            {"id": None, "total": 2, "customer": None},  # no column type changes
        ]
    )
    assert conformer.fits([])
    assert not Conformer(Observer()).fits([{"id": 1}])  # nothing seen yet


def test_nulls_and_whole_numbers_that_change_no_column_type_are_taken() -> None:
    conformer = _conformer()
    read = conformer.read(_body({"id": None, "total": 2, "customer": None}), ["orders"])
    assert _records(read) == [{"id": None, "total": 2, "customer": None}]


def test_a_body_without_the_records_or_not_json_is_refused() -> None:
    conformer = _conformer()
    assert conformer.read(orjson.dumps({"data": []}), ["orders"]) is None
    assert conformer.read(b'{"orders": [{"id": 1}', ["orders"]) is None
    assert conformer.read(_body({"id": 1}, [1, 2]), ["orders"]) is None  # not an object
    assert conformer.read(orjson.dumps({"orders": {"id": 1}}), ["orders"]) is None  # no list
    assert _records(conformer.read(b' [{"id": 1}] ', [])) == [{"id": 1}]  # the body is the list
    nested = b'{"a": {"n": 1, "b": [ {"id": 1},\n {"id": 2} ]}, "z": [3]}'
    assert _records(conformer.read(nested, ["a", "b"])) == [{"id": 1}, {"id": 2}]
    assert _records(conformer.read(_body(), ["orders"])) == []


def test_it_follows_the_shape_as_it_grows_and_pauses_on_a_shapeless_stream() -> None:
    observer = Observer()
    conformer = Conformer(observer)
    assert conformer.read(_body({"id": 1}), ["orders"]) is None  # nothing seen yet
    observer.observe([{"id": 1}])
    assert conformer.read(_body({"id": 2}), ["orders"]) is not None
    assert conformer.read(_body({"id": 2, "new": 1}), ["orders"]) is None
    observer.observe([{"id": 2, "new": 1}])
    assert conformer.read(_body({"id": 3, "new": 2}), ["orders"]) is not None
    for n in range(8):  # page after page brings a new field: 9 refused, 2 taken
        record = {"id": n, f"field_{n}": n}
        assert conformer.read(_body(record), ["orders"]) is None
        observer.observe([record])
    for _ in range(16):  # so the next 16 pages are parsed directly, without a try
        assert conformer.read(_body({"id": 1}), ["orders"]) is None
    assert conformer.read(_body({"id": 1}), ["orders"]) is not None  # then it tries again
