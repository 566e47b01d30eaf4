"""A ``threepl`` connection's settings, described once, with every problem under its key.

.. code-block:: yaml

    connections:
      warehouse_3pl:
        type: threepl                       # a ShipBob-shaped fulfilment order API
        base_url: https://api.shipbob.com   # or the sandbox's /threepl
        token: "${THREEPL_TOKEN}"           # a personal access token (secret)
        channel_id: "100001"                # sent as shipbob_channel_id with each create
        version: "2026-07"                  # the API version in the path
        timeout: 30s                        # per request
        retries: 5                          # tries after a 5xx or a lost answer
        rate_limit: {requests: 150, window: 60s}   # ShipBob: 150 in any minute

Messages never quote the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.core.durations import parse_duration
from podium.settings.describe import DURATION, Option, Settings

VERSIONS = ("1.0", "2.0", "2025-07", "2026-01", "2026-07")
DEFAULT_VERSION = "2026-07"
DEFAULT_LIMIT, DEFAULT_WINDOW = 150, 60.0
_RATE_LIMIT = Settings(
    (
        Option("requests", {"type": "integer", "minimum": 1}, "requests per window (150)"),
        Option("window", DURATION, "the sliding window (60s)"),
    )
)
SETTINGS = Settings(
    (
        Option("type", {"const": "threepl"}, "a ShipBob-shaped 3PL order API", required=True),
        Option("base_url", {"type": "string", "pattern": "^https?://"},
               "the API's root, without the version: https://api.shipbob.com", required=True),
        Option("token", {"type": "string", "minLength": 1},
               "a personal access token, a secret: ${THREEPL_TOKEN}", required=True),
        Option("channel_id", {"type": ["string", "integer"]},
               "the channel orders are created in (header shipbob_channel_id)", required=True),
        Option("version", {"type": "string", "enum": list(VERSIONS)},
               f"the API version in each path (default {DEFAULT_VERSION})"),
        Option("timeout", DURATION, "per request (30s)"),
        Option("retries", {"type": "integer", "minimum": 0},
               "tries after a 5xx or a lost answer (5)"),
        Option("rate_limit", _RATE_LIMIT.json_schema(),
               "the account's sliding window: {requests: 150, window: 60s}"),
    ),
    doc="A threepl connection (a destination): base_url, token and channel_id are needed.",
)  # fmt: skip


@dataclass(frozen=True)
class ThreePLConfig:
    base_url: str
    token: str
    channel_id: str
    version: str = DEFAULT_VERSION
    timeout: float = 30.0
    retries: int = 5
    limit: int = DEFAULT_LIMIT
    window: float = DEFAULT_WINDOW

    @property
    def dated(self) -> bool:
        """Dated versions cancel with ``/order/{id}:cancel``, 1.0 and 2.0 with ``/cancel``."""
        return self.version not in ("1.0", "2.0")


def threepl_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every problem in a connection's settings, each starting with its key path."""
    return SETTINGS.problems({"type": "threepl", **settings})


def parse_threepl_settings(settings: Mapping[str, Any]) -> tuple[ThreePLConfig, list[str]]:
    """The typed config (defaults where a value is wrong) and every problem."""
    problems = threepl_problems(settings)
    limits = settings.get("rate_limit")
    limits = limits if isinstance(limits, Mapping) else {}
    config = ThreePLConfig(
        base_url=str(settings.get("base_url", "")).rstrip("/"),
        token=str(settings.get("token") or ""),
        channel_id=str(settings.get("channel_id") or ""),
        version=str(settings.get("version", DEFAULT_VERSION)),
        timeout=_seconds(settings.get("timeout"), 30.0),
        retries=_whole(settings.get("retries"), 5),
        limit=_whole(limits.get("requests"), DEFAULT_LIMIT) or DEFAULT_LIMIT,
        window=_seconds(limits.get("window"), DEFAULT_WINDOW) or DEFAULT_WINDOW,
    )
    return config, problems


def _seconds(value: Any, default: float) -> float:
    try:
        return parse_duration(value) if value is not None else default
    except ValueError:
        return default


def _whole(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
