"""A simulated Amazon Selling Partner API (and Login with Amazon) over the generated brand.

app.py      AmazonSimulator: routes, orders, items, finances; DEMO_CREDENTIALS
access.py   LWA tokens (revocable, expiring) and per-operation rate limits
reports.py  settlement reports (getReports), their states, presigned URLs, GZIP
render.py   the brand's marketplace orders as SP-API JSON and report rows
truth.py    amazon_truth: what a complete sync must show
"""

from __future__ import annotations

from podium.sandbox.amazon.access import RATE_LIMITS
from podium.sandbox.amazon.app import DEMO_CREDENTIALS, AmazonSimulator, demo_connection
from podium.sandbox.amazon.render import (
    MARKETPLACE_ID,
    QUIET_WINDOW,
    SETTLEMENT_REPORT_TYPE,
    quiet_after,
)
from podium.sandbox.amazon.truth import amazon_truth

__all__ = [
    "DEMO_CREDENTIALS",
    "MARKETPLACE_ID",
    "RATE_LIMITS",
    "SETTLEMENT_REPORT_TYPE",
    "AmazonSimulator",
    "amazon_truth",
    "demo_connection",
    "QUIET_WINDOW",
    "quiet_after",
]
