"""``podium up --log-format json``: one JSON object per line for what the server says.

Each line has ``ts`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, plus ``run_id``,
``task_id``, ``attempt`` and ``status`` when the line is about one. In that format the
engine also says when attempts start and end and when runs finish (logger
``podium.engine``); the default text format stays as it was.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from podium.core.events import AttemptFinished, AttemptStarted, Event, RunFinished

FORMATS = ("text", "json")
_FIELDS = ("run_id", "task_id", "attempt", "status", "workflow")
engine_log = logging.getLogger("podium.engine")
server_log = logging.getLogger("podium.up")


class JsonFormatter(logging.Formatter):
    """A record as one JSON line; ``extra={"run_id": …}`` fields are kept; every line passes
    ``mask`` (the project's secrets)."""

    def __init__(self, mask: Callable[[str], str] = str) -> None:
        super().__init__()
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return self.mask(json.dumps(line, ensure_ascii=False, default=str))


def use_json_logs(
    mask: Callable[[str], str] = str, stream: TextIO | None = None
) -> logging.Handler:
    """Every log line of this process (podium's, uvicorn's) as JSON on ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(mask))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("podium").setLevel(logging.INFO)
    return handler


def say(log_format: str) -> Callable[[str, bool], None]:
    """How ``podium up`` tells the operator something: ``say(message, warning)``: a plain
    line (stdout, or stderr for a warning) in text, a ``podium.up`` log line in json."""

    def text(message: str, warning: bool) -> None:
        print(message, file=sys.stderr if warning else sys.stdout, flush=True)

    def as_json(message: str, warning: bool) -> None:
        level = logging.WARNING if warning else logging.INFO
        server_log.log(level, message.removeprefix("podium up: "))

    return as_json if log_format == "json" else text


def log_engine_events(events: Sequence[Event], at: float) -> None:
    """The engine's own lines about attempts and runs (an ``EventWorker`` handler)."""
    for e in events:
        if isinstance(e, AttemptStarted):
            engine_log.info(
                "attempt %d of %s started",
                e.attempt,
                e.task_id,
                extra={"run_id": e.run_id, "task_id": e.task_id, "attempt": e.attempt},
            )
        elif isinstance(e, AttemptFinished):
            level = logging.INFO if e.status == "succeeded" else logging.WARNING
            ending = f": {e.error}" if e.error else ""
            engine_log.log(
                level,
                "attempt %d of %s %s%s",
                e.attempt,
                e.task_id,
                e.status,
                ending,
                extra={
                    "run_id": e.run_id, "task_id": e.task_id, "attempt": e.attempt,
                    "status": e.status,
                },
            )  # fmt: skip
        elif isinstance(e, RunFinished):
            engine_log.info(
                "run of %s %s",
                e.workflow,
                e.status,
                extra={"run_id": e.run_id, "workflow": e.workflow, "status": e.status},
            )
