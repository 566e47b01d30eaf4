"""Replays of body-signed deliveries (Shopify, hmac): the body window and sent times.

The receiver's answers over a real server are in tests/integration/test_webhook_receiver.py;
here the inbox and the clock are driven directly (``now`` is a parameter).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from podium.testing import memory_database
from podium.webhooks.inbox import store_deliveries
from podium.webhooks.settings import WebhookSettings, parse_webhook_settings
from podium.webhooks.verify import BadSignature, verify_delivery

NOW = 1_800_000_000.0
DAY = 86_400.0
SECRET = "erp_webhook_secret_0123"
BODY = json.dumps({"order": 42, "status": "shipped"}).encode()


def settings(webhooks: dict[str, Any]) -> WebhookSettings:
    problems: list[str] = []
    parsed = parse_webhook_settings("erp", {"type": "webhook", "webhooks": webhooks}, problems)
    assert problems == []
    return parsed


ERP = settings(
    {
        "verify": "hmac",
        "header": "X-Signature",
        "secret": SECRET,
        "id_header": "X-Delivery-Id",
        "timestamp_header": "X-Sent-At",
        "tolerance": "10m",
        "replay_window": "2d",
    }
)


def headers(delivery_id: str, sent_at: float, body: bytes = BODY) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature": mac, "X-Delivery-Id": delivery_id, "X-Sent-At": str(int(sent_at))}


def test_the_same_body_under_another_id_is_a_replay_until_the_window_ends() -> None:
    db = memory_database()

    def post(delivery_id: str, now: float) -> tuple[bool, bool]:
        delivery = verify_delivery(ERP, headers(delivery_id, now), BODY, now=now)
        (stored,) = store_deliveries(db, [delivery], now)
        return stored.duplicate, stored.replay

    assert post("d-1", NOW) == (False, False)
    assert post("d-2", NOW + 60) == (True, True)  # a fresh id, the same body: a replay
    assert post("d-1", NOW + 60) == (True, False)  # the same id: a redelivery
    assert post("d-3", NOW + 2 * DAY - 1) == (True, True)
    assert post("d-4", NOW + 2 * DAY + 1) == (False, False)  # past the window: taken
    count = db.read().fetchone("SELECT COUNT(*) FROM webhook_inbox")
    assert count == (2,)


def test_a_stale_or_missing_sent_time_is_refused() -> None:
    stale = headers("d-1", NOW - 601)
    with pytest.raises(BadSignature, match=r"X-Sent-At is 601s old, beyond the 600s tolerance"):
        verify_delivery(ERP, stale, BODY, now=NOW)
    ahead = headers("d-1", NOW + 601)
    with pytest.raises(BadSignature, match=r"X-Sent-At is 601s in the future"):
        verify_delivery(ERP, ahead, BODY, now=NOW)
    missing = headers("d-1", NOW)
    del missing["X-Sent-At"]
    with pytest.raises(BadSignature, match=r"the X-Sent-At header is missing"):
        verify_delivery(ERP, missing, BODY, now=NOW)
    assert verify_delivery(ERP, headers("d-1", NOW - 599), BODY, now=NOW).delivery_id == "d-1"


def test_shopify_defaults_a_48h_tolerance_and_a_7_day_window() -> None:
    shopify = parse_webhook_settings("shop", {"type": "shopify", "webhooks": {"secret": "s"}}, [])
    assert (shopify.tolerance, shopify.replay_window) == (48 * 3600, 7 * DAY)


def test_signed_timestamp_schemes_keep_no_body_window() -> None:
    stripe = settings({"verify": "stripe", "secret": SECRET})
    assert stripe.replay_window == 0.0


@pytest.mark.parametrize(
    ("webhooks", "problem"),
    [
        ({"tolerance": "5m"}, "webhooks.tolerance: applies with timestamp_header"),
        ({"replay_window": "soon"}, "webhooks.replay_window:"),
        ({"timestamp_header": "Bad Header"}, "webhooks.timestamp_header: expected an HTTP"),
    ],
)
def test_replay_settings_problems_name_their_key(webhooks: dict[str, Any], problem: str) -> None:
    problems: list[str] = []
    raw = {"verify": "hmac", "header": "X-Signature", "secret": SECRET, **webhooks}
    parse_webhook_settings("erp", {"type": "webhook", "webhooks": raw}, problems)
    assert any(p.startswith(problem) for p in problems), problems
