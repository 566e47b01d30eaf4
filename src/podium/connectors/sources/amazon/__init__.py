"""The ``amazon`` source: Amazon Selling Partner API orders, items, finances and fees.

config.py    settings (``amazon_problems``) and their defaults
auth.py      Login with Amazon as an ``httpx.Auth`` (token exchange, cache, one retry)
api.py       per-operation rate limits and ``NextToken`` paging
records.py   finance events and report rows as records
reports.py   settlement reports: getReports → getReport (while processing) → document
source.py    ``AmazonSource`` and its four streams
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from podium import clock
from podium.connectors.budgets import account_key
from podium.connectors.http import HttpClient, HttpRetry
from podium.connectors.source import misconfigured
from podium.connectors.sources.amazon.api import OperationLimiter, SpApi
from podium.connectors.sources.amazon.auth import LwaAuth
from podium.connectors.sources.amazon.config import (
    AmazonConfig,
    amazon_problems,
    parse_amazon_settings,
)
from podium.connectors.sources.amazon.reports import ReportReader
from podium.connectors.sources.amazon.source import STREAMS, AmazonSource

__all__ = ["STREAMS", "AmazonConfig", "AmazonSource", "amazon_problems", "open_amazon_source"]


def open_amazon_source(
    name: str,
    settings: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
    logger: logging.Logger | None = None,
    root: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = clock.now,
) -> AmazonSource:
    """An ``AmazonSource`` for connection ``name``; ``TerminalTaskError`` if misconfigured.

    ``sleep`` paces retries and report polling (rate limits always wait in real time);
    ``now`` is the time reads are relative to (tests pass the simulator's clock). ``root``
    is not used: nothing is read from disk."""
    config, problems = parse_amazon_settings(settings)
    known = [*secrets, *_secret_values(settings)]
    if config is None:
        raise misconfigured(name, problems, known)
    known.extend(config.secrets)
    secret = f"{config.client_id}\n{config.refresh_token}"  # the seller's authorisation
    host = urlsplit(config.base_url).netloc or config.base_url
    limits = OperationLimiter(name, account_key("amazon", host, secret=secret))
    api_client, documents = _clients(name, config, known, limits, logger, sleep)
    api = SpApi(api_client, limits, name)
    runner = ReportReader(
        api,
        documents,
        name,
        wait=config.report_wait,
        poll_interval=config.report_poll_interval,
        sleep=sleep,
        logger=logger,
    )
    return AmazonSource(name, config, api, runner, (api_client, documents), now)


def _clients(
    name: str,
    config: AmazonConfig,
    known: list[str],
    limits: OperationLimiter,
    logger: logging.Logger | None,
    sleep: Callable[[float], None],
) -> tuple[HttpClient, HttpClient]:
    """The SP-API client (LWA auth, per-operation limits) and the one that downloads
    report documents (no auth: a presigned URL is its own credential). Every token LWA
    hands out joins ``known``, the secrets both clients mask."""
    common: dict[str, Any] = {
        "secrets": known,
        "timeout": config.timeout,
        "retry": HttpRetry(attempts=config.retries + 1),
        "name": name,
        "logger": logger,
        "sleep": sleep,
    }
    clients: list[HttpClient] = []

    def on_token(token: str) -> None:
        known.append(token)
        for client in clients:
            client.mask.add(token)

    auth = LwaAuth(
        config.token_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        refresh_token=config.refresh_token,
        connection=name,
        on_token=on_token,
    )
    clients.extend(
        [HttpClient(config.base_url, limiter=limits, auth=auth, **common), HttpClient(**common)]
    )
    return clients[0], clients[1]


def _secret_values(settings: Mapping[str, Any]) -> list[str]:
    if not isinstance(settings, Mapping):
        return []
    keys = ("refresh_token", "client_id", "client_secret")
    return [v for k in keys if isinstance(v := settings.get(k), str)]
