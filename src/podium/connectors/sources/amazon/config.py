"""Reading an ``amazon`` connection's settings, noting every problem under its key.

.. code-block:: yaml

    connections:
      amazon:
        type: amazon
        refresh_token: ${AMAZON_REFRESH_TOKEN}     # LWA refresh token of the authorization
        client_id: ${AMAZON_CLIENT_ID}             # the app's LWA client id
        client_secret: ${AMAZON_CLIENT_SECRET}
        marketplace_ids: [ATVPDKIKX0DER]          # default: amazon.com
        region: na                                 # na | eu | fe: picks the two URLs below
        base_url: https://sellingpartnerapi-na.amazon.com
        token_url: https://api.amazon.com/auth/o2/token
        start_date: 2026-01-01                     # first sync reads from here (default 90 days)
        report_wait: 15m                           # a run waits this long for a settlement
                                                   # report still processing, then leaves
                                                   # it to the next run
        report_poll_interval: 30s
        timeout: 30s
        retries: 5

Secret values never appear in a problem: a wrong secret is described by its type only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from podium.connectors.settings import (
    duration_setting,
    retries_setting,
    unknown_keys,
)
from podium.settings.describe import DURATION, Option, Settings

REGIONS = {
    "na": ("https://sellingpartnerapi-na.amazon.com", "https://api.amazon.com/auth/o2/token"),
    "eu": ("https://sellingpartnerapi-eu.amazon.com", "https://api.amazon.co.uk/auth/o2/token"),
    "fe": ("https://sellingpartnerapi-fe.amazon.com", "https://api.amazon.co.jp/auth/o2/token"),
}
SECRET_KEYS = ("refresh_token", "client_id", "client_secret")
_SECRET = {"type": "string", "minLength": 1}
_URL = {"type": "string", "pattern": "^https?://"}
SETTINGS = Settings(
    (
        *(
            Option(key, _SECRET, f"the LWA {key.replace('_', ' ')}, a secret: "
                   f"${{AMAZON_{key.upper()}}}", required=True)
            for key in SECRET_KEYS
        ),
        Option("type", {"const": "amazon"}, "Amazon Selling Partner API", required=True),
        Option("marketplace_ids", {"anyOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        ]}, "marketplace ids, e.g. [ATVPDKIKX0DER] (amazon.com, the default)"),
        Option("region", {"type": "string", "enum": list(REGIONS)},
               "na, eu or fe: picks base_url and token_url"),
        Option("base_url", _URL, "default: the region's SP-API endpoint"),
        Option("token_url", _URL, "default: the region's LWA token endpoint"),
        Option("start_date", {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}"},
               "the first sync reads from here, an ISO date (default 90 days back)"),
        Option("report_wait", DURATION, "wait this long for a report still processing (15m)"),
        Option("report_poll_interval", DURATION, "how often to ask about a report (30s)"),
        Option("timeout", DURATION, "per request (30s)"),
        Option("retries", {"type": "integer", "minimum": 0}, "tries after a failure (5)"),
    ),
    doc="An amazon connection: the seller authorization's LWA credentials are needed.",
)  # fmt: skip
KEYS = SETTINGS.names
DEFAULT_MARKETPLACES = ("ATVPDKIKX0DER",)


@dataclass(frozen=True)
class AmazonConfig:
    refresh_token: str
    client_id: str
    client_secret: str
    marketplace_ids: tuple[str, ...] = DEFAULT_MARKETPLACES
    region: str = "na"
    base_url: str = REGIONS["na"][0]
    token_url: str = REGIONS["na"][1]
    start_date: datetime | None = None
    report_wait: float = 900.0
    report_poll_interval: float = 30.0
    timeout: float = 30.0
    retries: int = 5

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.refresh_token, self.client_id, self.client_secret)


def amazon_problems(settings: Any) -> list[str]:
    """Every problem in an ``amazon`` connection's settings, each starting with its key."""
    return parse_amazon_settings(settings)[1]


def parse_amazon_settings(settings: Any) -> tuple[AmazonConfig | None, list[str]]:
    if not isinstance(settings, Mapping):
        return None, [f"expected a mapping of settings, got {type(settings).__name__}"]
    problems = unknown_keys(settings, KEYS)
    secrets = {key: _secret(settings, key, problems) for key in SECRET_KEYS}
    region = settings.get("region", "na")
    if not isinstance(region, str) or region not in REGIONS:
        problems.append(f"region: expected one of {', '.join(REGIONS)}, got {region!r}")
        region = "na"
    config = AmazonConfig(
        **secrets,
        marketplace_ids=_marketplaces(settings.get("marketplace_ids"), problems),
        region=region,
        base_url=_url(settings, "base_url", REGIONS[region][0], problems),
        token_url=_url(settings, "token_url", REGIONS[region][1], problems),
        start_date=_start(settings.get("start_date"), problems),
        report_wait=duration_setting(settings, "report_wait", 900.0, problems),
        report_poll_interval=duration_setting(settings, "report_poll_interval", 30.0, problems),
        timeout=duration_setting(settings, "timeout", 30.0, problems),
        retries=retries_setting(settings, problems),
    )
    return (None if problems else config), problems


def _secret(settings: Mapping[str, Any], key: str, problems: list[str]) -> str:
    value = settings.get(key)
    if value is None or value == "":
        problems.append(
            f"{key}: required; the seller authorization's LWA {key.replace('_', ' ')} "
            f"(reference a secret, e.g. ${{AMAZON_{key.upper()}}})"
        )
        return ""
    if not isinstance(value, str):
        problems.append(f"{key}: expected a string (a secret), got a {type(value).__name__}")
        return ""
    return value


def _marketplaces(value: Any, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_MARKETPLACES
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) and v for v in value)
    ):
        problems.append(
            f"marketplace_ids: expected a list of marketplace ids like [ATVPDKIKX0DER], got {value!r}"
        )
        return DEFAULT_MARKETPLACES
    return tuple(value)


def _url(settings: Mapping[str, Any], key: str, default: str, problems: list[str]) -> str:
    value = settings.get(key, default)
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        problems.append(f"{key}: expected an http(s) URL, got {value!r}")
        return default
    return value.rstrip("/")


def _start(value: Any, problems: list[str]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            problems.append(
                f"start_date: expected an ISO date or date-time like 2026-01-01, got {value!r}"
            )
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
