"""The ``klaviyo`` source: profiles, events, metrics, lists, campaigns, flows and their
values reports from Klaviyo's JSON:API.

    config.py      settings (api_key, revision, base_url, streams, rate_limits …)
    endpoints.py   each stream's endpoint, cursor, page size and rate-limit tier
    pacing.py      WindowPacer: requests kept inside Klaviyo's burst and steady windows
    document.py    a page decoded into structs, its resources made flat records
    source.py      KlaviyoSource: paging (the next page fetched ahead), reports
    webhooks.py    verifying a system webhook's signature
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from podium.connectors.source import misconfigured
from podium.connectors.sources.klaviyo.config import KlaviyoConfig, parse_klaviyo_settings
from podium.connectors.sources.klaviyo.source import KlaviyoSource
from podium.connectors.sources.klaviyo.webhooks import verify_klaviyo_webhook

__all__ = [
    "KlaviyoConfig",
    "KlaviyoSource",
    "klaviyo_problems",
    "open_klaviyo_source",
    "verify_klaviyo_webhook",
]


def klaviyo_problems(settings: Any) -> list[str]:
    """Every problem in a ``klaviyo`` connection's settings, each starting with its key."""
    return parse_klaviyo_settings(settings)[1]


def open_klaviyo_source(
    name: str,
    settings: Mapping[str, Any],
    *,
    root: Path | None = None,
    secrets: Iterable[str] = (),
    logger: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    windows: tuple[float, float] = (1.0, 60.0),
) -> KlaviyoSource:
    """A ``KlaviyoSource`` for connection ``name``; ``TerminalTaskError`` if misconfigured.

    ``root`` is unused (nothing is read from disk). ``sleep`` and ``windows`` (the lengths
    of Klaviyo's burst and steady windows, in seconds) are for tests, which shrink them.
    """
    secrets = tuple(secrets)
    config, problems = parse_klaviyo_settings(settings)
    if config is None or problems:
        raise misconfigured(name, problems, secrets)
    return KlaviyoSource(name, config, secrets=secrets, logger=logger, sleep=sleep, windows=windows)
