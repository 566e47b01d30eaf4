"""``podium logs RUN [TASK] [--follow]``: a run's log lines in time order, each with its
time stamp and (for a whole run) the task and attempt it came from.

``--follow`` keeps printing lines as the engine stores them and ends once the run (or the
task) has ended. The engine stores lines in batches, so a batch may hold lines older than
one already printed: lines are read again from ``LAG`` seconds before the newest one seen,
and the ones printed already are skipped.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from podium.core.masking import Masker
from podium.engine import queries
from podium.store.database import Database

#: seconds re-read behind the newest line seen, for lines stored late in a batch
LAG = 10.0
POLL = 0.25


def stamp(at: str) -> str:
    """``2026-12-07 12:00:01.123`` (UTC) from a line's ISO time."""
    return datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def render_line(line: dict[str, Any], *, with_task: bool, mask: Masker) -> str:
    where = f"  {line['task_id']}#{line['attempt']}" if with_task else ""
    return f"{stamp(line['at'])}{where}  {mask(line['line'])}"


def print_logs(db: Database, run_id: str, task_id: str | None, mask: Masker) -> int:
    lines = queries.logs_of(db, run_id, task_id)
    for line in lines:
        print(render_line(line, with_task=task_id is None, mask=mask))
    if not lines:
        print("(no log lines)")
    return 0


def follow_logs(
    db: Database,
    run_id: str,
    task_id: str | None,
    mask: Masker,
    *,
    poll: float = POLL,
    emit: Callable[[str], None] | None = None,
) -> int:
    """Prints new lines until the run (or ``task_id``) has ended and its last lines are out."""
    say = emit or (lambda text: print(text, flush=True))
    seen: Counter[tuple[str, int, str, str]] = Counter()
    since: float | None = None
    while True:
        ended = _ended(db, run_id, task_id)  # before reading: the lines it stored come along
        batch = queries.logs_of(db, run_id, task_id, since=since)
        fresh: Counter[tuple[str, int, str, str]] = Counter()
        for line in batch:
            key = (line["task_id"], int(line["attempt"]), line["at"], line["line"])
            fresh[key] += 1
            if fresh[key] > seen[key]:
                say(render_line(line, with_task=task_id is None, mask=mask))
        if batch:
            newest = max(datetime.fromisoformat(line["at"]).timestamp() for line in batch)
            since = newest - LAG
            seen = fresh  # what the next read (from ``since`` on) may hold again
        if ended:
            return 0
        time.sleep(poll)


def _ended(db: Database, run_id: str, task_id: str | None) -> bool:
    run = queries.show_run(db, run_id)
    if task_id is None:
        return run["status"] in ("succeeded", "failed", "cancelled")
    status = next((t["status"] for t in run["tasks"] if t["id"] == task_id), "succeeded")
    return status not in ("queued", "running")


def cmd_logs(args: argparse.Namespace, db: Database, mask: Masker) -> int:
    run_id = queries.resolve_run(db, args.run)
    if getattr(args, "follow", False):
        queries.require_task(db, run_id, args.task)
        return follow_logs(db, run_id, args.task, mask)
    return print_logs(db, run_id, args.task, mask)
