"""Reading a ``shopify`` connection's settings, noting every problem under its key.

.. code-block:: yaml

    connections:
      shop:
        type: shopify
        shop: acme-goods                 # or acme-goods.myshopify.com
        access_token: "${SHOPIFY_TOKEN}" # the Admin API token (shpat_…), a secret
        api_version: "2025-10"           # YYYY-MM (Shopify's quarterly versions)
        base_url: https://acme-goods.myshopify.com   # default from shop
        lookback: 10m                    # re-read this much before the saved cursor
        bulk: true                       # Bulk Operations at all (false: page always)
        incremental: auto                # later reads: bulk, paged, or auto: bulk
                                         # once a stream's last read was large
        bulk_poll_interval: 5s
        bulk_timeout: 30m                # wait this long per run; then resume next run
        timeout: 30s                     # per request
        retries: 5
        streams: [orders, refunds]       # default: every stream
        order_history: all               # or last_60_days: accept that an app without
                                         # read_all_orders sees only the last 60 days

Each problem starts with its key, says what is expected and what was given; the access
token's value is never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.connectors.settings import (
    duration_setting,
    retries_setting,
    stream_selection,
    unknown_keys,
)
from podium.settings.describe import DURATION, Option, Settings

STREAM_NAMES = (
    "orders",
    "refunds",
    "transactions",
    "customers",
    "products",
    "inventory_levels",
)
ORDER_HISTORY = ("all", "last_60_days")
INCREMENTAL = ("auto", "bulk", "paged")
#: ``incremental: auto`` reads through a Bulk Operation once paging the stream's previous
#: read would cost this many query-cost points: two Standard-plan buckets, ≈ 10 s of
#: waiting at 100 points/s, about what a small bulk job takes to run
AUTO_BULK_POINTS = 2000
DEFAULT_VERSION = "2025-10"
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*(\.myshopify\.com)?$")
_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_DURATIONS = {"lookback": 600.0, "bulk_poll_interval": 5.0, "bulk_timeout": 1800.0, "timeout": 30.0}
SETTINGS = Settings(
    (
        Option("type", {"const": "shopify"}, "a Shopify store's Admin API", required=True),
        Option("shop", {"type": "string", "pattern": _SHOP.pattern},
               "the shop's name: acme-goods or acme-goods.myshopify.com"),
        Option("base_url", {"type": "string", "pattern": "^https?://"},
               "default https://SHOP.myshopify.com"),
        Option("access_token", {"type": "string", "minLength": 1},
               "the Admin API access token (shpat_…), a secret: ${SHOPIFY_TOKEN}", required=True),
        Option("api_version", {"type": "string", "pattern": _VERSION.pattern},
               f"YYYY-MM, one of Shopify's quarterly versions (default {DEFAULT_VERSION})"),
        Option("lookback", DURATION, "re-read this much before the saved cursor (10m)"),
        Option("bulk", {"type": "boolean"},
               "first and full syncs through Bulk Operations (false: never use them)"),
        Option("incremental", {"type": "string", "enum": list(INCREMENTAL)},
               "how reads after a stream's first go: bulk (a Bulk Operation: no query "
               "cost, a few seconds to start), paged (GraphQL pages: cost points, no wait), "
               "or auto (default): bulk once paging the stream's previous read would cost "
               f"{AUTO_BULK_POINTS:,} points or more"),
        Option("bulk_poll_interval", DURATION, "how often to ask about a bulk operation (5s)"),
        Option("bulk_timeout", DURATION, "wait this long per run, then resume next run (30m)"),
        Option("timeout", DURATION, "per request (30s)"),
        Option("retries", {"type": "integer", "minimum": 0}, "tries after a failure (5)"),
        Option("streams", {"type": "array", "minItems": 1, "items": {"enum": list(STREAM_NAMES)}},
               "the streams to read (default: every stream)"),
        Option("order_history", {"type": "string", "enum": list(ORDER_HISTORY)},
               "last_60_days: accept that an app without read_all_orders sees only those"),
    ),
    doc="A shopify connection: shop (or base_url) and access_token are needed.",
    also={"anyOf": [{"required": ["shop"]}, {"required": ["base_url"]}]},
)  # fmt: skip
KEYS = SETTINGS.names


@dataclass(frozen=True)
class ShopifyConfig:
    base_url: str
    access_token: str
    api_version: str
    lookback: float
    bulk: bool
    bulk_poll_interval: float
    bulk_timeout: float
    timeout: float
    retries: int
    streams: tuple[str, ...]
    order_history: str = "all"
    incremental: str = "auto"

    @property
    def graphql_path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"


def parse_shopify_settings(settings: Any) -> tuple[ShopifyConfig | None, list[str]]:
    """The typed config of a ``shopify`` connection, and every problem in it."""
    if not isinstance(settings, Mapping):
        return None, [f"expected a mapping of settings (shop:, access_token: …), got {settings!r}"]
    problems = unknown_keys(settings, KEYS)
    durations = {
        key: duration_setting(settings, key, default, problems)
        for key, default in _DURATIONS.items()
    }
    config = ShopifyConfig(
        base_url=_base_url(settings, problems),
        access_token=_token(settings, problems),
        api_version=_version(settings, problems),
        lookback=durations["lookback"],
        bulk=_flag(settings, "bulk", True, problems),
        bulk_poll_interval=durations["bulk_poll_interval"],
        bulk_timeout=durations["bulk_timeout"],
        timeout=durations["timeout"],
        retries=retries_setting(settings, problems),
        streams=stream_selection(settings.get("streams"), STREAM_NAMES, problems),
        order_history=_choice(
            settings,
            "order_history",
            ORDER_HISTORY,
            "all (stop when the app lacks read_all_orders) or last_60_days (read what "
            "Shopify shows without it)",
            problems,
        ),
        incremental=_choice(
            settings,
            "incremental",
            INCREMENTAL,
            "auto (bulk once a stream's reads are large), bulk or paged",
            problems,
        ),
    )
    if config.incremental == "bulk" and not config.bulk:
        problems.append(
            "incremental: bulk needs Bulk Operations, which bulk: false turns off; "
            "set bulk: true, or incremental: paged"
        )
    return config, problems


def _base_url(settings: Mapping[str, Any], problems: list[str]) -> str:
    shop, base_url = settings.get("shop"), settings.get("base_url")
    if shop is not None and not (isinstance(shop, str) and _SHOP.match(shop)):
        problems.append(
            f"shop: expected the shop's name (acme-goods or acme-goods.myshopify.com), got {shop!r}"
        )
        shop = None
    if base_url is not None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            problems.append(f"base_url: expected an http:// or https:// URL, got {base_url!r}")
            return ""
        return base_url.rstrip("/")
    if shop is None:
        if "shop" not in settings:
            problems.append("shop: is required (the shop's name, e.g. acme-goods), or set base_url")
        return ""
    return f"https://{str(shop).removesuffix('.myshopify.com')}.myshopify.com"


def _token(settings: Mapping[str, Any], problems: list[str]) -> str:
    token = settings.get("access_token")
    if token is None:
        problems.append(
            "access_token: is required (the Admin API access token, shpat_…; "
            'write "${SECRET_NAME}" to read it from the secrets)'
        )
        return ""
    if not isinstance(token, str) or not token.strip():
        problems.append(f"access_token: expected a non-empty string, got a {type(token).__name__}")
        return ""
    return token


def _version(settings: Mapping[str, Any], problems: list[str]) -> str:
    version = settings.get("api_version", DEFAULT_VERSION)
    if not isinstance(version, str) or not _VERSION.match(version):
        problems.append(
            f"api_version: expected a Shopify version YYYY-MM (month 01, 04, 07 or 10) or "
            f"unstable, got {version!r}"
        )
        return DEFAULT_VERSION
    return version


def _choice(
    settings: Mapping[str, Any],
    key: str,
    choices: tuple[str, ...],
    expected: str,
    problems: list[str],
) -> str:
    """``settings[key]`` if it is one of ``choices`` (the first is the default), else a
    problem saying what is ``expected``."""
    value = settings.get(key, choices[0])
    if value not in choices:
        problems.append(f"{key}: expected {expected}, got {value!r}")
        return choices[0]
    return str(value)


def _flag(settings: Mapping[str, Any], key: str, default: bool, problems: list[str]) -> bool:
    value = settings.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{key}: expected true or false, got {value!r}")
        return default
    return value
