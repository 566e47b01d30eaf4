"""How fast the demo's simulators answer, and the connection settings that go with it.

The simulators enforce the real APIs' limits: Amazon's 0.5 order-items calls a second,
Shopify's 100 query-cost points a second, Klaviyo's two values reports a minute. Two
daily runs a few seconds apart would spend minutes waiting on them, so the demo raises
them (``simulator_options``) and tells its connections (``connection_settings``): poll
often, and pace Klaviyo's reports to the raised limit. `podium sandbox start --fast`
raises the same limits (Amazon's 100x rather than 1000x), so the project keeps working
against it at about the same speed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from podium.sandbox.service import FAST_KLAVIYO_REPORTS_PER_MINUTE as KLAVIYO_REPORTS_PER_MINUTE
from podium.sandbox.service import fast_options

AMAZON_RATE_FACTOR = 1000.0
#: what the demo's Shopify simulator signs its webhooks with, and podium verifies them by
WEBHOOK_SECRET = "podium-demo-shopify-webhooks"
REPORT_POLL_INTERVAL_S = 1


def simulator_options() -> dict[str, dict[str, Any]]:
    """``start_sandbox(options=…)`` for the demo; Amazon's report is ready at the first
    poll (``slow_amazon_report`` makes it slow)."""
    from podium.sandbox.amazon import RATE_LIMITS

    rates = {op: (rps * AMAZON_RATE_FACTOR, burst) for op, (rps, burst) in RATE_LIMITS.items()}
    return {
        **fast_options(),
        "amazon": {"rate_limits": rates, "report_polls": 1},
        # ShipBob's 150 a minute, on real time: orders reach it as webhooks arrive
        "threepl": {"timer": time.monotonic},
    }


def slow_amazon_report(sandbox: Any, seconds: int) -> None:
    """A payout today: Amazon makes a settlement report now, and from now on its reports
    take about ``seconds`` to be ready (one poll a ``REPORT_POLL_INTERVAL_S``), as they
    often do."""
    amazon = sandbox.simulator("amazon")
    amazon.reports.polls_to_done = max(1, seconds // REPORT_POLL_INTERVAL_S)
    amazon.disburse()


def connection_settings(api: str) -> Mapping[str, Any]:
    """What the demo adds to the ``api`` connection's settings."""
    reports = {"burst": 1, "steady": KLAVIYO_REPORTS_PER_MINUTE}
    settings: dict[str, dict[str, Any]] = {
        "shopify": {
            "bulk_poll_interval": "200ms",
            "webhooks": {"verify": "shopify", "secret": WEBHOOK_SECRET},
        },
        "amazon": {"report_poll_interval": f"{REPORT_POLL_INTERVAL_S}s"},
        "klaviyo": {"rate_limits": {"campaign_values": reports, "flow_values": reports}},
    }
    return settings.get(api, {})
