"""Task functions for workflows/example.yaml.

Each takes the task context (``ctx``) and returns a small JSON value that dependants
read from ``ctx.upstream``.
"""

from __future__ import annotations

import random
import time

import podium


def extract(ctx: podium.Context) -> dict[str, object]:
    """Pretends to fetch ``days`` days of one source (``params.source``)."""
    source = ctx.params["source"]
    days = int(ctx.params.get("days", 1))
    ctx.log.info("extracting %d days of %s (attempt %d)", days, source, ctx.attempt)
    time.sleep(0.05)  # stands in for the API calls
    rows = days * random.randint(90, 110)
    return {"source": source, "rows": rows}


def build_report(ctx: podium.Context) -> dict[str, object]:
    """Combines what the extract tasks returned."""
    counts = {result["source"]: result["rows"] for result in ctx.upstream.values()}
    ctx.log.info("building the report from %s", counts)
    if ctx.late_upstreams:
        ctx.log.warning("late sources, report is incomplete: %s", ctx.late_upstreams)
    return {"rows": sum(counts.values()), "by_source": counts}
