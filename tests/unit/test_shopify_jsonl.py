"""Bulk JSONL reassembly (connectors/sources/shopify/jsonl.py): streamed and spilled agree."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

from podium.connectors.sources.shopify.jsonl import assemble, bulk_rows, scan
from podium.sandbox.shopify.bulk import jsonl_lines

Node = dict[str, Any]


def _write(path: Path, lines: list[Node], tail: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + tail)
    return path


def _roots(path: Path, work: Path, **kwargs: Any) -> list[Node]:
    return [node for batch in assemble(path, work, **kwargs) for node in batch]


def _order(i: int, lines: int = 2) -> Node:
    return {
        "id": f"gid://shopify/Order/{i}",
        "name": f"#{i}",
        "lineItems": {"nodes": [{"id": f"gid://shopify/LineItem/{i}0{k}"} for k in range(lines)]},
        "shippingLines": {"nodes": [{"id": f"gid://shopify/ShippingLine/{i}"}]},
    }


def test_children_out_of_order_are_streamed_back_under_their_parents(tmp_path: Path) -> None:
    lines: list[Node] = [
        {"id": "gid://shopify/Order/1", "name": "#1"},
        {"id": "gid://shopify/Order/2", "name": "#2"},
        {"id": "gid://shopify/LineItem/21", "__parentId": "gid://shopify/Order/2"},
        {"id": "gid://shopify/Order/3", "name": "#3"},
        {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/ShippingLine/1", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/LineItem/12", "__parentId": "gid://shopify/Order/1"},
    ]
    path = _write(tmp_path / "o.jsonl", lines)
    assert scan(path, window=10) == 2  # LineItem/11 comes two roots after Order/1
    first, second, third = _roots(path, tmp_path, batch=2)
    assert first == {
        "id": "gid://shopify/Order/1",
        "name": "#1",
        "lineItems": {
            "nodes": [{"id": "gid://shopify/LineItem/11"}, {"id": "gid://shopify/LineItem/12"}]
        },
        "shippingLines": {"nodes": [{"id": "gid://shopify/ShippingLine/1"}]},
    }
    assert second["lineItems"] == {"nodes": [{"id": "gid://shopify/LineItem/21"}]}
    assert third == {"id": "gid://shopify/Order/3", "name": "#3"}
    assert not (tmp_path / "bulk.sqlite").exists()  # streamed, nothing spilled


def test_grandchildren_of_a_connection_are_streamed(tmp_path: Path) -> None:
    """A child with children of its own (a product's variant and the variant's levels)."""
    lines: list[Node] = [
        {"id": "gid://shopify/Product/1"},
        {"id": "gid://shopify/Product/2"},
        {"id": "gid://shopify/ProductVariant/11", "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/InventoryLevel/111", "__parentId": "gid://shopify/ProductVariant/11"},
        {"id": "gid://shopify/Product/3"},
        {"id": "gid://shopify/InventoryLevel/112", "__parentId": "gid://shopify/ProductVariant/11"},
    ]
    path = _write(tmp_path / "p.jsonl", lines)
    assert scan(path, window=10) == 2
    first = _roots(path, tmp_path)[0]
    variant = first["variants"]["nodes"][0]
    assert [n["id"] for n in variant["inventoryLevels"]["nodes"]] == [
        "gid://shopify/InventoryLevel/111",
        "gid://shopify/InventoryLevel/112",
    ]
    assert _roots(path, tmp_path, window=1) == _roots(path, tmp_path)  # spilled: the same


def test_a_child_of_an_object_in_a_list_is_spilled(tmp_path: Path) -> None:
    """A refund's line items: the refund sits in its order's ``refunds`` list, so the scan
    cannot see its id without parsing; the file goes through SQLite instead."""
    lines: list[Node] = [
        {"id": "gid://shopify/Order/1", "refunds": [{"id": "gid://shopify/Refund/9"}]},
        {"id": "gid://shopify/RefundLineItem/91", "__parentId": "gid://shopify/Refund/9"},
    ]
    path = _write(tmp_path / "r.jsonl", lines)
    assert scan(path, window=10) is None
    (order,) = _roots(path, tmp_path)
    assert order["refunds"][0]["refundLineItems"] == {
        "nodes": [{"id": "gid://shopify/RefundLineItem/91"}]
    }


def test_an_empty_file_gives_no_batches(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"")
    assert scan(path, window=10) == 0
    assert list(assemble(path, tmp_path)) == []
    assert list(bulk_rows(path, tmp_path, lambda node: [node], window=0)) == []


def test_blank_lines_and_a_last_line_without_newline(tmp_path: Path) -> None:
    lines = list(jsonl_lines([_order(1), _order(2)]))
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"\n" + b"\n\n".join(orjson.dumps(line) for line in lines))
    assert _roots(path, tmp_path) == [_order(1), _order(2)]


def test_children_further_back_than_the_window_are_spilled(tmp_path: Path) -> None:
    """The memory bound: a child trailing its root by more roots than ``window`` sends the
    file through the SQLite spill, with the same result."""
    roots = [_order(i) for i in range(1, 40)]
    lines = list(jsonl_lines([dict(r) for r in roots]))  # children after each 10 roots
    path = _write(tmp_path / "w.jsonl", lines)
    assert scan(path, window=100) == 9
    assert scan(path, window=8) is None
    streamed = _roots(path, tmp_path / "s", batch=7)
    assert not (tmp_path / "s" / "bulk.sqlite").exists()
    (tmp_path / "s").mkdir()
    assert _roots(path, tmp_path / "s", batch=7, window=8) == streamed == roots
    assert (tmp_path / "s" / "bulk.sqlite").exists()


def test_streamed_and_spilled_agree_on_shuffled_files(tmp_path: Path) -> None:
    """Children moved anywhere after their parent (keeping their order among siblings)."""
    rng = random.Random(23)
    for attempt in range(20):
        roots = [_order(i, rng.randint(1, 4)) for i in range(1, rng.randint(1, 30))]
        flat = list(jsonl_lines([dict(r) for r in roots]))
        shuffled: list[Node] = []
        for line in flat:
            if "__parentId" not in line:
                shuffled.append(line)
                continue
            after = next(n for n, seen in enumerate(shuffled) if seen["id"] == line["__parentId"])
            siblings = [
                n for n, seen in enumerate(shuffled) if seen.get("__parentId") == line["__parentId"]
            ]
            shuffled.insert(rng.randint(max([after, *siblings]) + 1, len(shuffled)), line)
        path = _write(tmp_path / f"{attempt}.jsonl", shuffled)
        streamed = _roots(path, tmp_path, batch=rng.randint(1, 8))
        assert streamed == roots
        work = tmp_path / f"spill{attempt}"
        work.mkdir()
        assert _roots(path, work, batch=3, window=0) == roots


def test_bulk_rows_pages_hold_the_rows_of_a_batch_of_roots(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.jsonl", list(jsonl_lines([_order(i) for i in range(1, 8)])))

    def rows(node: Node) -> list[Node]:
        return [{"line": line["id"]} for line in node["lineItems"]["nodes"]]

    pages = list(bulk_rows(path, tmp_path, rows, batch=3))
    assert [len(page) for page in pages] == [6, 6, 2]
    assert pages[0][0] == {"line": "gid://shopify/LineItem/100"}
