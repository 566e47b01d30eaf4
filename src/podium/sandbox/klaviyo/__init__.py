"""A Klaviyo simulator: the brand's marketing account over Klaviyo's JSON:API.

    model.py       what the account holds, from the brand (profiles, metrics, events,
                   campaigns, flows, lists), as of any time
    resources.py   the JSON:API resources and how each endpoint lists them
    filters.py     the ``filter`` parameter
    limits.py      burst and steady rate limits per endpoint (Klaviyo's tiers)
    reports.py     campaign/flow values reports counted from the events
    report_api.py  the report endpoints' request checks and answer shape
    webhooks.py    system webhooks, signed
    app.py         KlaviyoSimulator: auth, revision, limits, routing, paging

``klaviyo_truth(brand, now)`` gives what a complete extract must hold.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from podium.sandbox.brand import Brand, Channel
from podium.sandbox.klaviyo.app import DEMO_API_KEY, DEMO_CREDENTIALS, KlaviyoSimulator
from podium.sandbox.klaviyo.limits import TIERS, Tier
from podium.sandbox.klaviyo.model import KlaviyoModel
from podium.sandbox.klaviyo.reports import values_report
from podium.sandbox.klaviyo.webhooks import sign

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CREDENTIALS",
    "TIERS",
    "KlaviyoSimulator",
    "Tier",
    "demo_connection",
    "klaviyo_truth",
    "sign",
]


def demo_connection(base_url: str) -> dict[str, Any]:
    """podium.yaml settings for a ``klaviyo`` connection to a simulator at ``base_url``."""
    return {"type": "klaviyo", "base_url": base_url, "api_key": DEMO_API_KEY,
            "revision": "2026-07-15"}  # fmt: skip


def klaviyo_truth(brand: Brand, now: datetime) -> dict[str, Any]:
    """What a complete extract as of ``now`` holds: rows per stream, events per metric,
    Placed Order count and ``$value`` sum (every DTC order created by then, deleted ones
    included: Klaviyo events are immutable), and the values reports of the last 365 days
    keyed by message id."""
    model = KlaviyoModel(brand)
    orders = [o for o in brand.orders(Channel.DTC) if o.created_at <= now]
    events = model.events_as_of(now)
    placed = model.metric_ids["Placed Order"]
    reports = {
        kind: {
            row.message: row.statistics
            for row in values_report(
                model, kind, now, now - timedelta(days=365), now, "Placed Order"
            )  # fmt: skip
        }
        for kind in ("campaign", "flow")
    }
    return {
        "profiles": sum(1 for c in brand.customers if c.created_at <= now),
        "metrics": len(model.metric_ids),
        "lists": len(model.lists),
        "campaigns": sum(1 for c in model.campaigns if c.created <= now),
        "flows": len(model.flows),
        "events": len(events),
        "events_by_metric": dict(Counter(e.metric for e in events)),
        "placed_orders": len(orders),
        "placed_order_value": sum((o.total for o in orders), Decimal("0.00")),
        "placed_order_metric_id": placed,
        "campaign_values": reports["campaign"],
        "flow_values": reports["flow"],
    }
