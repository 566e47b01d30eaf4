"""A workflow written in Python: the same options as YAML, as keyword arguments."""

from __future__ import annotations

import podium

weekly = podium.Workflow(
    "weekly",
    triggers=[podium.after_workflow("example")],  # runs each time `example` succeeds
    params={"top": 3},
)


@weekly.task(retries=1, retry_delay="1s")
def summarize(ctx: podium.Context) -> dict[str, int]:
    ctx.log.info("summarizing the last run of example")
    return {"orders": 42, "customers": 17}


@weekly.task(depends_on=[summarize])
def rank(ctx: podium.Context) -> dict[str, list[str]]:
    summary = ctx.upstream["summarize"]
    ctx.log.info("ranking %s orders", summary["orders"])
    return {"top_sources": ["orders", "customers"][: ctx.params["top"]]}
