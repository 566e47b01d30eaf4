"""Pure pieces of the shopify connector: JSONL reassembly, cost pacing, signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from podium.connectors.sources.shopify.cost import requested_cost
from podium.connectors.sources.shopify.graphql import GraphqlCostLimit
from podium.connectors.sources.shopify.jsonl import assemble
from podium.connectors.sources.shopify.source import utc_text
from podium.connectors.sources.shopify.streams import order_rows, paged_query, stream_specs
from podium.sandbox.shopify import is_valid, sign
from podium.sandbox.shopify.bulk import jsonl_lines


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_children_far_from_their_parent_are_put_back(tmp_path: Path) -> None:
    lines: list[dict[str, Any]] = [
        {"id": "gid://shopify/Order/1", "refunds": [{"id": "gid://shopify/Refund/9"}]},
        {"id": "gid://shopify/Order/2", "refunds": []},
        {"id": "gid://shopify/LineItem/21", "__parentId": "gid://shopify/Order/2"},
        {"id": "gid://shopify/RefundLineItem/91", "__parentId": "gid://shopify/Refund/9"},
        {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/LineItem/12", "__parentId": "gid://shopify/Order/1"},
    ]
    batches = list(assemble(_write(tmp_path / "r.jsonl", lines), tmp_path, batch=1))
    first, second = batches[0][0], batches[1][0]
    assert [n["id"] for n in first["lineItems"]["nodes"]] == [
        "gid://shopify/LineItem/11",
        "gid://shopify/LineItem/12",
    ]
    refund_items = first["refunds"][0]["refundLineItems"]["nodes"]
    assert refund_items == [{"id": "gid://shopify/RefundLineItem/91"}]
    assert second["lineItems"]["nodes"] == [{"id": "gid://shopify/LineItem/21"}]
    assert len(batches) == 2


def test_simulated_jsonl_round_trips_through_assemble(tmp_path: Path) -> None:
    roots = [
        {
            "id": f"gid://shopify/Order/{i}",
            "lineItems": {"nodes": [{"id": f"gid://shopify/LineItem/{i}{k}"} for k in range(3)]},
            "shippingLines": {"nodes": [{"id": f"gid://shopify/ShippingLine/{i}"}]},
        }
        for i in range(1, 25)
    ]
    lines = list(jsonl_lines([dict(r) for r in roots]))
    assert lines[1].get("__parentId") is None  # children do not follow their parent at once
    rebuilt = [
        n for batch in assemble(_write(tmp_path / "o.jsonl", lines), tmp_path) for n in batch
    ]
    assert rebuilt == roots


def test_order_rows_keep_money_as_decimal_text() -> None:
    money = {"shopMoney": {"amount": "19.99", "currencyCode": "USD"}}
    node = {
        "id": "gid://shopify/Order/7",
        "totalPriceSet": money,
        "lineItems": {
            "nodes": [{"id": "gid://shopify/LineItem/70", "originalUnitPriceSet": money}]
        },
    }
    row = order_rows(node)[0]
    assert row["id"] == 7 and row["total_price"] == "19.99"
    assert row["line_items"][0]["price"] == "19.99"
    assert "discount_allocations" not in row["line_items"][0]


def test_every_paged_query_fits_the_standard_bucket() -> None:
    for spec in stream_specs(600).values():
        cost = requested_cost(paged_query(spec), {"first": spec.page_size})
        assert cost <= 1000, spec.stream.name


def test_the_cost_limit_waits_for_the_points_a_query_needs() -> None:
    now, slept = [0.0], list[float]()
    limit = GraphqlCostLimit(clock=lambda: now[0], sleep=slept.append)
    limit.acquire()  # nothing known yet: no wait
    status = {"maximumAvailable": 1000, "currentlyAvailable": 100, "restoreRate": 50}
    limit.learn({"extensions": {"cost": {"throttleStatus": status}}})
    limit.expect(300)
    limit.acquire()
    assert slept == [4.0]  # (300 - 100) / 50
    now[0] = 4.0
    limit.expect(100)
    limit.acquire()  # the 300 were reserved: the bucket is at 0 now
    assert slept == [4.0, 2.0]


def test_estimate_follows_shopifys_published_rules() -> None:
    """An object 1 (a money set is two: the set and its shopMoney), a scalar 0, a
    connection 2 + first × its node."""
    query = (
        "query($first: Int!) { orders(first: $first) { nodes { id totalPriceSet { shopMoney "
        "{ amount } } lineItems(first: 5) { nodes { id variant { id } } } } } }"
    )
    assert requested_cost(query, {"first": 10}) == 2 + 10 * (1 + 2 + (2 + 5 * (1 + 1)))
    assert requested_cost("mutation { x { y } }") == 10


def test_webhook_signature_is_base64_hmac_sha256() -> None:
    body = b'{"id":1}'
    assert sign("hush", body) == "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY="
    assert is_valid("hush", body, sign("hush", body))
    assert not is_valid("hush", body + b" ", sign("hush", body))


def test_cursors_are_sent_as_utc() -> None:
    assert utc_text("2026-09-01T10:00:00") == "2026-09-01T10:00:00Z"
    assert utc_text("2026-09-01T06:00:00-04:00") == "2026-09-01T10:00:00Z"
    assert utc_text("2026-09-01T10:00:00Z") == "2026-09-01T10:00:00Z"
