"""What both peer shape scripts share: their command line and how they hand back results.

Each script runs in its own peer's virtual environment with this folder first on sys.path,
so it imports this module by name; it needs nothing but the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def shape_parser(description: str) -> argparse.ArgumentParser:
    """The flags every shape script takes; callers add their own ``--variant``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--shape", choices=("fanout", "chain"), required=True)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    return parser


def parse_shape_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.repeat < 1:
        parser.error("--tasks and --repeat must be >= 1")
    return args


def isolate_stdout() -> int:
    """Send fd 1 to stderr for everything (incl. subprocesses); return a fd for the result."""
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    return result_fd


def write_results(result_fd: int, lines: Sequence[dict[str, Any]]) -> None:
    """The results, one JSON object a line, on the stdout kept by ``isolate_stdout``."""
    os.write(result_fd, "".join(json.dumps(line) + "\n" for line in lines).encode())
