"""Checking that a Klaviyo system webhook came from Klaviyo.

Klaviyo sends ``Klaviyo-Webhook-Id``, ``Klaviyo-Timestamp`` and ``Klaviyo-Signature``: a
hex HMAC-SHA256 made with the webhook's secret
(https://developers.klaviyo.com/en/docs/working_with_system_webhooks). The signed input is
the raw body followed by the timestamp header's value, per Hookdeck's guide
(https://www.skills.sh/hookdeck/webhook-skills/klaviyo-webhooks); verify the raw bytes
before parsing them. The body's ``meta.klaviyo_webhook_id`` must equal the id header.
Webhooks are hints: the events stream stays the record, so deduplicate on the event id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import orjson


def verify_klaviyo_webhook(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether ``body`` (raw bytes) with ``headers`` is a genuine, untampered delivery."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("klaviyo-signature", "")
    timestamp = lowered.get("klaviyo-timestamp", "")
    webhook_id = lowered.get("klaviyo-webhook-id", "")
    if not (signature and timestamp and webhook_id and secret):
        return False
    expected = hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return False
    try:
        meta = orjson.loads(body).get("meta") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return bool(meta.get("klaviyo_webhook_id") == webhook_id)
