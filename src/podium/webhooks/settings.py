"""A connection's ``webhooks:`` settings: how its deliveries are verified and retried.

.. code-block:: yaml

    connections:
      shopify:
        type: shopify                    # verify: shopify by default (klaviyo likewise)
        shop: acme
        access_token: ${SHOPIFY_TOKEN}
        webhooks:
          secret: ${SHOPIFY_WEBHOOK_SECRET}
          previous_secret: ${SHOPIFY_OLD_SECRET}   # also accepted during a rotation
          max_body: 1MB                  # larger bodies are refused with 413 (1MB = 1 MiB)
          tolerance: 48h                 # an older X-Shopify-Triggered-At is refused (401)
          replay_window: 7d              # a body seen this recently is not taken again
      stripe:
        type: webhook                    # a connection that only receives webhooks
        webhooks: {verify: stripe, secret: ${STRIPE_WHSEC}, tolerance: 300s}
      erp:
        type: webhook
        webhooks:
          verify: hmac                   # any other sender: a signature header
          header: X-Signature
          prefix: "sha256="              # stripped from the header's value
          algorithm: sha256              # sha1 | sha256 | sha512
          encoding: hex                  # hex | base64
          secret: ${ERP_WEBHOOK_SECRET}
          id_header: X-Delivery-Id       # or id_field: a dotted path in the JSON body
          topic_header: X-Event          # or topic_field
          timestamp_header: X-Sent-At    # optional: refused when older than tolerance (300s)

Every key may also be given on any connection: ``max_attempts`` (default 5) and
``retry_delay`` (default 30s, doubled after each failed processing, at most 1h) decide
when an inbox entry whose processing keeps failing becomes ``dead``.

Replays. Shopify and ``hmac`` sign the body only: the delivery id and any timestamp travel
in headers nobody signs, so a captured delivery could be sent again under a fresh id. For
these two schemes a body already received on the connection within ``replay_window``
(default 7d) is not taken again, whatever its id (answered 200 ``{"status": "replay"}``,
see ``podium.server.webhooks``), and a sent time (Shopify's ``X-Shopify-Triggered-At``,
an ``hmac`` connection's ``timestamp_header``) older than ``tolerance`` is refused.
Stripe and Klaviyo sign their timestamp, so their ``tolerance`` already bounds replays.

Problems start with their key path (``webhooks.secret: …``) so that ``podium validate``
reports them at that key's line. Messages never quote a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.core.durations import parse_duration
from podium.settings.describe import POSITIVE_DURATION, Option, Settings

SCHEMES = ("shopify", "stripe", "klaviyo", "hmac")
#: connection types whose senders sign one way: ``verify:`` may be left out
DEFAULT_SCHEMES = {"shopify": "shopify", "klaviyo": "klaviyo"}
#: a connection of this type only receives webhooks (it is not a source)
WEBHOOK_TYPE = "webhook"
ALGORITHMS = ("sha1", "sha256", "sha512")
ENCODINGS = ("hex", "base64")
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_TOLERANCE = 300.0
#: Shopify retries a delivery for up to 48 hours (with its first X-Shopify-Triggered-At)
SHOPIFY_TOLERANCE = 48 * 3600.0
DEFAULT_REPLAY_WINDOW = 7 * 24 * 3600.0
#: schemes whose signature covers the body only: their bodies are deduplicated too
BODY_SIGNED = ("shopify", "hmac")
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_DELAY = 30.0
COMMON_KEYS = ("verify", "secret", "previous_secret", "secrets", "max_body")
RETRY_KEYS = ("max_attempts", "retry_delay")
SCHEME_KEYS: dict[str, tuple[str, ...]] = {
    "shopify": ("tolerance", "replay_window"),
    "stripe": ("tolerance",),
    "klaviyo": ("tolerance",),
    "hmac": (
        "header",
        "algorithm",
        "encoding",
        "prefix",
        "id_header",
        "id_field",
        "topic_header",
        "topic_field",
        "timestamp_header",
        "tolerance",
        "replay_window",
    ),
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "kb": 1024, "kib": 1024, "mb": 1024**2, "mib": 1024**2}
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_SECRET = {"type": "string", "minLength": 1}
_HEADER_NAME = {"type": "string", "pattern": f"^{_HEADER.pattern}$"}
_FIELD = {"type": "string", "minLength": 1}
_OPTIONS = {
    "verify": Option("verify", {"type": "string", "enum": list(SCHEMES)},
                     "how deliveries are signed (shopify and klaviyo connections: their own)"),
    "secret": Option("secret", _SECRET, "the signing secret: ${WEBHOOK_SECRET}"),
    "previous_secret": Option("previous_secret", _SECRET, "also accepted during a rotation"),
    "secrets": Option("secrets", {"type": "array", "items": _SECRET}, "more accepted secrets"),
    "max_body": Option("max_body", {"anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([bB]|[kKmM][iI]?[bB])?\s*$"},
    ]}, "larger bodies are refused with 413: 1MB (= 1 MiB), 256KB or bytes"),
    "max_attempts": Option("max_attempts", {"type": "integer", "minimum": 1},
                           f"processing tries before a delivery is dead ({DEFAULT_MAX_ATTEMPTS})"),
    "retry_delay": Option("retry_delay", POSITIVE_DURATION, "the first retry's wait; doubles, up to 1h"),
    "tolerance": Option("tolerance", POSITIVE_DURATION, "a delivery sent longer ago is refused"),
    "replay_window": Option("replay_window", POSITIVE_DURATION,
                            "a body seen this recently is not taken again (7d)"),
    "header": Option("header", _HEADER_NAME, "hmac: the header carrying the signature"),
    "algorithm": Option("algorithm", {"type": "string", "enum": list(ALGORITHMS)}, "hmac"),
    "encoding": Option("encoding", {"type": "string", "enum": list(ENCODINGS)}, "hmac"),
    "prefix": Option("prefix", {"type": "string", "minLength": 1}, "hmac: stripped from the header's value"),
    "id_header": Option("id_header", _HEADER_NAME, "hmac: the delivery id's header"),
    "id_field": Option("id_field", _FIELD, "hmac: or the id's dotted path in the body"),
    "topic_header": Option("topic_header", _HEADER_NAME, "hmac: the topic's header"),
    "topic_field": Option("topic_field", _FIELD, "hmac: or the topic's dotted path"),
    "timestamp_header": Option("timestamp_header", _HEADER_NAME,
                               "hmac: the sent time, refused when older than tolerance"),
}  # fmt: skip


def _webhooks_settings() -> Settings:
    """Every key above, once; which apply depends on ``verify`` (``allOf`` below)."""
    names = dict.fromkeys(
        (*COMMON_KEYS, *RETRY_KEYS, *SCHEME_KEYS["hmac"], *SCHEME_KEYS["shopify"])
    )
    rules: list[dict[str, Any]] = [
        {
            "if": {"properties": {"verify": {"const": scheme}}, "required": ["verify"]},
            "then": {"propertyNames": {"enum": [*COMMON_KEYS, *RETRY_KEYS, *keys]}},
        }
        for scheme, keys in SCHEME_KEYS.items()
    ]
    rules.append(
        {
            "if": {"properties": {"verify": {"const": "hmac"}}, "required": ["verify"]},
            "then": {
                "required": ["header"],
                "dependentRequired": {"tolerance": ["timestamp_header"]},
            },
        }
    )
    return Settings(
        tuple(_OPTIONS[name] for name in names),
        doc="How this connection's webhook deliveries are verified, deduplicated and retried.",
        also={
            "allOf": rules,
            "anyOf": [{"required": [k]} for k in ("secret", "previous_secret", "secrets")],
        },
    )


WEBHOOKS = _webhooks_settings()


@dataclass(frozen=True)
class WebhookSettings:
    """How one connection's deliveries are verified, identified and retried."""

    connection: str
    scheme: str
    secrets: tuple[str, ...]
    max_body: int = DEFAULT_MAX_BODY
    tolerance: float | None = None  # stripe: 300s; shopify: 48h; klaviyo, hmac: when set
    replay_window: float = 0.0  # shopify, hmac: a body seen this recently is a replay
    timestamp_header: str | None = None  # hmac: an unsigned sent time, checked vs tolerance
    header: str = ""  # hmac: the signature header
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    id_header: str | None = None
    id_field: str | None = None
    topic_header: str | None = None
    topic_field: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_delay: float = DEFAULT_RETRY_DELAY

    def delay_after(self, attempts: int) -> float:
        """Seconds before processing again after ``attempts`` failed ones (1, 2, …)."""
        return float(min(self.retry_delay * 2 ** max(attempts - 1, 0), 3600.0))


def has_webhooks(connection: Mapping[str, Any]) -> bool:
    return connection.get("webhooks") is not None or connection.get("type") == WEBHOOK_TYPE


def webhook_config_problems(connection: Mapping[str, Any]) -> list[str]:
    """Every problem with a connection's webhook settings (none when it has none)."""
    problems = _webhook_type_problems(connection)
    if connection.get("webhooks") is not None:
        parse_webhook_settings("", connection, problems)
    return problems


def webhook_settings(name: str, connection: Mapping[str, Any]) -> WebhookSettings | None:
    """The settings of a connection that receives webhooks; None if it does not or they
    have problems (``podium validate`` reports those)."""
    if connection.get("webhooks") is None:
        return None
    problems: list[str] = []
    settings = parse_webhook_settings(name, connection, problems)
    return None if problems else settings


def all_webhook_settings(
    connections: Mapping[str, Mapping[str, Any]],
) -> dict[str, WebhookSettings]:
    """Every connection that receives webhooks, by name."""
    found = {name: webhook_settings(name, c) for name, c in connections.items()}
    return {name: s for name, s in found.items() if s is not None}


def _webhook_type_problems(connection: Mapping[str, Any]) -> list[str]:
    if connection.get("type") != WEBHOOK_TYPE:
        return []
    problems = [
        f"{key}: unknown key; a connection of type webhook takes only type: and webhooks:"
        for key in connection
        if key not in ("type", "webhooks")
    ]
    if connection.get("webhooks") is None:
        problems.append(
            "webhooks: required for a connection of type webhook, e.g. "
            "webhooks: {verify: stripe, secret: ${STRIPE_WEBHOOK_SECRET}}"
        )
    return problems


def parse_webhook_settings(
    name: str, connection: Mapping[str, Any], problems: list[str]
) -> WebhookSettings:
    """The typed settings under ``connection["webhooks"]``; problems go to ``problems``."""
    raw = connection.get("webhooks")
    if not isinstance(raw, Mapping):
        problems.append("webhooks: expected a mapping such as {secret: ${WEBHOOK_SECRET}}")
        return WebhookSettings(name, "hmac", ())
    scheme = _scheme(raw, connection.get("type"), problems)
    _unknown_keys(raw, scheme, problems)
    return WebhookSettings(
        name,
        scheme,
        _secrets(raw, problems),
        max_body=_size(raw, problems),
        max_attempts=_whole(raw, "max_attempts", DEFAULT_MAX_ATTEMPTS, problems),
        retry_delay=_duration(raw, "retry_delay", DEFAULT_RETRY_DELAY, problems)
        or DEFAULT_RETRY_DELAY,
        **_scheme_settings(raw, scheme, problems),
    )


def _scheme(raw: Mapping[str, Any], kind: Any, problems: list[str]) -> str:
    default = DEFAULT_SCHEMES.get(str(kind))
    value = raw.get("verify", default)
    if value in SCHEMES:
        return str(value)
    if value is None:
        problems.append(
            f"webhooks.verify: required for a connection of type {kind!r}; "
            f"one of {', '.join(SCHEMES)}"
        )
    else:
        problems.append(f"webhooks.verify: expected one of {', '.join(SCHEMES)}, got {value!r}")
    return "hmac"


def _unknown_keys(raw: Mapping[str, Any], scheme: str, problems: list[str]) -> None:
    allowed = (*COMMON_KEYS, *RETRY_KEYS, *SCHEME_KEYS[scheme])
    for key in raw:
        if key in allowed:
            continue
        owners = [s for s, keys in SCHEME_KEYS.items() if key in keys]
        if owners:
            problems.append(f"webhooks.{key}: applies only to verify: {' or '.join(owners)}")
        else:
            problems.append(f"webhooks.{key}: unknown key; expected one of {', '.join(allowed)}")


def _secrets(raw: Mapping[str, Any], problems: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for key in ("secret", "previous_secret"):
        if key in raw:
            value = raw[key]
            if isinstance(value, str) and value:
                found.append(value)
            else:
                problems.append(f"webhooks.{key}: expected a non-empty secret, e.g. ${{VAR}}")
    listed = raw.get("secrets", [])
    if not isinstance(listed, list) or not all(isinstance(s, str) and s for s in listed):
        problems.append("webhooks.secrets: expected a list of non-empty secrets")
        listed = []
    found.extend(listed)
    if not found and not any(p.startswith("webhooks.secret") for p in problems):
        problems.append(
            "webhooks.secret: required; the signing secret the sender shows you, "
            "e.g. secret: ${WEBHOOK_SECRET}"
        )
    return tuple(dict.fromkeys(found))


def _size(raw: Mapping[str, Any], problems: list[str]) -> int:
    value = raw.get("max_body")
    if value is None:
        return DEFAULT_MAX_BODY
    size = parse_size(value)
    if size is None or size <= 0:
        problems.append(
            f"webhooks.max_body: expected a size such as 1MB, 256KB or a number of bytes, "
            f"got {value!r}"
        )
        return DEFAULT_MAX_BODY
    return size


def parse_size(value: Any) -> int | None:
    """Bytes in ``1MB`` (= 1 MiB), ``256KB``, ``512`` …; None when it is not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(str(value).strip())
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def _whole(raw: Mapping[str, Any], key: str, default: int, problems: list[str]) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"webhooks.{key}: expected a whole number of at least 1, got {value!r}")
        return default
    return int(value)


def _duration(
    raw: Mapping[str, Any], key: str, default: float | None, problems: list[str]
) -> float | None:
    value = raw.get(key)
    if value is None:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        problems.append(f"webhooks.{key}: {exc}")
        return default
    if seconds <= 0:
        problems.append(f"webhooks.{key}: must be more than zero, got {value!r}")
        return default
    return seconds


def _scheme_settings(raw: Mapping[str, Any], scheme: str, problems: list[str]) -> dict[str, Any]:
    if scheme == "stripe":
        return {"tolerance": _duration(raw, "tolerance", DEFAULT_TOLERANCE, problems)}
    if scheme == "klaviyo":
        return {"tolerance": _duration(raw, "tolerance", None, problems)}
    window = _duration(raw, "replay_window", DEFAULT_REPLAY_WINDOW, problems)
    if scheme == "shopify":
        tolerance = _duration(raw, "tolerance", SHOPIFY_TOLERANCE, problems)
        return {"tolerance": tolerance, "replay_window": window}
    header = _header(raw, "header", problems, required=True)
    own: dict[str, Any] = {
        "header": header or "",
        "algorithm": _choice(raw, "algorithm", ALGORITHMS, "sha256", problems),
        "encoding": _choice(raw, "encoding", ENCODINGS, "hex", problems),
        "prefix": _text(raw, "prefix", problems) or "",
        "replay_window": window,
    }
    for key in ("id_header", "topic_header", "timestamp_header"):
        own[key] = _header(raw, key, problems)
    for key in ("id_field", "topic_field"):
        own[key] = _text(raw, key, problems)
    if own["id_header"] and own["id_field"]:
        problems.append("webhooks.id_field: give id_header or id_field, not both")
    if own["topic_header"] and own["topic_field"]:
        problems.append("webhooks.topic_field: give topic_header or topic_field, not both")
    own["tolerance"] = _duration(raw, "tolerance", DEFAULT_TOLERANCE, problems)
    if "tolerance" in raw and not own["timestamp_header"]:
        problems.append("webhooks.tolerance: applies with timestamp_header, the sent time")
    return own


def _header(
    raw: Mapping[str, Any], key: str, problems: list[str], required: bool = False
) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(
                f"webhooks.{key}: required with verify: hmac; the header carrying the "
                "signature, e.g. X-Signature"
            )
        return None
    if not isinstance(value, str) or not _HEADER.fullmatch(value):
        problems.append(f"webhooks.{key}: expected an HTTP header name, got {value!r}")
        return None
    return value


def _text(raw: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"webhooks.{key}: expected a non-empty string, got {value!r}")
        return None
    return value


def _choice(
    raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str, problems: list[str]
) -> str:
    value = raw.get(key, default)
    if value in allowed:
        return str(value)
    problems.append(f"webhooks.{key}: expected one of {', '.join(allowed)}, got {value!r}")
    return default
