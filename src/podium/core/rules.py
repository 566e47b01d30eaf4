"""Trigger rules: given what a task's upstreams did, may it run now?

``decide`` answers ``run``, ``wait`` or the terminal state the task takes without running
(``upstream_failed`` or ``skipped``). It works on counts so that the engine can keep them as
counters instead of re-reading every upstream. Skipped and cancelled upstreams are done but
neither succeeded nor failed. Late upstreams let go with ``on_late: continue`` count as
succeeded: their dependants go ahead on what is fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from podium.core.status import TriggerRule

Decision = Literal["run", "wait", "upstream_failed", "skipped"]


@dataclass(frozen=True)
class Upstream:
    """How many upstreams a task has and what has become of them so far."""

    total: int
    pending: int
    succeeded: int
    failed: int


def decide(rule: TriggerRule, up: Upstream) -> Decision:
    if rule is TriggerRule.ALL_SUCCESS:
        if up.failed:
            return "upstream_failed"
        if up.pending:
            return "wait"
        return "run" if up.succeeded == up.total else "skipped"
    if rule is TriggerRule.ALL_DONE:
        return "wait" if up.pending else "run"
    if rule is TriggerRule.ALL_FAILED:
        if up.succeeded:
            return "skipped"
        if up.pending:
            return "wait"
        return "run" if up.failed == up.total else "skipped"
    if rule is TriggerRule.ONE_SUCCESS:
        if up.succeeded:
            return "run"
        if up.pending:
            return "wait"
        return "upstream_failed" if up.failed else "skipped"
    if rule is TriggerRule.ONE_FAILED:
        if up.failed:
            return "run"
        return "wait" if up.pending else "skipped"
    # NONE_FAILED: every upstream succeeded or was skipped
    if up.failed:
        return "upstream_failed"
    return "wait" if up.pending else "run"
