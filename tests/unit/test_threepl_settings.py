"""A ``threepl`` connection's settings and a sync's order fields, each problem under its key."""

from __future__ import annotations

from podium.syncs.destinations.threepl import DESTINATION, check_orders
from podium.syncs.destinations.threepl_config import parse_threepl_settings

GOOD = {"base_url": "https://api.shipbob.com/", "token": "pat_x_12345", "channel_id": 100001}
ORDER = {
    "shipping_method": "ship",
    "recipient.name": "name",
    "recipient.address.address1": "a1",
    "recipient.address.city": "city",
    "recipient.address.country": "cc",
    "products": "products",
}


def test_defaults_follow_shipbob() -> None:
    config, problems = parse_threepl_settings(GOOD)
    assert problems == []
    assert (config.base_url, config.channel_id, config.version) == (
        "https://api.shipbob.com", "100001", "2026-07")  # fmt: skip
    assert (config.limit, config.window, config.retries, config.timeout) == (150, 60.0, 5, 30.0)
    assert config.dated and not parse_threepl_settings({**GOOD, "version": "2.0"})[0].dated


def test_every_problem_starts_with_its_key_and_never_shows_the_token() -> None:
    bad = {**GOOD, "token": 7, "version": "3.0", "timeout": "soon", "retries": -1,
           "rate_limit": {"requests": 0}, "chanel_id": "1"}  # fmt: skip
    problems = DESTINATION.problems({"type": "threepl", **bad})
    keys = sorted(p.split(":", 1)[0] for p in problems)
    assert keys == ["chanel_id", "rate_limit", "retries", "timeout", "token", "version"]
    assert not any("pat_" in p for p in DESTINATION.problems({**GOOD, "version": "x"}))
    assert DESTINATION.problems({}) == [
        "base_url: required (the API's root, without the version: https://api.shipbob.com)",
        "token: required (a personal access token, a secret: ${THREEPL_TOKEN})",
        "channel_id: required (the channel orders are created in (header shipbob_channel_id))",
    ]


def test_an_order_needs_shipbobs_required_fields_and_its_key_is_the_reference_id() -> None:
    assert check_orders(ORDER, {}) == []
    missing = check_orders({"shipping_method": "s", "reference_id": "ref"}, {})
    assert missing[0].startswith("fields.reference_id: the sync's key is sent as")
    assert missing[1].startswith("fields: an order needs recipient.name,")
    clash = check_orders({**ORDER, "recipient": "r"}, {})
    assert clash == ["fields.recipient: is also the parent of nested fields; use one"]
