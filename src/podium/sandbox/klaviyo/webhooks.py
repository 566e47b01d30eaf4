"""Klaviyo system webhooks: events POSTed to a subscriber, signed with its secret.

Klaviyo documents (https://developers.klaviyo.com/en/docs/working_with_system_webhooks)
the headers ``Klaviyo-Webhook-Id``, ``Klaviyo-Signature`` (a hex HMAC-SHA256 made with the
webhook's secret) and ``Klaviyo-Timestamp``, and a body ``{"data": [{"topic", "external_id",
"payload"}], "meta": {"klaviyo_account_id", "klaviyo_webhook_id", "timestamp"}}`` whose
``meta.klaviyo_webhook_id`` must equal the header; each ``payload`` has the shape of a Get
Event answer. The signed input is the raw body followed by the ``Klaviyo-Timestamp``
value, as Hookdeck's guide states (https://www.skills.sh/hookdeck/webhook-skills/
klaviyo-webhooks); Klaviyo's page confirms HMAC-SHA256 and hex but this note did not see
its exact wording of the input, and the timestamp's format (ISO-8601 here) is a guess.

``WebhookSender.deliver(url, secret)`` sends the events that happened since the last
delivery (the first covers events after the simulator was made), 50 per request. A
non-2xx answer stops the delivery; those events are sent again by the next call.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from podium.sandbox.clock import SimClock
from podium.sandbox.klaviyo.model import METRICS, Event, KlaviyoModel, hashed_id, iso

BATCH = 50
ACCOUNT_ID = "XyZ123"


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """Klaviyo-Signature: hex HMAC-SHA256 of the raw body followed by the timestamp."""
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def topic(metric: str) -> str:
    """``event:klaviyo.opened_email``, ``event:shopify.placed_order``."""
    integration = dict(METRICS)[metric].lower()
    return f"event:{integration}.{metric.lower().replace(' ', '_')}"


class WebhookSender:
    def __init__(
        self, model: KlaviyoModel, clock: SimClock, render: Callable[[Event], dict[str, Any]]
    ) -> None:
        self.model, self.clock, self.render = model, clock, render
        self.sent_until = model.count_until(clock.now())  # events before this index are old
        self.webhook_id = hashed_id("webhook", model.brand.config.seed, 26)

    def deliver(self, url: str, secret: str, *, timeout: float = 10.0) -> int:
        """POST each new event once; the number delivered (acknowledged with a 2xx)."""
        end = self.model.count_until(self.clock.now())
        delivered = 0
        with httpx.Client(timeout=timeout) as client:
            while self.sent_until < end:
                batch = self.model.events[self.sent_until : min(end, self.sent_until + BATCH)]
                body, headers = self._request(batch, secret)
                response = client.post(url, content=body, headers=headers)
                if not 200 <= response.status_code < 300:
                    break
                self.sent_until += len(batch)
                delivered += len(batch)
        return delivered

    def _request(self, batch: tuple[Event, ...], secret: str) -> tuple[bytes, dict[str, str]]:
        timestamp = iso(self.clock.now())
        body = orjson.dumps(
            {
                "data": [
                    {"topic": topic(e.metric), "external_id": e.id, "payload": self.render(e)}
                    for e in batch
                ],
                "meta": {
                    "klaviyo_account_id": ACCOUNT_ID,
                    "klaviyo_webhook_id": self.webhook_id,
                    "timestamp": timestamp,
                },
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Klaviyo-Webhook-Id": self.webhook_id,
            "Klaviyo-Timestamp": timestamp,
            "Klaviyo-Signature": sign(secret, body, timestamp),
        }
        return body, headers
