"""``podium demo [FOLDER]``: a consumer brand's daily workflow, end to end, on the simulators.

It starts the Shopify, Amazon, NetSuite, Klaviyo and 3PL simulators in this process, writes
the ``commerce`` template into FOLDER (default ``./podium-demo``) pointed at them
(``podium.demo.project``), drops retailer and ad-spend files in its inbox
(``podium.demo.inbox``), and runs the ``daily`` workflow on two simulated mornings (its
last task pushes the VIP audience to Klaviyo's VIP list, only what changed the second
time), then forwards the next hours' orders to the 3PL:

    yesterday   the first run loads every source's history and builds the models
    today       a day later, with new orders, refunds and files. Amazon's report is slow
                on purpose: past ``late_after`` the workflow goes on without it, the models
                reading Amazon are built from yesterday's rows and marked incomplete, and
                when the report lands a catch-up run restates exactly those
    new orders  ``podium up`` receives Shopify's orders/create webhooks and its
                ``forward_orders`` workflow sends each order to the 3PL, exactly once
                (``podium.demo.forwarding``)

(A first run is needed: a model reading a source that never landed can only wait for it,
not be built from yesterday's rows.)
Then it prints a summary (``podium.demo.summary``) and how to go on. The simulators stop
when the demo ends; the project stays. Exit 0 when both runs and the catch-up succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from podium.cli.commands import execute_tree, tree_succeeded
from podium.cli.progress import Progress
from podium.cli.sandbox import STATE_FILE, running_sandbox
from podium.errors import UsageError

if TYPE_CHECKING:
    from podium.demo.project import DemoMarker
    from podium.sandbox.service import Sandbox

DEFAULT_FOLDER = "podium-demo"
DEFAULT_PORT = 8765
DEFAULT_DAYS = 28
MIN_DAYS = 8
WORKFLOW = "daily"
LATE_AFTER_S = 6  # the demo's late_after for Amazon (30m in the template) …
SLOW_REPORT_S = 20  # … and how long its report takes on the second morning


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folder",
        nargs="?",
        default=DEFAULT_FOLDER,
        help=f"where to write the project (default: ./{DEFAULT_FOLDER}, under --project); "
        "a previous demo there is replaced",
    )
    p.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"days of orders the simulated brand has (default {DEFAULT_DAYS})",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the simulators' port (default {DEFAULT_PORT}; any free one if it is taken)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from podium.demo.project import is_demo, prepare_folder

    started = time.perf_counter()
    if args.days < MIN_DAYS:
        raise UsageError(f"--days {args.days}: the demo needs at least {MIN_DAYS} days of orders")
    folder = (Path(args.project) / args.folder).resolve()
    if is_demo(folder) and (state := running_sandbox(folder / STATE_FILE)) is not None:
        raise UsageError(
            f"the simulators started in the previous demo ({folder}) still run, pid "
            f"{state['pid']}; stop them first: podium sandbox stop --project {folder}"
        )
    replaced = prepare_folder(folder)
    with _simulators(args.port, args.days) as sandbox:
        return _demo(folder, sandbox, replaced, started)


@contextlib.contextmanager
def _simulators(port: int, days: int) -> Iterator[Sandbox]:
    """The simulators on ``port`` (any free one if it is taken), their clock a day before
    where `podium sandbox start` starts it: the second morning ends where a restart begins."""
    from podium.demo.speeds import simulator_options
    from podium.sandbox.brand import BrandConfig
    from podium.sandbox.service import SERVED, start_sandbox, starting_now

    config = BrandConfig(days=days)
    now = starting_now(config) - timedelta(days=1)
    try:
        sandbox = start_sandbox(
            port=port, config=config, now=now, apis=SERVED, options=simulator_options()
        )
    except OSError:  # the port is taken
        sandbox = start_sandbox(
            port=0, config=config, now=now, apis=SERVED, options=simulator_options()
        )
    try:
        yield sandbox
    finally:
        sandbox.stop()


def _demo(folder: Path, sandbox: Sandbox, replaced: bool, started: float) -> int:
    from podium.demo.inbox import write_inbox
    from podium.demo.project import set_late_after, write_project
    from podium.demo.speeds import slow_amazon_report

    marker = write_project(folder, sandbox)
    files = write_inbox(folder, sandbox.brand, sandbox.clock.now())
    again = "; it replaces the previous demo" if replaced else ""
    _say(f"podium demo: a consumer brand's {WORKFLOW} workflow, end to end, on local simulators")
    _say(f"  project     {_shown(folder)}: the commerce template{again}")
    _say(f"  simulators  Shopify, Amazon, NetSuite, Klaviyo and a 3PL at {sandbox.url}, serving a")
    _say(f"              generated brand with {sandbox.brand.config.days} days of orders")
    _say(f"  inbox       {_files(files)}")
    _say("")
    _say(f"1. Yesterday, {_when(sandbox.clock.now())} (simulated): the first run loads history.")
    run_id, ok = _run(folder)
    if ok:
        sandbox.advance(timedelta(days=1))
        files = write_inbox(folder, sandbox.brand, sandbox.clock.now())
        slow_amazon_report(sandbox, SLOW_REPORT_S)
        set_late_after(folder, f"{LATE_AFTER_S}s")
        _say("")
        _say(f"2. Today, {_when(sandbox.clock.now())}: a day of new orders and refunds;")
        _say(f"   {_files(files)}. Amazon's report is slow today (~{SLOW_REPORT_S}s), and")
        _say(
            f"   the demo set its late_after to {LATE_AFTER_S}s (30m in the template): past it the"
        )
        _say("   workflow goes on without Amazon, and restates what reads Amazon when it lands.")
        run_id, ok = _run(folder)
    if ok:
        ok = _forward(folder, sandbox)
    _report(folder, run_id, marker, ok, time.perf_counter() - started)
    return 0 if ok else 1


def _forward(folder: Path, sandbox: Sandbox) -> bool:
    """Step 3: new orders reach the 3PL as Shopify's webhooks arrive at ``podium up``."""
    from podium.demo.forwarding import HOURS, forward_new_orders

    _say("")
    _say(f"3. The next {HOURS} hours (simulated): Shopify sends an orders/create webhook per new")
    _say("   order to `podium up`, whose forward_orders workflow sends each to the 3PL, once.")
    done = forward_new_orders(folder, sandbox)
    if done.problem:
        _say(f"   FAILED: {done.problem}")
        return False
    took = f"; median {done.median_ms:.0f} ms from webhook to 3PL" if done.median_ms else ""
    _say(
        f"   {done.delivered} orders/create webhooks, {done.succeeded} of {done.runs} runs"
        f" succeeded; the 3PL holds {done.held} orders, {done.duplicated} twice{took}"
    )
    return done.succeeded == done.runs == done.delivered == done.held and not done.duplicated


def _run(folder: Path) -> tuple[str, bool]:
    """Runs the workflow, and its catch-up runs, here with live progress."""
    from podium.engine import queries, services
    from podium.project import load_project
    from podium.store.database import open_database

    project = load_project(folder)
    width = max(len(task.id) for task in project.workflows[WORKFLOW].tasks)
    db = open_database(project.store_url, project.secrets)
    try:
        progress = Progress(enabled=True, stream=sys.stdout, width=width)
        run_id = services.start_run(db, project, WORKFLOW, {})
        progress.started(run_id, WORKFLOW)
        execute_tree(project, db, run_id, progress)
        progress.finished(db, queries.show_run(db, run_id))
        return run_id, tree_succeeded(db, run_id)
    finally:
        db.close()


def _report(folder: Path, run_id: str, marker: DemoMarker, ok: bool, took: float) -> None:
    from podium.demo.summary import render, summarise
    from podium.engine import queries
    from podium.project import load_project
    from podium.store.database import open_database

    project = load_project(folder)
    db = open_database(project.store_url, project.secrets)
    try:
        run = queries.show_run(db, run_id)
        catchups = [queries.show_run(db, c) for c in run["catchup_runs"]]
    finally:
        db.close()
    _say("")
    _say(f"Summary (run {run_id})")
    for line in render(summarise(project, run, catchups)):
        _say(line)
    _say("")
    if ok:
        _say(f"podium demo finished in {took:.1f}s; the simulators stopped, the project stays.")
    else:
        _say(f"podium demo FAILED after {took:.1f}s: a run did not succeed (see above).")
    _next_steps(folder, run_id, marker)


def _next_steps(folder: Path, run_id: str, marker: DemoMarker) -> None:
    advance = f"curl -X POST http://127.0.0.1:{marker.port}/_sandbox/clock/advance?hours=24"
    podium, setup = podium_command()
    steps = (
        *setup,
        (f"cd {_shown(folder)}", ""),
        (_as(podium, marker.serve_again), "the simulators again, where the demo left them"),
        (advance, "a day of new orders and refunds"),
        (f"{podium} run {WORKFLOW}", "load what is new, rebuild, check"),
        (f"{podium} models list", "the SQL models, in build order"),
        (f"{podium} assets", "every table: rows, last update, complete or not"),
        (f"{podium} show {run_id}", "a run, task by task; podium runs lists them"),
        (f"{podium} up", "the web UI on http://127.0.0.1:8642/: graphs, runs, logs, retry"),
        (f"{podium} sandbox stop", "when you are done"),
    )
    _say("Keep working in it:")
    for command, note in steps:
        _say(f"  {command:<50}  # {note}" if note else f"  {command}")


def podium_command(
    environ: Mapping[str, str] | None = None, prefix: str | None = None
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """How to type ``podium`` in this shell, and the steps that make it work as typed.

    ``make demo`` runs the virtualenv's podium without activating it, so ``podium`` is not
    on PATH: the steps then begin by activating that virtualenv (the path as typed from
    here). Without a virtualenv, the interpreter's own ``-m`` form is given."""
    env = os.environ if environ is None else environ
    venv = Path(prefix or sys.prefix)
    if shutil.which("podium", path=env.get("PATH", "")):
        return "podium", ()
    if (venv / "bin" / "activate").is_file() and (venv / "bin" / "podium").exists():
        return "podium", ((f"source {_shown(venv)}/bin/activate", "puts podium on PATH"),)
    return f"{sys.executable} -m podium.cli.main", ()


def _as(podium: str, command: str) -> str:
    return podium + command[len("podium") :] if command.startswith("podium ") else command


def _say(text: str) -> None:
    print(text, flush=True)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _files(files: list[Path]) -> str:
    sell = sum(1 for f in files if f.parent.name == "retailers")
    counts = ((sell, "sell-through file"), (len(files) - sell, "ad spend file"))
    named = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in counts if n]
    return f"{' and '.join(named) or 'no files'} in inbox/"


def _shown(folder: Path) -> str:
    """``folder`` relative to here when it is below, as a user would type it."""
    with contextlib.suppress(ValueError):
        return str(folder.relative_to(Path.cwd()))
    return str(folder)
