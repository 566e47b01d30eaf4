"""``Podium-Signature: t=<unix seconds>,v1=<hex>``: how outgoing webhooks are signed.

The same scheme as Stripe's: ``v1`` is the hex HMAC-SHA256, keyed with the webhook's
secret, of ``f"{t}.{body}"`` where ``body`` is the raw bytes sent. A receiver recomputes it
over the raw body, compares in constant time, and refuses a ``t`` too far from its clock
(300 s either way) so a captured delivery cannot be replayed later. ``Podium-Event-Id`` is
the event's sequence number: receivers dedupe on it, since a delivery can arrive twice.
``Podium-Signature-256: sha256=<hex HMAC-SHA256 of the body>`` signs the body alone, for
receivers that can only check a plain HMAC header.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Podium-Signature"
#: the body alone, GitHub-style (``sha256=<hex>``), for receivers that only check a plain
#: HMAC header (podium's own ``verify: hmac``); no timestamp, so dedupe on the event id
BODY_HEADER = "Podium-Signature-256"
EVENT_ID_HEADER = "Podium-Event-Id"
EVENT_TYPE_HEADER = "Podium-Event-Type"
TOLERANCE = 300.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def body_signature_header(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(
    secret: str, header: str | None, body: bytes, now: float, tolerance: float = TOLERANCE
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` of
    ``now`` (any of several ``v1`` values may match, as during a secret rotation)."""
    if not header:
        return False
    timestamp, candidates = _parse(header)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    return timestamp, candidates
