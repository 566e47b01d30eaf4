"""The crash-test hook: off unless PODIUM_TEST_CRASH_AT names a point; a bad value is
refused with a message that names the variable."""

from __future__ import annotations

import signal

import pytest

from podium.engine.crashpoints import POINTS, CrashPoints
from podium.errors import UsageError


def test_unset_it_does_nothing() -> None:
    points = CrashPoints(None)
    for point in POINTS:
        points.reached(point)  # still here
    assert points.point is None


@pytest.mark.parametrize(
    ("spec", "point", "signum"),
    [
        ("task_claimed", "task_claimed", signal.SIGKILL),
        ("tick_claimed:TERM", "tick_claimed", signal.SIGTERM),
        ("state_committed:kill", "state_committed", signal.SIGKILL),
    ],
)
def test_a_point_and_a_signal(spec: str, point: str, signum: signal.Signals) -> None:
    points = CrashPoints(spec)
    assert (points.point, points.signal) == (point, signum)
    points.reached("run_created" if point != "run_created" else "tick_claimed")  # not armed


@pytest.mark.parametrize("spec", ["task_claimd", "run_created:HUP", ":KILL"])
def test_a_bad_value_names_the_variable_and_the_points(spec: str) -> None:
    with pytest.raises(UsageError) as caught:
        CrashPoints(spec)
    message = str(caught.value)
    assert "PODIUM_TEST_CRASH_AT" in message and "tick_claimed, run_created" in message
