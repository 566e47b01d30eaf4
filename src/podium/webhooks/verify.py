"""Verifying a webhook delivery on its raw body, and naming it (delivery id, topic).

Pure: the clock is the ``now`` argument. Signatures are compared in constant time with
``hmac.compare_digest``; every configured secret is tried (a rotation keeps the old one).

    shopify   X-Shopify-Hmac-Sha256 = base64 HMAC-SHA256(secret, body)
              id: X-Shopify-Webhook-Id (else X-Shopify-Event-Id); topic: X-Shopify-Topic
              X-Shopify-Triggered-At (ISO-8601, unsigned), when sent: within ``tolerance``
              (default 48h, Shopify's retry period) of now
    stripe    Stripe-Signature: t=…,v1=…[,v1=…] = hex HMAC-SHA256(secret, f"{t}.{body}");
              t within ``tolerance`` (default 300 s) of now, past or future
              id: the event's ``id``; topic: its ``type``
    klaviyo   Klaviyo-Signature = hex HMAC-SHA256(secret, body + Klaviyo-Timestamp), as
              podium's Klaviyo connector and simulator sign; meta.klaviyo_webhook_id must
              equal Klaviyo-Webhook-Id; with ``tolerance`` set, the timestamp (ISO-8601 or
              epoch seconds) must be that recent. Klaviyo-Webhook-Id names the webhook, not
              the delivery, so the id is it plus a digest of the ``data`` batch: a resent
              batch is the same delivery. topic: the batch's topics, comma-joined
    hmac      ``header`` = hex|base64 HMAC-sha1|sha256|sha512(secret, body), after an
              optional ``prefix`` (``sha256=``); id: ``id_header`` or ``id_field``, else a
              digest of the body; topic: ``topic_header`` or ``topic_field``;
              ``timestamp_header`` (unsigned), when configured: within ``tolerance``

Shopify and hmac sign the body only, so a ``Delivery`` of theirs carries the body's digest
and the connection's ``replay_window``: the inbox takes no body twice within it, whatever
the delivery id says (``podium.webhooks.inbox``).

Every delivery must be JSON. The stored headers leave out credentials (Authorization,
Cookie), and keep the signature and any header named like a credential (``X-Api-Key``,
``X-Auth-Token``) with its value redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from podium.core.nesting import MAX_DEPTH, is_too_deep
from podium.errors import PodiumError
from podium.webhooks.match import lookup
from podium.webhooks.settings import BODY_SIGNED, WebhookSettings

SIGNATURE_HEADERS = {
    "shopify": "x-shopify-hmac-sha256",
    "stripe": "stripe-signature",
    "klaviyo": "klaviyo-signature",
}
DROPPED_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie"))
#: a kept header whose name holds one of these is kept with its value redacted
CREDENTIAL_WORDS = ("token", "secret", "key", "password", "credential", "signature", "auth")
REDACTED = "***"


class WebhookRejected(PodiumError):
    """A delivery the receiver refuses; ``status`` is the HTTP answer."""

    status = 400


class BadSignature(WebhookRejected):
    status = 401


class MalformedDelivery(WebhookRejected):
    status = 400


class BodyTooLarge(WebhookRejected):
    status = 413


@dataclass(frozen=True)
class Delivery:
    """A verified delivery, as the inbox keeps it."""

    connection: str
    delivery_id: str
    topic: str | None
    headers: dict[str, str]
    body: str
    body_digest: str | None = None  # body-signed schemes: the inbox refuses a replayed body
    replay_window: float = 0.0


def verify_delivery(
    settings: WebhookSettings, headers: Mapping[str, str], body: bytes, *, now: float
) -> Delivery:
    """The verified delivery; raises BadSignature (401) or MalformedDelivery (400)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    check_signature(settings, lowered, body, now)
    payload = parse_json(body)
    if is_too_deep(payload):
        raise MalformedDelivery(f"the body nests more than {MAX_DEPTH} levels deep")
    delivery_id, topic = identify(settings, lowered, body, payload)
    if "\x00" in delivery_id or "\x00" in (topic or ""):
        raise MalformedDelivery("the delivery's id or topic has a NUL character (\\u0000)")
    digest = hashlib.sha256(body).hexdigest() if settings.scheme in BODY_SIGNED else None
    return Delivery(
        settings.connection,
        delivery_id,
        topic,
        kept_headers(settings, lowered),
        body.decode(),
        digest,
        settings.replay_window,
    )


def check_signature(
    settings: WebhookSettings, headers: Mapping[str, str], body: bytes, now: float
) -> None:
    """Raises BadSignature unless ``body`` carries a valid signature (``headers`` lower-case)."""
    scheme = settings.scheme
    if scheme == "shopify":
        header = _required(headers, "x-shopify-hmac-sha256", "X-Shopify-Hmac-Sha256")
        expected = [_b64(_mac(s, body, "sha256")) for s in settings.secrets]
        _compare(expected, [header])
        _check_sent_time(settings, headers, "X-Shopify-Triggered-At", now)
    elif scheme == "stripe":
        check_stripe(
            settings, _required(headers, "stripe-signature", "Stripe-Signature"), body, now
        )
    elif scheme == "klaviyo":
        check_klaviyo(settings, headers, body, now)
    else:
        check_hmac(settings, headers, body, now)


def check_stripe(settings: WebhookSettings, header: str, body: bytes, now: float) -> None:
    stamp, signatures = _stripe_parts(header)
    signed = stamp.encode() + b"." + body
    _compare([_mac(s, signed, "sha256").hex() for s in settings.secrets], signatures)
    _check_age(int(stamp), now, settings.tolerance, "Stripe-Signature t=")


def _stripe_parts(header: str) -> tuple[str, list[str]]:
    stamps, signatures = [], []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise BadSignature(
            "the Stripe-Signature header must be t=<unix time>,v1=<hex signature>[,v1=…]"
        )
    return stamps[0], signatures


def check_klaviyo(
    settings: WebhookSettings, headers: Mapping[str, str], body: bytes, now: float
) -> None:
    signature = _required(headers, "klaviyo-signature", "Klaviyo-Signature")
    stamp = _required(headers, "klaviyo-timestamp", "Klaviyo-Timestamp")
    _required(headers, "klaviyo-webhook-id", "Klaviyo-Webhook-Id")
    signed = body + stamp.encode()
    _compare([_mac(s, signed, "sha256").hex() for s in settings.secrets], [signature.lower()])
    if settings.tolerance is not None:
        _check_age(
            _sent_time(stamp, "Klaviyo-Timestamp"), now, settings.tolerance, "Klaviyo-Timestamp"
        )


def _sent_time(stamp: str, name: str) -> float:
    """Seconds since the epoch in an ISO-8601 or epoch (seconds or milliseconds) header."""
    text = stamp.strip()
    try:
        if text.isdigit():
            value = float(text)
            return value / 1000 if value > 1e11 else value
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadSignature(f"the {name} header is neither ISO-8601 nor epoch seconds") from None


def check_hmac(
    settings: WebhookSettings, headers: Mapping[str, str], body: bytes, now: float
) -> None:
    header = _required(headers, settings.header.lower(), settings.header)
    if settings.prefix:
        if not header.startswith(settings.prefix):
            raise BadSignature(f"the {settings.header} header does not start with its prefix")
        header = header[len(settings.prefix) :]
    digests = [_mac(s, body, settings.algorithm) for s in settings.secrets]
    encode = _b64 if settings.encoding == "base64" else bytes.hex
    _compare([encode(d) for d in digests], [header.strip()])
    if settings.timestamp_header:
        _required(headers, settings.timestamp_header.lower(), settings.timestamp_header)
        _check_sent_time(settings, headers, settings.timestamp_header, now)


def _check_sent_time(
    settings: WebhookSettings, headers: Mapping[str, str], name: str, now: float
) -> None:
    """An unsigned sent time, when the sender gave one: refused when stale. It stops a
    delivery replayed as captured; a forged fresh time is caught by the body window."""
    stamp = headers.get(name.lower(), "").strip()
    if stamp:
        _check_age(_sent_time(stamp, name), now, settings.tolerance, name)


def _check_age(stamp: float, now: float, tolerance: float | None, what: str) -> None:
    if tolerance is None:
        return
    if stamp < now - tolerance:
        raise BadSignature(
            f"{what} is {now - stamp:.0f}s old, beyond the {tolerance:g}s tolerance "
            "(a replayed delivery, or a clock off)"
        )
    if stamp > now + tolerance:
        raise BadSignature(
            f"{what} is {stamp - now:.0f}s in the future, beyond the {tolerance:g}s tolerance"
        )


def _required(headers: Mapping[str, str], key: str, name: str) -> str:
    value = headers.get(key, "").strip()
    if not value:
        raise BadSignature(f"the {name} header is missing; the delivery cannot be verified")
    return value


def _mac(secret: str, data: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode(), data, algorithm).digest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _compare(expected: list[str], given: list[str]) -> None:
    """Every pair is compared (in constant time each), so timing says nothing either."""
    results = [
        hmac.compare_digest(e.encode(), g.encode("utf-8", "replace"))
        for e in expected
        for g in given
    ]
    if not any(results):
        raise BadSignature(
            "the signature does not match the body; check the connection's webhook secret"
        )


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedDelivery(f"the body is not JSON: {exc}") from None


def identify(
    settings: WebhookSettings, headers: Mapping[str, str], body: bytes, payload: Any
) -> tuple[str, str | None]:
    """The delivery id the inbox deduplicates on, and the topic triggers match."""
    if settings.scheme == "shopify":
        delivery = headers.get("x-shopify-webhook-id") or headers.get("x-shopify-event-id")
        if not delivery:
            raise MalformedDelivery(
                "no X-Shopify-Webhook-Id (or X-Shopify-Event-Id) header; podium deduplicates "
                "deliveries on it"
            )
        return delivery, headers.get("x-shopify-topic") or None
    if settings.scheme == "stripe":
        event_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(event_id, str) or not event_id:
            raise MalformedDelivery('the event has no "id"; podium deduplicates events on it')
        topic = payload.get("type")
        return event_id, topic if isinstance(topic, str) else None
    if settings.scheme == "klaviyo":
        return _klaviyo_identity(headers, payload)
    return _hmac_identity(settings, headers, body, payload)


def _klaviyo_identity(headers: Mapping[str, str], payload: Any) -> tuple[str, str | None]:
    webhook_id = headers.get("klaviyo-webhook-id", "")
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or meta.get("klaviyo_webhook_id") != webhook_id:
        raise BadSignature("meta.klaviyo_webhook_id does not match the Klaviyo-Webhook-Id header")
    data = payload.get("data")
    if not isinstance(data, list):
        raise MalformedDelivery('a Klaviyo delivery needs "data": a list of events')
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    topics = [item.get("topic") for item in data if isinstance(item, dict)]
    unique = sorted({t for t in topics if isinstance(t, str) and t})
    return f"{webhook_id}:{digest[:32]}", ",".join(unique) or None


def _hmac_identity(
    settings: WebhookSettings, headers: Mapping[str, str], body: bytes, payload: Any
) -> tuple[str, str | None]:
    if settings.id_header:
        delivery = headers.get(settings.id_header.lower(), "").strip()
        if not delivery:
            raise MalformedDelivery(f"no {settings.id_header} header; it names the delivery")
    elif settings.id_field:
        found, value = lookup(payload, settings.id_field)
        if not found or value in (None, "") or isinstance(value, dict | list):
            raise MalformedDelivery(f"the body has no {settings.id_field!r}; it names the delivery")
        delivery = str(value)
    else:
        delivery = "sha256:" + hashlib.sha256(body).hexdigest()
    topic: Any = None
    if settings.topic_header:
        topic = headers.get(settings.topic_header.lower()) or None
    elif settings.topic_field:
        topic = lookup(payload, settings.topic_field)[1]
    return delivery, topic if isinstance(topic, str) and topic else None


def kept_headers(settings: WebhookSettings, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers the inbox keeps: no credentials; the signature and credential-named
    headers redacted."""
    signature = SIGNATURE_HEADERS.get(settings.scheme, settings.header.lower())
    return {
        k: (REDACTED if k == signature or any(w in k for w in CREDENTIAL_WORDS) else v)
        for k, v in headers.items()
        if k not in DROPPED_HEADERS
    }
