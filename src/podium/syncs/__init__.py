"""Reverse-ETL syncs, the destination-independent core: diff a source (a model or a
query) against what landed before, guard the plan, and record each batch's outcomes.

    plan(sql, name, source, key, fields, mode)  what to add, update, remove (and retry)
    read_changes(sql, plan.spec, after=, limit=)  the records to send, a batch at a time
    record_batch(sql, name, outcomes, now=)       one batch's outcomes, one transaction

State lives in the warehouse, ``_podium.sync_state`` (see ``state``).
"""

from podium.syncs.diff import Mode, SyncSpec
from podium.syncs.guard import Guard, check_guard, guard_problem
from podium.syncs.plan import Change, Plan, plan, read_changes
from podium.syncs.state import Op, Outcome, Status, ensure_state, record_batch

__all__ = [
    "Change",
    "Guard",
    "Mode",
    "Op",
    "Outcome",
    "Plan",
    "Status",
    "SyncSpec",
    "check_guard",
    "ensure_state",
    "guard_problem",
    "plan",
    "read_changes",
    "record_batch",
]
