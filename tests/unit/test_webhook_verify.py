"""Verifying webhook deliveries on the raw body: every scheme, every way to get it wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from podium.sandbox.klaviyo import sign as klaviyo_sign
from podium.sandbox.shopify import sign as shopify_sign
from podium.webhooks.settings import WebhookSettings, parse_webhook_settings
from podium.webhooks.verify import (
    BadSignature,
    MalformedDelivery,
    verify_delivery,
)

NOW = 1_800_000_000.0
SECRET = "whsec_current_0123456789"
OLD = "whsec_previous_9876543210"
BODY = json.dumps({"id": "evt_1", "type": "charge.succeeded", "amount": 5900}).encode()


def settings(connection: dict[str, Any], name: str = "conn") -> WebhookSettings:
    problems: list[str] = []
    parsed = parse_webhook_settings(name, connection, problems)
    assert problems == []
    return parsed


# -- shopify -----------------------------------------------------------------------------

SHOPIFY = settings({"type": "shopify", "webhooks": {"secret": SECRET, "previous_secret": OLD}})


def shopify_headers(body: bytes = BODY, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": shopify_sign(secret, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Event-Id": "ev-1",
        **extra,
    }


def test_a_genuine_shopify_delivery_is_named_by_its_webhook_id_and_topic() -> None:
    d = verify_delivery(SHOPIFY, shopify_headers(), BODY, now=NOW)
    assert (d.connection, d.delivery_id, d.topic) == ("conn", "wh-1", "orders/create")
    assert d.body == BODY.decode()
    assert d.headers["x-shopify-hmac-sha256"] == "***"  # the signature is not kept


def test_shopify_header_names_are_case_insensitive() -> None:
    lowered = {k.lower(): v for k, v in shopify_headers().items()}
    assert verify_delivery(SHOPIFY, lowered, BODY, now=NOW).delivery_id == "wh-1"


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify_delivery(SHOPIFY, shopify_headers(), BODY.replace(b"5900", b"5901"), now=NOW)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(BadSignature):
        verify_delivery(SHOPIFY, shopify_headers(secret="someone-elses-secret"), BODY, now=NOW)


def test_a_missing_signature_header_is_refused() -> None:
    headers = shopify_headers()
    del headers["X-Shopify-Hmac-Sha256"]
    with pytest.raises(BadSignature, match="X-Shopify-Hmac-Sha256 header is missing"):
        verify_delivery(SHOPIFY, headers, BODY, now=NOW)


def test_during_a_rotation_the_old_and_the_new_secret_are_both_accepted() -> None:
    assert verify_delivery(SHOPIFY, shopify_headers(secret=SECRET), BODY, now=NOW)
    assert verify_delivery(SHOPIFY, shopify_headers(secret=OLD), BODY, now=NOW)
    listed = settings({"type": "shopify", "webhooks": {"secrets": [SECRET, OLD]}})
    assert verify_delivery(listed, shopify_headers(secret=OLD), BODY, now=NOW)
    only_new = settings({"type": "shopify", "webhooks": {"secret": SECRET}})
    with pytest.raises(BadSignature):
        verify_delivery(only_new, shopify_headers(secret=OLD), BODY, now=NOW)


def test_shopify_falls_back_to_the_event_id_and_needs_one_of_them() -> None:
    headers = shopify_headers()
    del headers["X-Shopify-Webhook-Id"]
    assert verify_delivery(SHOPIFY, headers, BODY, now=NOW).delivery_id == "ev-1"
    del headers["X-Shopify-Event-Id"]
    with pytest.raises(MalformedDelivery, match="X-Shopify-Webhook-Id"):
        verify_delivery(SHOPIFY, headers, BODY, now=NOW)


def test_a_signed_body_that_is_not_json_is_malformed() -> None:
    body = b"orders=1&x=2"
    with pytest.raises(MalformedDelivery, match="not JSON"):
        verify_delivery(SHOPIFY, shopify_headers(body), body, now=NOW)


def test_credentials_are_not_kept_with_the_delivery() -> None:
    headers = shopify_headers(Authorization="Bearer abc", Cookie="s=1")
    kept = verify_delivery(SHOPIFY, headers, BODY, now=NOW).headers
    assert "authorization" not in kept and "cookie" not in kept
    assert kept["x-shopify-topic"] == "orders/create"


# -- stripe ------------------------------------------------------------------------------

STRIPE = settings({"type": "webhook", "webhooks": {"verify": "stripe", "secret": SECRET}})


def stripe_header(t: float = NOW, body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,)) -> str:
    stamp = str(int(t))
    parts = [f"t={stamp}"]
    for secret in secrets:
        mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        parts.append(f"v1={mac}")
    return ",".join(parts)


def test_a_genuine_stripe_event_is_named_by_its_id_and_type() -> None:
    d = verify_delivery(STRIPE, {"Stripe-Signature": stripe_header()}, BODY, now=NOW)
    assert (d.delivery_id, d.topic) == ("evt_1", "charge.succeeded")


def test_an_event_id_or_type_with_a_nul_is_malformed_not_a_store_error() -> None:
    # PostgreSQL refuses text holding NUL: the inbox could never store it (503 forever)
    for event in ({"id": "evt\u00001", "type": "x"}, {"id": "evt_2", "type": "a\u0000b"}):
        body = json.dumps(event).encode()
        header = {"Stripe-Signature": stripe_header(body=body)}
        with pytest.raises(MalformedDelivery, match="NUL character"):
            verify_delivery(STRIPE, header, body, now=NOW)


def test_a_body_nested_too_deep_is_malformed() -> None:
    body = ('{"id": "evt_3", "type": "x", "data": ' + "[" * 40 + "]" * 40 + "}").encode()
    header = {"Stripe-Signature": stripe_header(body=body)}
    with pytest.raises(MalformedDelivery, match="nests more than 32 levels"):
        verify_delivery(STRIPE, header, body, now=NOW)


def test_stripe_accepts_any_of_several_v1_signatures() -> None:
    header = stripe_header(secrets=("not-the-secret", SECRET))
    assert verify_delivery(STRIPE, {"Stripe-Signature": header}, BODY, now=NOW)


def test_stripe_refuses_a_tampered_body_and_a_wrong_secret() -> None:
    with pytest.raises(BadSignature):
        verify_delivery(STRIPE, {"Stripe-Signature": stripe_header()}, BODY + b" ", now=NOW)
    header = stripe_header(secrets=("whsec_wrong",))
    with pytest.raises(BadSignature):
        verify_delivery(STRIPE, {"Stripe-Signature": header}, BODY, now=NOW)


def test_stripe_refuses_stale_and_future_timestamps_beyond_the_tolerance() -> None:
    for t in (NOW - 299, NOW + 299):
        assert verify_delivery(STRIPE, {"Stripe-Signature": stripe_header(t)}, BODY, now=NOW)
    with pytest.raises(BadSignature, match="301s old"):
        verify_delivery(STRIPE, {"Stripe-Signature": stripe_header(NOW - 301)}, BODY, now=NOW)
    with pytest.raises(BadSignature, match="in the future"):
        verify_delivery(STRIPE, {"Stripe-Signature": stripe_header(NOW + 301)}, BODY, now=NOW)


def test_the_stripe_tolerance_is_configurable() -> None:
    strict = settings(
        {"type": "webhook", "webhooks": {"verify": "stripe", "secret": SECRET, "tolerance": "10s"}}
    )
    with pytest.raises(BadSignature, match="10s tolerance"):
        verify_delivery(strict, {"Stripe-Signature": stripe_header(NOW - 11)}, BODY, now=NOW)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=abc,v1=abc", f"t={int(NOW)}", "garbage"])
def test_a_missing_or_malformed_stripe_header_is_refused(header: str) -> None:
    with pytest.raises(BadSignature):
        verify_delivery(STRIPE, {"Stripe-Signature": header} if header else {}, BODY, now=NOW)


def test_a_stripe_event_without_an_id_is_malformed() -> None:
    body = json.dumps({"type": "charge.succeeded"}).encode()
    header = stripe_header(body=body)
    with pytest.raises(MalformedDelivery, match='no "id"'):
        verify_delivery(STRIPE, {"Stripe-Signature": header}, body, now=NOW)


# -- klaviyo -----------------------------------------------------------------------------

KLAVIYO = settings({"type": "klaviyo", "webhooks": {"secret": SECRET}})
STAMP = "2027-01-15T08:00:00+00:00"


def klaviyo_delivery(
    data: list[dict[str, Any]], webhook: str = "wh_abc", stamp: str = STAMP
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {"data": data, "meta": {"klaviyo_webhook_id": webhook, "timestamp": stamp}}
    ).encode()
    headers = {
        "Klaviyo-Webhook-Id": webhook,
        "Klaviyo-Timestamp": stamp,
        "Klaviyo-Signature": klaviyo_sign(SECRET, body, stamp),
    }
    return headers, body


EVENTS = [
    {"topic": "event:klaviyo.opened_email", "external_id": "e1", "payload": {}},
    {"topic": "event:klaviyo.clicked_email", "external_id": "e2", "payload": {}},
]


def test_klaviyo_is_signed_over_the_body_then_the_timestamp_as_podiums_simulator_signs() -> None:
    headers, body = klaviyo_delivery(EVENTS)
    d = verify_delivery(KLAVIYO, headers, body, now=NOW)
    assert d.topic == "event:klaviyo.clicked_email,event:klaviyo.opened_email"
    assert d.delivery_id.startswith("wh_abc:")


def test_klaviyo_deliveries_of_one_webhook_differ_by_their_batch() -> None:
    first = verify_delivery(KLAVIYO, *klaviyo_delivery(EVENTS[:1]), now=NOW)
    second = verify_delivery(KLAVIYO, *klaviyo_delivery(EVENTS[1:]), now=NOW)
    resent = verify_delivery(
        KLAVIYO, *klaviyo_delivery(EVENTS[:1], stamp=STAMP[:-6] + "Z"), now=NOW
    )
    assert first.delivery_id != second.delivery_id
    assert first.delivery_id == resent.delivery_id  # the same batch, sent again later


def test_klaviyo_refuses_a_moved_timestamp_a_tampered_body_and_a_foreign_webhook_id() -> None:
    headers, body = klaviyo_delivery(EVENTS)
    with pytest.raises(BadSignature):
        verify_delivery(
            KLAVIYO, {**headers, "Klaviyo-Timestamp": STAMP[:-7] + "1+00:00"}, body, now=NOW
        )
    with pytest.raises(BadSignature):
        verify_delivery(KLAVIYO, headers, body.replace(b"e1", b"e9"), now=NOW)
    with pytest.raises(BadSignature, match="klaviyo_webhook_id"):
        verify_delivery(KLAVIYO, {**headers, "Klaviyo-Webhook-Id": "wh_other"}, body, now=NOW)
    for missing in ("Klaviyo-Signature", "Klaviyo-Timestamp", "Klaviyo-Webhook-Id"):
        partial = {k: v for k, v in headers.items() if k != missing}
        with pytest.raises(BadSignature, match=f"{missing} header is missing"):
            verify_delivery(KLAVIYO, partial, body, now=NOW)


def test_klaviyo_checks_the_timestamp_only_with_a_tolerance() -> None:
    strict = settings({"type": "klaviyo", "webhooks": {"secret": SECRET, "tolerance": "5m"}})
    now = NOW  # = STAMP, 2027-01-15T08:00:00Z
    headers, body = klaviyo_delivery(EVENTS, stamp=STAMP)
    assert verify_delivery(strict, headers, body, now=now)
    with pytest.raises(BadSignature, match="old"):
        verify_delivery(strict, headers, body, now=now + 301)
    with pytest.raises(BadSignature, match="future"):
        verify_delivery(strict, headers, body, now=now - 301)
    assert verify_delivery(KLAVIYO, headers, body, now=now + 10**6)  # no tolerance set


# -- generic hmac ------------------------------------------------------------------------


def generic(**webhooks: Any) -> WebhookSettings:
    return settings(
        {"type": "webhook", "webhooks": {"verify": "hmac", "secret": SECRET, **webhooks}}
    )


def test_generic_hex_with_a_prefix_and_an_id_header() -> None:
    s = generic(
        header="X-Signature", prefix="sha256=", id_header="X-Delivery", topic_header="X-Event"
    )
    mac = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    headers = {"X-Signature": f"sha256={mac}", "X-Delivery": "d-7", "X-Event": "order.paid"}
    d = verify_delivery(s, headers, BODY, now=NOW)
    assert (d.delivery_id, d.topic) == ("d-7", "order.paid")
    assert d.headers["x-signature"] == "***"
    with pytest.raises(BadSignature, match="prefix"):
        verify_delivery(s, {**headers, "X-Signature": mac}, BODY, now=NOW)
    with pytest.raises(MalformedDelivery, match="X-Delivery"):
        verify_delivery(s, {k: v for k, v in headers.items() if k != "X-Delivery"}, BODY, now=NOW)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_generic_base64_with_each_algorithm(algorithm: str) -> None:
    s = generic(header="X-Hub-Signature", algorithm=algorithm, encoding="base64", id_field="id")
    mac = base64.b64encode(hmac.new(SECRET.encode(), BODY, algorithm).digest()).decode()
    d = verify_delivery(s, {"X-Hub-Signature": mac}, BODY, now=NOW)
    assert d.delivery_id == "evt_1"
    hexed = hmac.new(SECRET.encode(), BODY, algorithm).hexdigest()
    with pytest.raises(BadSignature):
        verify_delivery(s, {"X-Hub-Signature": hexed}, BODY, now=NOW)


def test_generic_without_an_id_setting_names_the_delivery_by_its_body() -> None:
    s = generic(header="X-Signature")
    mac = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    first = verify_delivery(s, {"X-Signature": mac}, BODY, now=NOW)
    assert first.delivery_id == "sha256:" + hashlib.sha256(BODY).hexdigest()
    with pytest.raises(BadSignature, match="X-Signature header is missing"):
        verify_delivery(s, {}, BODY, now=NOW)
    with pytest.raises(BadSignature):
        verify_delivery(s, {"X-Signature": mac}, BODY + b"\n", now=NOW)
