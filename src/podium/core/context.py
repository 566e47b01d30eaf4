"""What a task function receives: the ``Context`` the engine passes to every attempt.

Typing only: the engine builds its own object with these attributes. Write task functions
as ``def extract(ctx: podium.Context) -> dict[str, int]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class Context(Protocol):
    """One attempt of one task in one run, as the task's code sees it."""

    @property
    def run_id(self) -> str:
        """The run this attempt belongs to."""

    @property
    def task_id(self) -> str:
        """The task being run."""

    @property
    def attempt(self) -> int:
        """1 for the first try, 2 for the first retry, …"""

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this task in this run: use it to make writes safe
        to repeat."""

    @property
    def params(self) -> Mapping[str, Any]:
        """The workflow's params with the run's overrides, then the task's own params."""

    @property
    def logical_time(self) -> datetime:
        """The moment the run stands for (the schedule tick, or when it was requested)."""

    @property
    def log(self) -> logging.Logger:
        """A logger whose lines are kept with the attempt (secrets masked)."""

    @property
    def upstream(self) -> Mapping[str, Any]:
        """Each upstream task id mapped to the JSON value its function returned."""

    @property
    def late_upstreams(self) -> tuple[str, ...]:
        """Upstream tasks that were late and let go (``on_late: continue``): their data
        may be missing from this run."""

    @property
    def workflow(self) -> str:
        """The name of the workflow this run belongs to."""
