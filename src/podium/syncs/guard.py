"""``max_changes``: refuse a plan that would change more than a share (``10%``) or a
number (``500``) of the records already synced. Pure: it reads a plan's counts only."""

from __future__ import annotations

from dataclasses import dataclass

from podium.errors import TerminalTaskError, UsageError


@dataclass(frozen=True)
class Guard:
    """At most ``percent`` % of the synced set, and at most ``count`` records, may change.
    A percent guard does not apply to a sync's first run (nothing synced yet: every
    record is an add); a count guard always does."""

    percent: float | None = None
    count: int | None = None

    @classmethod
    def parse(cls, value: str | int | float) -> Guard:
        """``"10%"`` → 10 percent; ``500`` or ``"500"`` → 500 records."""
        text = str(value).strip()
        try:
            if text.endswith("%"):
                percent = float(text[:-1])
                if not 0 <= percent <= 100:
                    raise ValueError(text)
                return cls(percent=percent)
            count = int(text)
            if count < 0:
                raise ValueError(text)
            return cls(count=count)
        except ValueError:
            raise UsageError(
                f"max_changes {value!r} is neither a percent (10%) nor a count (500) of records"
            ) from None


def guard_problem(
    guard: Guard, *, sync_name: str, adds: int, updates: int, removes: int, synced: int
) -> str | None:
    """Why ``guard`` refuses these counts, or None when they pass."""
    changes = adds + updates + removes
    counts = (
        f"{changes} changes ({adds} adds, {updates} updates, {removes} removes)"
        f" against {synced} records synced"
    )
    override = (
        f"nothing was sent. If the change is expected, raise max_changes for sync "
        f"{sync_name} or run it once with the guard overridden"
    )
    if guard.count is not None and changes > guard.count:
        return f"sync {sync_name}: guard max_changes {guard.count} tripped: {counts}; {override}"
    if guard.percent is not None and synced > 0:
        share = 100.0 * changes / synced
        if share > guard.percent:
            return (
                f"sync {sync_name}: guard max_changes {guard.percent:g}% tripped: {counts}"
                f" ({share:.1f}%); {override}"
            )
    return None


def check_guard(
    guard: Guard, *, sync_name: str, adds: int, updates: int, removes: int, synced: int
) -> None:
    """Raises a terminal error (retrying sends the same plan) when ``guard`` trips."""
    problem = guard_problem(
        guard, sync_name=sync_name, adds=adds, updates=updates, removes=removes, synced=synced
    )
    if problem:
        raise TerminalTaskError(problem)
