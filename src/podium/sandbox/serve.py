"""``python -m podium.sandbox.serve``: run the sandbox in the foreground until stopped.

``podium sandbox start`` starts this in the background; once listening it writes a state
file (pid, URLs, the clock) that ``podium sandbox stop`` and ``status`` read. SIGTERM or
SIGINT stops the server and removes the file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from datetime import date
from pathlib import Path
from typing import Any

from podium.sandbox.brand import SCALES, BrandConfig
from podium.sandbox.service import SERVED, Sandbox, start_sandbox


def state_of(sandbox: Sandbox) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "url": sandbox.url,
        "apis": {api: sandbox.url_for(api) for api in sandbox.apis},
        "control": f"{sandbox.url}/_sandbox",
        "now": sandbox.clock.now().isoformat(),
    }


def scale_of(text: str) -> str | int:
    """``small``, ``large`` (``SCALES``) or a number of orders a year (``250000``, ``1e6``)."""
    if text in SCALES:
        return text
    try:
        orders = int(float(text.replace("_", "").replace(",", "")))
    except ValueError:
        orders = 0
    if orders <= 0:
        names = ", ".join(SCALES)
        raise argparse.ArgumentTypeError(f"{text!r}: give {names} or orders a year (1000000)")
    return orders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m podium.sandbox.serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=BrandConfig.seed)
    parser.add_argument("--days", type=int, default=BrandConfig.days)
    parser.add_argument("--scale", type=scale_of, default="small")
    parser.add_argument("--start", type=date.fromisoformat, default=BrandConfig.start)
    parser.add_argument("--state-file", type=Path, default=None)
    parser.add_argument("--apis", default=",".join(SERVED))
    parser.add_argument("--fast", action="store_true", help="raise Amazon's rate limits")
    args = parser.parse_args(argv)
    config = BrandConfig.at_scale(args.scale, seed=args.seed, days=args.days, start=args.start)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with start_sandbox(
        port=args.port, config=config, apis=args.apis.split(","), fast=args.fast
    ) as sandbox:
        state = state_of(sandbox)
        if args.state_file is not None:
            args.state_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = args.state_file.with_suffix(".tmp")
            temporary.write_text(json.dumps(state, indent=2))
            temporary.replace(args.state_file)
        print(json.dumps(state), flush=True)
        try:
            stop.wait()
        finally:
            if args.state_file is not None:
                args.state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
