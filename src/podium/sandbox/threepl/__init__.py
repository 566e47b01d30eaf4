"""A 3PL (third-party logistics) simulator: a fulfilment warehouse's order API, ShipBob-shaped.

    model.py    OrderBook: orders, validation, the duplicate policy, paging, cancelling
    limits.py   ShipBob's sliding-window rate limit (150 a minute)
    app.py      ThreePLSimulator: auth, limits, routes, ShipBob's error shapes

It is a destination, not a source: it starts empty and holds what a reverse-ETL sync sends.
``ThreePLSimulator.truth()`` (and ``/_sandbox/truth/threepl``) says what it holds: create
requests against distinct orders and reference ids, so a test can prove each order arrived
exactly once.
"""

from __future__ import annotations

from typing import Any

from podium.sandbox.threepl.app import (
    DEMO_CHANNEL_ID,
    DEMO_TOKEN,
    VERSIONS,
    ThreePLSimulator,
)
from podium.sandbox.threepl.limits import LIMIT, WINDOW, SlidingWindow
from podium.sandbox.threepl.model import Duplicates, Order, OrderBook, Status, validate

__all__ = [
    "DEMO_CHANNEL_ID",
    "DEMO_TOKEN",
    "LIMIT",
    "VERSIONS",
    "WINDOW",
    "Duplicates",
    "Order",
    "OrderBook",
    "SlidingWindow",
    "Status",
    "ThreePLSimulator",
    "demo_connection",
    "validate",
]


def demo_connection(base_url: str) -> dict[str, Any]:
    """podium.yaml settings for a ``threepl`` connection to a simulator at ``base_url``."""
    return {"type": "threepl", "base_url": base_url, "token": DEMO_TOKEN,
            "channel_id": DEMO_CHANNEL_ID, "version": "2026-01"}  # fmt: skip
