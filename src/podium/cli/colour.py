"""Colour on a terminal: only when the stream is a TTY and ``NO_COLOR`` is unset or empty
(https://no-color.org); never in a pipe, a file or ``--json``."""

from __future__ import annotations

import os
from typing import TextIO

_CODES = {
    "succeeded": "32",  # green
    "failed": "31",  # red
    "timed_out": "31",
    "upstream_failed": "33",  # yellow
    "cancelled": "33",
    "running": "36",  # cyan
    "queued": "2",  # dim
    "skipped": "2",
}


def wanted(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def status(text: str, state: str, *, on: bool) -> str:
    """``text`` (a status, padded as it will be shown) in the colour of ``state``."""
    code = _CODES.get(state.strip())
    return f"\033[{code}m{text}\033[0m" if on and code else text
