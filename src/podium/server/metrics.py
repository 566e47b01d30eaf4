"""``GET /metrics`` (Prometheus text format) and the timing of webhook acknowledgements.

``/metrics`` follows the server's access rules like any read-only route: it needs the
``viewer`` role. Without users (local mode) it answers on loopback to anyone; with access
control on, a scraper sends a viewer's API token (``Authorization: Bearer pdm_…``;
Prometheus: ``authorization: {credentials_file: …}``). Anonymous scrapes get 401.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.core.masking import Masker
from podium.observe.metrics import Metrics
from podium.server import auth

PATH = "/metrics"
_WEBHOOKS = "/webhooks/"


def add_metrics_route(app: FastAPI, metrics: Metrics, mask: Masker) -> None:
    @app.get(
        PATH,
        dependencies=[Depends(auth.require("viewer"))],
        response_class=Response,
        include_in_schema=False,  # Prometheus' text format, not the JSON API
    )
    def scrape() -> Response:
        text = mask(metrics.render().decode())
        return Response(text, media_type=CONTENT_TYPE_LATEST)


class WebhookTiming:
    """ASGI middleware: times ``POST /webhooks/{connection}`` from its arrival to a 2xx
    answer starting (``podium_webhook_ack_seconds``). Unknown connections count as
    ``unknown``, so a stranger's paths cannot grow the label set."""

    def __init__(self, app: ASGIApp, metrics: Metrics, connections: Collection[str]) -> None:
        self.app, self.metrics, self.connections = app, metrics, frozenset(connections)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(_WEBHOOKS):
            await self.app(scope, receive, send)
            return
        name = path[len(_WEBHOOKS) :]
        connection = name if name in self.connections else "unknown"
        received = time.monotonic()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                elapsed = time.monotonic() - received
                self.metrics.webhook_ack.labels(connection).observe(elapsed)
            await send(message)

        await self.app(scope, receive, timed)


def install_metrics(app: FastAPI, metrics: Metrics, mask: Masker, connections: Any) -> None:
    """``/metrics`` and the webhook timing on ``app``."""
    add_metrics_route(app, metrics, mask)
    app.add_middleware(WebhookTiming, metrics=metrics, connections=list(connections))
