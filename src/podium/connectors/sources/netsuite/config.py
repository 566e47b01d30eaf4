"""Reading a ``netsuite`` connection's settings, noting every problem under its key path.

.. code-block:: yaml

    connections:
      erp:
        type: netsuite
        account_id: "1234567_SB1"          # realm 1234567_SB1, host 1234567-sb1
        auth:                              # token-based authentication (OAuth 1.0a)
          method: tba
          consumer_key: ${NS_CONSUMER_KEY}
          consumer_secret: ${NS_CONSUMER_SECRET}
          token_id: ${NS_TOKEN_ID}
          token_secret: ${NS_TOKEN_SECRET}
        # or OAuth 2.0 client credentials:
        # auth: {method: oauth2, client_id: …, certificate_id: …, private_key: ${NS_KEY_PEM}}
        base_url: https://1234567-sb1.suitetalk.api.netsuite.com   # the default
        timezone: America/Los_Angeles      # the account's Time Zone preference
        max_concurrent_requests: 4         # SuiteQL requests in flight, per connection
        # (the shared "concurrency:" key is something else: extract tasks at once)
        page_size: 1000                    # SuiteQL rows per page (at most 1000; NetSuite
                                           # serves at most 1000 pages, so 5 reaches 5,000)
        max_rows_per_query: 100000         # SuiteQL's ceiling; queries are sliced under it
        lookback: 10m                      # re-read before the saved cursor
        start_date: "2020-01-01"           # optional: nothing modified before is read
        timeout: 60s
        retries: 5
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from podium.connectors.sources.rest_config import _Reader
from podium.settings.describe import DURATION, Option, Settings

AUTH_KEYS = {
    "tba": ("method", "consumer_key", "consumer_secret", "token_id", "token_secret"),
    "oauth2": ("method", "client_id", "certificate_id", "private_key"),
}
DEFAULT_TIMEZONE = "America/Los_Angeles"


def _auth_schema() -> dict[str, Any]:
    """One mapping per ``method``: token-based (tba) or OAuth 2.0 client credentials."""
    secret = {"type": "string", "minLength": 1}
    branches = []
    for method, keys in AUTH_KEYS.items():
        properties: dict[str, Any] = {key: secret for key in keys[1:]}
        branches.append(
            {
                "type": "object",
                "properties": {"method": {"const": method}, **properties},
                "required": list(keys),
                "additionalProperties": False,
            }
        )
    return {
        "type": "object",
        "properties": {"method": {"enum": list(AUTH_KEYS)}},
        "required": ["method"],
        "oneOf": branches,
    }


SETTINGS = Settings(
    (
        Option("type", {"const": "netsuite"}, "NetSuite through SuiteQL", required=True),
        Option("account_id", {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
               "the account id, e.g. 1234567_SB1", required=True),
        Option("auth", _auth_schema(), "{method: tba, consumer_key, consumer_secret, token_id, "
               "token_secret} or {method: oauth2, client_id, certificate_id, private_key}",
               required=True),
        Option("base_url", {"type": "string", "pattern": "^https?://"},
               "default https://ACCOUNT.suitetalk.api.netsuite.com"),
        Option("timezone", {"type": "string"},
               f"the account's Time Zone preference (default {DEFAULT_TIMEZONE})"),
        Option("max_concurrent_requests", {"type": "integer", "minimum": 1},
               "SuiteQL requests in flight, per connection (4)"),
        Option("page_size", {"type": "integer", "minimum": 5, "maximum": 1000},
               "SuiteQL rows per page (at most 1000)"),
        Option("max_rows_per_query", {"type": "integer", "minimum": 10},
               "SuiteQL's ceiling; queries are sliced under it (100000)"),
        Option("lookback", DURATION, "re-read this much before the saved cursor (10m)"),
        Option("start_date", {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}"}, "nothing modified before is read (ISO date)"),
        Option("timeout", DURATION, "per request (60s)"),
        Option("retries", {"type": "integer", "minimum": 0}, "tries after a failure (5)"),
    ),
    doc="A netsuite connection: account_id and auth are needed.",
)  # fmt: skip
CONNECTION_KEYS = SETTINGS.names


@dataclass(frozen=True)
class NetSuiteConfig:
    account_id: str
    auth_method: str
    auth: Mapping[str, str]
    base_url: str
    timezone: ZoneInfo
    max_concurrent_requests: int
    page_size: int
    max_rows: int
    lookback: float
    start_date: datetime | None
    timeout: float
    retries: int

    def secrets(self) -> list[str]:
        """Every credential value, for masking (the method name is not one)."""
        return [v for k, v in self.auth.items() if k != "method" and v]


def default_base_url(account_id: str) -> str:
    """``1234567_SB1`` → ``https://1234567-sb1.suitetalk.api.netsuite.com``."""
    host = account_id.strip().lower().replace("_", "-")
    return f"https://{host}.suitetalk.api.netsuite.com"


def parse_netsuite_settings(settings: Any) -> tuple[NetSuiteConfig | None, list[str]]:
    """The typed config of a ``netsuite`` connection, and every problem in it."""
    problems: list[str] = []
    if not isinstance(settings, Mapping):
        return None, [f"expected a mapping of settings (account_id:, auth: …), got {settings!r}"]
    top = _Reader(settings, "", problems)
    top.unknown(CONNECTION_KEYS)
    account = top.text("account_id", "", required=True) or ""
    if account and not account.replace("_", "").replace("-", "").isalnum():
        top.problem("account_id", f"expected an account id like 1234567_SB1, got {account!r}")
    method, auth = _auth(top)
    written = top.text("base_url")
    base_url = written if written is not None else default_base_url(account) if account else ""
    if not base_url.startswith(("http://", "https://")):
        top.problem("base_url", f"expected an http:// or https:// URL, got {base_url!r}")
    size = int(top.number("page_size", 1000, integer=True, minimum=5) or 1000)
    if size > 1000:
        top.problem("page_size", f"expected at most 1000 (SuiteQL's page maximum), got {size}")
    config = NetSuiteConfig(
        account_id=account,
        auth_method=method,
        auth=auth,
        base_url=base_url.rstrip("/"),
        timezone=_zone(top),
        max_concurrent_requests=int(
            top.number("max_concurrent_requests", 4, integer=True, minimum=1) or 4
        ),
        page_size=min(size, 1000),
        max_rows=int(top.number("max_rows_per_query", 100_000, integer=True, minimum=10) or 1),
        lookback=top.duration("lookback", 600.0),
        start_date=_start(top),
        timeout=top.duration("timeout", 60.0),
        retries=int(top.number("retries", 5, integer=True) or 0),
    )
    return config, problems


def _auth(top: _Reader) -> tuple[str, dict[str, str]]:
    reader = top.sub("auth")
    if reader is None:
        if "auth" not in top.data:
            top.problem(
                "auth", "is required: {method: tba, consumer_key, …} or {method: oauth2, …}"
            )
        return "tba", {}
    method = reader.choice("method", tuple(AUTH_KEYS), None)
    if "method" not in reader.data:
        reader.problem("method", "is required: tba or oauth2")
    if method is None:
        return "tba", {}
    reader.unknown(AUTH_KEYS[method])
    values = {key: reader.text(key, "", required=True) or "" for key in AUTH_KEYS[method][1:]}
    key = values.get("private_key", "")
    if key and "-----BEGIN" not in key:
        reader.problem("private_key", "expected a PEM private key (-----BEGIN PRIVATE KEY-----)")
    return method, values


def _zone(top: _Reader) -> ZoneInfo:
    name = top.text("timezone", DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        top.problem("timezone", f"expected an IANA time zone like America/New_York, got {name!r}")
        return ZoneInfo(DEFAULT_TIMEZONE)


def _start(top: _Reader) -> datetime | None:
    text = top.text("start_date")
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        top.problem("start_date", f"expected an ISO date like 2024-01-01, got {text!r}")
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
