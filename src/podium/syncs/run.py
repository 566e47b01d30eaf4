"""Running a sync: plan, guard, then send the changes a batch at a time and record each.

    run_sync(sql, spec, writer, guard=, dry_run=, now=)  → SyncReport

Removals go first, in batches of their own; adds and updates go together (a destination
upserts both the same way). Each batch is read from the diff in key order after the last
key sent, handed to the writer, and its outcomes recorded in one transaction before the
next is read: a crash between batches resends nothing that landed, and loses nothing that
did not (it is still in the diff). A record the destination rejected stays in the diff with
its reason and is tried again on the next run, not again in this one.

A run sends what its plan counted (and its guard allowed): records that changed after the
plan wait for the next run. A dry run (and ``podium sync preview``) stops after the plan:
nothing is sent or written, and a guard that would refuse the plan is reported, not raised.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from logging import Logger
from typing import Any

from podium.errors import TerminalTaskError, TransientTaskError
from podium.syncs.destination import Writer
from podium.syncs.diff import SyncSpec
from podium.syncs.guard import Guard, guard_problem
from podium.syncs.plan import Change, Plan, plan, read_changes
from podium.syncs.state import Op, Outcome, ensure_state, mark_pending, record_batch
from podium.transforms.warehouse_sql import WarehouseSql

#: the batches a run sends, in order: removals, then adds and updates together
GROUPS: tuple[tuple[Op, ...], ...] = ((Op.REMOVE,), (Op.ADD, Op.UPDATE))
REJECTED_SAMPLES = 20


class SyncCancelled(TransientTaskError):
    """The attempt was cancelled between batches: what landed is recorded, the rest is
    still in the diff for the next attempt."""


@dataclass
class SyncReport:
    """What a sync run did: its plan, what landed by op, what was rejected and why."""

    plan: Plan
    dry_run: bool = False
    landed: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # reason → records
    rejected_samples: list[tuple[str, str]] = field(default_factory=list)  # key, reason
    batches: int = 0
    counters: Mapping[str, int] = field(default_factory=dict)  # the writer's (requests, …)
    guard: str | None = None  # a dry run's: why the guard would refuse the plan

    @property
    def sent(self) -> int:
        return sum(self.landed.values()) + self.rejected

    def summary(self) -> str:
        name = self.plan.spec.name
        if self.dry_run:
            verdict = f"; the guard would refuse it: {self.guard}" if self.guard else ""
            return f"dry run, nothing sent: {self.plan.summary()}{verdict}"
        text = (
            f"sync {name}: {self.sent} sent in {self.batches} batches:"
            f" {self.landed[Op.ADD]} added, {self.landed[Op.UPDATE]} updated,"
            f" {self.landed[Op.REMOVE]} removed, {self.rejected} rejected"
        )
        if self.reasons:
            top = "; ".join(f"{n} × {reason}" for reason, n in self.reasons.most_common(3))
            text += f" ({top})"
        if self.plan.null_keys:
            text += f"; {self.plan.null_keys} rows with a NULL {self.plan.spec.key} not sent"
        return text

    def to_output(self) -> dict[str, Any]:
        """The task's output (JSON): counts, reasons and samples."""
        p = self.plan
        return {
            "sync": p.spec.name,
            "mode": str(p.spec.mode),
            "dry_run": self.dry_run,
            "guard": self.guard,
            "planned": {"add": p.adds, "update": p.updates, "remove": p.removes},
            "retries": p.retries,
            "source_rows": p.source_rows,
            "null_keys": p.null_keys,
            "sent": self.sent,
            "landed": {str(op): self.landed[op] for op in Op},
            "rejected": self.rejected,
            "reasons": dict(self.reasons.most_common(10)),
            "rejected_samples": [{"key": k, "reason": r} for k, r in self.rejected_samples],
            "batches": self.batches,
            "requests": dict(self.counters),
            "summary": self.summary(),
        }


def plan_and_verdict(
    sql: WarehouseSql, spec: SyncSpec, guard: Guard | None
) -> tuple[Plan, str | None]:
    """The plan of ``spec`` and why ``guard`` refuses it (None: it passes). Writes nothing:
    the dry run's and ``podium sync preview``'s answer."""
    planned = plan(sql, spec.name, spec.source, spec.key, spec.fields, spec.mode, salt=spec.salt)
    if guard is None:
        return planned, None
    verdict = guard_problem(
        guard,
        sync_name=spec.name,
        adds=planned.adds,
        updates=planned.updates,
        removes=planned.removes,
        synced=planned.synced,
    )
    return planned, verdict


def run_sync(
    sql: WarehouseSql,
    spec: SyncSpec,
    writer: Writer,
    *,
    now: Callable[[], datetime],
    guard: Guard | None = None,
    dry_run: bool = False,
    log: Logger | None = None,
    cancelled: threading.Event | None = None,
    counters: Mapping[str, int] | None = None,
    mask: Callable[[str], str] | None = None,
) -> SyncReport:
    """Plans ``spec`` (raising when the guard trips: nothing is sent), then sends and
    records its changes batch by batch (unless ``dry_run``). ``mask`` hides secrets in the
    destination's reasons before they are written to the warehouse or reported."""
    planned, verdict = plan_and_verdict(sql, spec, guard)
    if verdict is not None and not dry_run:
        raise TerminalTaskError(verdict)  # retrying sends the same plan: nothing is sent
    report = SyncReport(planned, dry_run=dry_run, counters=counters if counters is not None else {})
    report.guard = verdict  # a dry run says what the guard would do
    if log is not None:
        log.info("%s", planned.summary())
    if dry_run or planned.changes == 0:
        return report
    ensure_state(sql)
    size = max(1, int(writer.batch_size))
    planned_ops = {Op.ADD: planned.adds, Op.UPDATE: planned.updates, Op.REMOVE: planned.removes}
    for ops in GROUPS:
        remaining = sum(planned_ops[op] for op in ops)
        if not remaining:
            continue  # nothing of these planned: no diff query to find that out again
        after: str | None = None
        while True:
            if cancelled is not None and cancelled.is_set():
                raise SyncCancelled(
                    f"sync {spec.name}: cancelled after {report.batches} batches; what landed"
                    " is recorded and the rest is sent by the next attempt"
                )
            batch = read_changes(sql, spec, after=after, limit=size, ops=ops)
            if not batch:
                break
            mark_pending(sql, spec.name, [c.key for c in batch], now=now())
            outcomes = _checked(spec.name, batch, writer.send(batch))
            if mask is not None:
                outcomes = [o if o.reason is None else replace(o, reason=mask(o.reason))
                            for o in outcomes]  # fmt: skip
            record_batch(sql, spec.name, outcomes, now=now())
            _count(report, outcomes)
            after = batch[-1].key
            if log is not None:
                log.info(
                    "sync %s: batch %d: %d records, %d rejected",
                    spec.name,
                    report.batches,
                    len(batch),
                    sum(1 for o in outcomes if not o.landed),
                )
            remaining -= len(batch)
            if len(batch) < size or remaining <= 0:
                # a short batch was the last, and what was planned (and guarded) is sent:
                # a record that changed since waits for the next run
                break
    return report


def _checked(name: str, batch: Sequence[Change], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The writer's outcomes, one per change of the batch: a writer that answers for
    records it was not given, or not for all, is a bug that must not reach the state."""
    wanted = {c.key: c for c in batch}
    got = {o.key: o for o in outcomes}
    if len(got) != len(outcomes) or set(got) != set(wanted):
        missing = sorted(set(wanted) - set(got))[:5]
        extra = sorted(set(got) - set(wanted))[:5]
        raise TerminalTaskError(
            f"sync {name}: the destination's writer answered for the wrong records"
            f" (missing {missing}, unexpected {extra}); nothing of this batch was recorded"
        )
    return [
        o
        if o.op is wanted[o.key].op and o.hash == wanted[o.key].hash
        else Outcome(o.key, wanted[o.key].op, wanted[o.key].hash, o.landed, o.reason, o.remote_id)
        for o in outcomes
    ]


def _count(report: SyncReport, outcomes: Sequence[Outcome]) -> None:
    report.batches += 1
    for o in outcomes:
        if o.landed:
            report.landed[o.op] += 1
            continue
        reason = o.reason or "rejected (no reason given)"
        report.rejected += 1
        report.reasons[reason] += 1
        if len(report.rejected_samples) < REJECTED_SAMPLES:
            report.rejected_samples.append((o.key, reason))
