"""A run's attempts on a timeline (a Gantt chart) laid out for an SVG drawing.

One row per task, one bar per attempt from its start to its end (to ``now`` while it
runs); a task with ``late_after`` gets a tick where it became (or would become) late. Pure:
times come in as epoch seconds, and the template draws the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium.core.durations import format_duration

WIDTH = 1300  # the drawing's own width; the page scales it to the width it has
LABEL_W = 170  # the narrowest label column; it widens for long task ids, up to LABEL_MAX
LABEL_MAX = 380
LABEL_CHAR_W = 7.0
ROW_H = 24
BAR_H = 14
AXIS_H = 22
PAD = 28  # room right of the chart for the last tick's label
CHART_W = WIDTH - LABEL_W - PAD  # the bars' room beside the narrowest label column
TICKS = 6


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    status: str
    attempt: int
    title: str  # the tooltip: attempt, state, duration


@dataclass(frozen=True)
class Row:
    task_id: str
    y: int
    bars: tuple[Bar, ...]
    late_x: float | None = None  # where the task's late_after ran out, when inside the chart
    late: bool = False


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]
    width: int
    height: int
    label_w: int
    span: str  # the whole chart's duration, e.g. "4.2s"


def seconds(value: str | float | None) -> float | None:
    """Epoch seconds from an ISO time (as the read models give) or a number."""
    if value is None or isinstance(value, float | int):
        return value
    return datetime.fromisoformat(value).timestamp()


def timeline(
    task_ids: Sequence[str],
    attempts: Sequence[Mapping[str, Any]],
    *,
    now: float,
    late_after: Mapping[str, float] | None = None,
    late: Sequence[str] = (),
) -> Timeline | None:
    """The chart, or None when no attempt has started yet."""
    spans = [
        (a, start, seconds(a["finished_at"]) or now)
        for a in attempts
        if (start := seconds(a["started_at"])) is not None
    ]
    if not spans:
        return None
    first = min(start for _, start, _ in spans)
    last = max(max(end for _, _, end in spans), first + 0.001)
    label_w = label_width([*task_ids, *(str(a["task_id"]) for a, _, _ in spans)])
    scale = (WIDTH - label_w - PAD) / (last - first)
    by_task: dict[str, list[Bar]] = {t: [] for t in task_ids}
    began: dict[str, float] = {}
    for a, start, end in spans:
        task = str(a["task_id"])
        began[task] = min(began.get(task, start), start)
        took = format_duration(max(end - start, 0.0))
        by_task.setdefault(task, []).append(
            Bar(
                x=round(label_w + (start - first) * scale, 1),
                width=round(max((end - start) * scale, 2.0), 1),
                status=str(a["status"]),
                attempt=int(a["attempt"]),
                title=f"{task} attempt {a['attempt']}: {a['status']} ({took})",
            )
        )
    rows = []
    for i, (task, bars) in enumerate(by_task.items()):
        limit = (late_after or {}).get(task)
        late_x = None
        if limit is not None and task in began and began[task] + limit <= last:
            late_x = round(label_w + (began[task] + limit - first) * scale, 1)
        rows.append(Row(task, AXIS_H + i * ROW_H, tuple(bars), late_x, task in late))
    return Timeline(
        rows=tuple(rows),
        ticks=_ticks(last - first, scale, label_w),
        width=WIDTH,
        height=AXIS_H + len(rows) * ROW_H + PAD,
        label_w=label_w,
        span=format_duration(last - first),
    )


#: tick steps a person reads easily: 1-2-5 below a second, then clock-like steps
_STEPS = (
    *(m * 10.0**e for e in range(-3, 0) for m in (1, 2, 5)),
    *(1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200),
)


def label_width(task_ids: Sequence[str]) -> int:
    """The label column's width: the longest task id's, between LABEL_W and LABEL_MAX."""
    longest = max((len(t) for t in task_ids), default=0)
    return int(min(max(LABEL_W, longest * LABEL_CHAR_W + 16), LABEL_MAX))


def _ticks(span: float, scale: float, label_w: int) -> tuple[Tick, ...]:
    """Round steps from 0 to the chart's end, at most ``TICKS`` of them (days beyond)."""
    rough = span / (TICKS - 1)
    step = next((float(s) for s in _STEPS if s >= rough), 86400.0 * math.ceil(rough / 86400))
    count = int(span / step + 1e-9) + 1
    return tuple(
        Tick(round(label_w + i * step * scale, 1), "0" if i == 0 else format_duration(i * step))
        for i in range(count)
    )
