"""The conformer reads a page straight from its bytes only when the page adds nothing to
the load's shape; anything new sends it back to be parsed and observed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from podium.connectors.normalize.conform import Conformer
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


def _lines(conformer: Conformer, records: list[Any]) -> list[Any]:
    return [orjson.loads(line) for line in conformer.encode_lines(records).splitlines()]


def test_a_page_like_the_ones_before_is_read_and_written_back_unchanged() -> None:
    conformer = _conformer()
    page = [
        {"id": 3, "total": 1.5, "note": None, "customer": {"id": 8}, "lines": [{"sku": "B"}]},
        {"id": 4, "paid": True, "tags": [], "extra": {}, "lines": [{"codes": []}]},
    ]
    records = conformer.decode(_body(*page), ["orders"])
    assert records is not None
    # absent fields stay absent, an explicit null stays null
    assert _lines(conformer, records) == page


@pytest.mark.parametrize(
    "record",
    [
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
    ],
)
def test_anything_new_is_refused(record: dict[str, Any]) -> None:
    conformer = _conformer()
    assert conformer.decode(_body({"id": 4}, record), ["orders"]) is None


def test_nulls_and_whole_numbers_that_change_no_column_type_are_taken() -> None:
    conformer = _conformer()
    records = conformer.decode(_body({"id": None, "total": 2, "customer": None}), ["orders"])
    assert records is not None
    assert _lines(conformer, records) == [{"id": None, "total": 2.0, "customer": None}]


def test_a_body_without_the_records_or_not_json_is_refused() -> None:
    conformer = _conformer()
    assert conformer.decode(orjson.dumps({"data": []}), ["orders"]) is None
    assert conformer.decode(b'{"orders": [{"id": 1}', ["orders"]) is None
    assert conformer.decode(_body({"id": 1}, [1, 2]), ["orders"]) is None  # not an object
    assert conformer.decode(orjson.dumps([{"id": 1}]), []) is not None  # the body is the list
    assert conformer.decode(orjson.dumps({"a": {"b": [{"id": 1}]}}), ["a", "b"]) is not None


def test_it_follows_the_shape_as_it_grows_and_pauses_on_a_shapeless_stream() -> None:
    observer = Observer()
    conformer = Conformer(observer)
    assert conformer.decode(_body({"id": 1}), ["orders"]) is None  # nothing seen yet
    observer.observe([{"id": 1}])
    assert conformer.decode(_body({"id": 2}), ["orders"]) is not None
    assert conformer.decode(_body({"id": 2, "new": 1}), ["orders"]) is None
    observer.observe([{"id": 2, "new": 1}])
    assert conformer.decode(_body({"id": 3, "new": 2}), ["orders"]) is not None
    for n in range(8):  # page after page brings a new field: 9 refused, 2 taken
        record = {"id": n, f"field_{n}": n}
        assert conformer.decode(_body(record), ["orders"]) is None
        observer.observe([record])
    for _ in range(16):  # so the next 16 pages are parsed directly, without a try
        assert conformer.decode(_body({"id": 1}), ["orders"]) is None
    assert conformer.decode(_body({"id": 1}), ["orders"]) is not None  # then it tries again
