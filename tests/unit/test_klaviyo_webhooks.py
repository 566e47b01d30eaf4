"""Verifying Klaviyo webhook signatures (hex HMAC-SHA256 of raw body + timestamp)."""

from __future__ import annotations

import orjson

from podium.connectors.sources.klaviyo import verify_klaviyo_webhook
from podium.sandbox.klaviyo import sign

SECRET = "klaviyo-webhook-secret-01"
BODY = orjson.dumps({"data": [], "meta": {"klaviyo_webhook_id": "wh1", "timestamp": "t"}})


def headers(body: bytes = BODY, secret: str = SECRET, webhook: str = "wh1") -> dict[str, str]:
    stamp = "2026-11-30T10:00:00+00:00"
    return {
        "Klaviyo-Webhook-Id": webhook,
        "Klaviyo-Timestamp": stamp,
        "Klaviyo-Signature": sign(secret, body, stamp),
    }


def test_a_genuine_delivery_verifies_whatever_the_header_case() -> None:
    assert verify_klaviyo_webhook(SECRET, BODY, headers())
    lowered = {k.lower(): v for k, v in headers().items()}
    assert verify_klaviyo_webhook(SECRET, BODY, lowered)


def test_a_changed_body_timestamp_or_secret_fails() -> None:
    assert not verify_klaviyo_webhook(SECRET, BODY + b" ", headers())
    assert not verify_klaviyo_webhook("another-secret-0000", BODY, headers())
    moved = {**headers(), "Klaviyo-Timestamp": "2026-11-30T10:00:01+00:00"}
    assert not verify_klaviyo_webhook(SECRET, BODY, moved)


def test_the_webhook_id_must_match_the_body() -> None:
    assert not verify_klaviyo_webhook(SECRET, BODY, headers(webhook="wh2"))


def test_missing_headers_fail() -> None:
    assert not verify_klaviyo_webhook(SECRET, BODY, {})
    assert not verify_klaviyo_webhook("", BODY, headers(secret=""))


def test_the_signature_is_hmac_sha256_hex_over_body_then_timestamp() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"s", b"{}" + b"123", hashlib.sha256).hexdigest()
    assert sign("s", b"{}", "123") == expected
