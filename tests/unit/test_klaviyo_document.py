"""A Klaviyo page decoded into structs gives the records the plain-JSON path gives."""

from __future__ import annotations

import copy
from datetime import timedelta

import msgspec
import orjson
import pytest

from podium.connectors.sources.klaviyo.document import (
    Document,
    decode,
    flat_dict,
    flat_records,
    page_parts,
)
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator
from podium.sandbox.paging import Request

HEADERS = {"authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2025-10-15"}
LISTS = {
    "profiles": {},
    "events": {},
    "metrics": {},
    "lists": {},
    "campaigns": {"filter": "equals(messages.channel,'email')"},
    "flows": {},
}


@pytest.fixture(scope="module")
def sim() -> KlaviyoSimulator:
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=10, customers=120, dtc_orders_per_day=8))
    return KlaviyoSimulator(brand, SimClock(brand.config.start_at + timedelta(days=9)))


@pytest.mark.parametrize("stream", sorted(LISTS))
def test_every_listed_resource_flattens_as_plain_json_does(
    sim: KlaviyoSimulator, stream: str
) -> None:
    request = Request("GET", f"/api/{stream}/", LISTS[stream], HEADERS, "http://sim")
    body = sim.answer(request).body
    decoded = decode(body)
    assert type(decoded) is Document
    data, following = page_parts(decoded)
    plain = orjson.loads(body)
    assert data and following == plain["links"].get("next")
    expected = [flat_dict(resource, stream) for resource in plain["data"]]
    records = flat_records(decoded, data, stream)
    assert records == expected
    assert [list(r) for r in records] == [list(r) for r in expected]  # columns in order


RESOURCE = {
    "type": "event",
    "id": "e1",
    "attributes": {
        "datetime": "2025-05-01T10:00:00+00:00",
        "event_properties": {"$value": 59.99, "OrderId": "1001", "Items": [],
                             "deep": {"none": [], "kept": [1]}},
        "tags": [],
    },
    "relationships": {
        "profile": {"data": {"type": "profile", "id": "p1"}, "links": {"self": "x"}},
        "lists": {"data": []},
        "tag-groups": {"data": [{"type": "tag-group", "id": "t1"}]},
        "none": {"data": None},
    },
    "links": {"self": "http://sim/api/events/e1/"},
}  # fmt: skip


def test_a_resource_flattens_without_empty_lists_at_any_depth() -> None:
    assert flat_dict(copy.deepcopy(RESOURCE), "events") == {
        "id": "e1",
        "datetime": "2025-05-01T10:00:00+00:00",
        "event_properties": {"$value": 59.99, "OrderId": "1001", "deep": {"kept": [1]}},
        "profile_id": "p1",
        "tag_groups": [{"id": "t1"}],
        "value": "59.99",
        "order_id": "1001",
        "message_id": None,
    }


def test_a_resource_decoded_into_structs_flattens_like_the_plain_one() -> None:
    body = orjson.dumps({"data": [RESOURCE], "links": {"next": None}})
    decoded = decode(body)
    assert type(decoded) is Document
    data, following = page_parts(decoded)
    assert following is None
    assert decoded.empty_lists
    records = flat_records(decoded, data or [], "events")
    assert records == [flat_dict(copy.deepcopy(RESOURCE), "events")]
    assert records[0]["tag_groups"] == [{"id": "t1"}] and "Items" not in records[0]


def test_a_page_without_an_empty_list_anywhere_is_not_searched_for_one() -> None:
    full = orjson.dumps({"data": [RESOURCE]})
    spaced = full.replace(b'"tags":[]', b'"tags":[ \n]')
    assert spaced != full and decode(spaced).empty_lists  # whitespace inside: still empty
    resource = {
        "id": "e2",
        "attributes": {"datetime": "2025-05-01T10:00:00+00:00", "event_properties": {"A": [1]}},
        "relationships": {"profile": {"data": {"type": "profile", "id": "p1"}}},
    }
    decoded = decode(orjson.dumps({"data": [resource]}))
    assert type(decoded) is Document and not decoded.empty_lists
    records = flat_records(decoded, decoded.data, "events")
    assert records == [flat_dict(copy.deepcopy(resource), "events")]


def test_json_of_another_shape_is_read_as_plain_json_and_judged_as_before() -> None:
    odd = {"data": [{**RESOURCE, "relationships": {"profile": "p1"}}], "links": {"next": "n"}}
    decoded = decode(orjson.dumps(odd))
    assert decoded == odd
    data, following = page_parts(decoded)
    assert following == "n" and data is not None
    assert flat_records(decoded, data, "events")[0]["id"] == "e1"
    assert page_parts(decode(b'{"data": {"id": "1"}}')) == (None, None)  # not a list
    assert page_parts(decode(b"[1, 2]")) == (None, None)


def test_a_body_that_is_not_json_raises_a_value_error() -> None:
    body = orjson.dumps({"data": [RESOURCE], "links": {}})
    with pytest.raises(ValueError):
        decode(body[:-10])
    with pytest.raises(msgspec.DecodeError):
        decode(b"<html>502</html>")
