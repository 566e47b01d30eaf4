"""Test-only crash points: the engine kills itself at a chosen step of firing a schedule.

``PODIUM_TEST_CRASH_AT=POINT`` (or ``POINT:TERM``) makes the first engine step that reaches
POINT send its own process SIGKILL (or SIGTERM, which ``podium up`` answers by draining).
The crash tests (tests/e2e/test_schedule_crash.py) start ``podium up`` with it, then start it
again without it and check that each (schedule, logical time) got exactly one run. Unset,
``reached`` does nothing. The points, in the order a schedule's firing passes them:

- ``tick_claimed``: inside the step's transaction, once a due tick is found under the
  schedule's lock, before its run is inserted;
- ``run_created``: inside that transaction, right after the tick's run is inserted;
- ``task_claimed``: right after the commit that claimed attempts, before the executor has
  them;
- ``state_committed``: right after the commit that recorded how an attempt ended.
"""

from __future__ import annotations

import os
import signal
import threading

from podium.errors import UsageError

ENV = "PODIUM_TEST_CRASH_AT"
POINTS = ("tick_claimed", "run_created", "task_claimed", "state_committed")
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}


class CrashPoints:
    """One armed point (or none) and the signal to send there, once."""

    def __init__(self, spec: str | None) -> None:
        self.point: str | None = None
        self.signal = signal.SIGKILL
        self._fired = threading.Event()
        if spec:
            self.point, self.signal = _parse(spec)

    def reached(self, point: str) -> None:
        if point != self.point or self._fired.is_set():
            return
        self._fired.set()
        os.kill(os.getpid(), self.signal)
        if self.signal == signal.SIGKILL:
            threading.Event().wait()  # the kernel ends us here; nothing after this runs


def _parse(spec: str) -> tuple[str, signal.Signals]:
    point, _, name = spec.partition(":")
    name = name.upper() or "KILL"
    if point not in POINTS or name not in SIGNALS:
        raise UsageError(
            f"{ENV}={spec!r} is not POINT or POINT:KILL|TERM with POINT one of"
            f" {', '.join(POINTS)}; unset it outside of podium's crash tests"
        )
    return point, SIGNALS[name]


_armed: CrashPoints | None = None


def arm() -> None:
    """Reads ``PODIUM_TEST_CRASH_AT`` (once; an engine's start calls this, so a bad value is
    refused before any work)."""
    global _armed
    if _armed is None:
        _armed = CrashPoints(os.environ.get(ENV))


def reached(point: str) -> None:
    """The engine passed ``point``: crash here if ``PODIUM_TEST_CRASH_AT`` names it."""
    arm()
    assert _armed is not None
    _armed.reached(point)
