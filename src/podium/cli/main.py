"""``podium``: the command line. Thin adapters over the service functions the API uses.

Exit codes: 0 done / succeeded, 1 a run failed (or podium itself failed), 2 bad input
(an invalid project, an unknown run, a bad flag), 75 the store is unavailable (cannot be
reached, locked, disk full: try again later; EX_TEMPFAIL, what a supervisor restarts on). Errors are printed as one clear message;
set PODIUM_DEBUG=1 to also see a traceback for an unexpected one.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from podium.core.status import RunStatus
from podium.errors import (
    PodiumError,
    ProjectError,
    StoreError,
    StoreUnavailableError,
    UsageError,
)

#: exit code for a store that is away (sysexits.h EX_TEMPFAIL): trying again later may work
EXIT_STORE_UNAVAILABLE = 75
RUN_STATUSES = tuple(s.value for s in RunStatus)
RUN_HELP = "a run's id, or the start of one that no other run's id starts with"
#: commands whose --project is where to write, not a project to find above here
_NO_WALK_UP = ("init", "demo", "completion")


def _plugins(args: argparse.Namespace) -> int:
    from podium.cli.plugins import cmd_plugins

    return cmd_plugins(args)


def build_parser() -> argparse.ArgumentParser:
    from podium.cli import commands as c
    from podium.version import __version__

    parser = argparse.ArgumentParser(
        prog="podium", description="Event-driven data orchestration for consumer brands."
    )
    parser.add_argument(
        "--version", action="version", version=f"podium {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: object, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument(
            "--project",
            default=None,
            metavar="DIR",
            help="the project folder (default: the nearest folder from here up with a"
            " podium.yaml, as git finds its repository)",
        )
        p.set_defaults(func=func)
        return p

    p = command("init", c.cmd_init, "create a runnable example project")
    p.add_argument("dir", nargs="?", default=None, help="where (default: --project)")
    p.add_argument("--template", default="example", help="project template (default: example)")

    command("validate", c.cmd_validate, "check the project; print every problem with file:line")

    p = command(
        "plugins",
        _plugins,
        "list the task kinds, source types, warehouses and notifiers here, plugins' too",
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command(
        "schema", c.cmd_schema, "print the JSON Schema of podium.yaml or of a workflow file"
    )
    p.add_argument(
        "which",
        choices=["project", "workflow"],
        metavar="{project,workflow}",
        help="project: podium.yaml; workflow: workflows/*.yaml",
    )
    p.add_argument("--output", metavar="FILE", help="write it to FILE instead of printing it")

    p = command("run", c.cmd_run, "run a workflow now, in this process, and wait for it")
    p.add_argument("workflow", help="the workflow's name (podium validate lists them)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a workflow param (repeatable); the value is read as JSON if it parses",
    )
    p.add_argument("--json", action="store_true", help="print the finished run as JSON")
    p.add_argument(
        "--no-downstream",
        action="store_true",
        help="leave the runs this run triggers (workflow, event, asset triggers) to podium up"
        " instead of running them here too",
    )

    p = command("up", c.cmd_up, "run the engine, the scheduler and the HTTP API")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    p.add_argument("--port", type=int, default=8642, help="the port to listen on")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one JSON object per line (ts, level, logger, message, run_id, task_id)",
    )

    p = command("runs", c.cmd_runs, "list runs, newest first")
    p.add_argument("--workflow", help="only this workflow's runs")
    p.add_argument(
        "--status",
        choices=RUN_STATUSES,
        metavar="STATUS",
        help=f"only runs in this state: {', '.join(RUN_STATUSES)}",
    )
    p.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("show", c.cmd_show, "show a run and its tasks")
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("logs", c.cmd_logs, "print the logs of a run, or of one task in it")
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("task", nargs="?", help="only this task's lines")
    p.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing new lines until the run (or the task) has ended",
    )

    p = command("retry", c.cmd_retry, "re-run a finished run (only what failed with --failed-only)")
    p.add_argument("run", help=RUN_HELP)
    p.add_argument(
        "--failed-only",
        action="store_true",
        help="only failed, timed-out, upstream-failed and cancelled tasks",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="run it now in this process and wait for it (else podium up runs it)",
    )

    p = command("cancel", c.cmd_cancel, "cancel a run that has not finished")
    p.add_argument("run", help=RUN_HELP)

    p = command("pause", c.cmd_pause, "stop a workflow's schedules starting runs (every engine)")
    p.add_argument("workflow", help="the workflow whose schedules stop (its name: in workflows/)")
    p = command("resume", c.cmd_resume, "let a paused workflow's schedules tick again")
    p.add_argument("workflow", help="the paused workflow whose schedules tick again")

    p = command("extract", c.cmd_extract, "load one connection's streams into the warehouse now")
    p.add_argument("connection", help="the connection's id (connections: in podium.yaml)")
    p.add_argument(
        "--stream", action="append", default=[], metavar="S", help="only this stream (repeatable)"
    )
    p.add_argument(
        "--full-refresh", action="store_true", help="read everything again and replace the tables"
    )
    p.add_argument("--json", action="store_true", help="print what each load did as JSON")

    p = command("emit", c.cmd_emit, "store a named event; matching event triggers start runs")
    p.add_argument(
        "event", help="its name, e.g. orders_dropped; not a system event's (RunFinished, …)"
    )
    p.add_argument("--payload", default=None, metavar="JSON", help="a JSON object")

    p = command("backfill", c.cmd_backfill, "one run per schedule tick between two dates")
    p.add_argument("workflow", help="a workflow with a schedule trigger")
    p.add_argument(
        "--start", required=True, metavar="DATE", help="the first tick's date, e.g. 2026-11-01"
    )
    p.add_argument(
        "--end", required=True, metavar="DATE", help="the last date (a bare date: that whole day)"
    )
    p.add_argument("--wait", action="store_true", help="run them now in this process")

    p = command("graph", c.cmd_graph, "print a workflow's task graph")
    p.add_argument("workflow", help="the workflow's name")
    p.add_argument(
        "--format",
        choices=["text", "dot"],
        default="text",
        help="text (default) or dot, for Graphviz",
    )

    from podium.cli import sandbox

    p = command("sandbox", sandbox.cmd_sandbox, "start, stop or show the commerce API simulators")
    sandbox.add_arguments(p)

    p = command("assets", c.cmd_assets, "list every asset: last update, completeness, rows")
    p.add_argument("--json", action="store_true", help="print JSON")

    from podium.cli import models

    p = command("models", models.cmd_models, "list, draw, compile or run the SQL models")
    models.add_arguments(p)
    p = command("checks", models.cmd_checks, "run data checks now and show what fails")
    p.add_argument(
        "selector", nargs="?", help="a check's name, checks/FILE.yaml, or a model selector"
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    from podium.cli import syncs

    p = command(
        "sync", syncs.cmd_sync, "list the syncs, preview what one would send, or run it now"
    )
    syncs.add_arguments(p)

    from podium.cli import prune

    p = command(
        "prune", prune.cmd_prune, "forget old runs, events, logs and deliveries (retention:)"
    )
    prune.add_arguments(p)

    from podium.cli import demo

    p = command(
        "demo",
        demo.cmd_demo,
        "write a commerce demo project pointed at local simulators and run its daily workflow",
    )
    demo.add_arguments(p)

    from podium.cli import webhooks

    p = command(
        "webhooks", webhooks.cmd_webhooks, "list the webhook inbox, show or replay a delivery"
    )
    webhooks.add_arguments(p)

    from podium.cli import access, remote

    p = command("users", access.cmd_users, "add, list, change or remove who may log in")
    access.add_users_arguments(p)
    p = command("tokens", access.cmd_tokens, "create, list or revoke API tokens")
    access.add_tokens_arguments(p)
    remotes = {
        "run": remote.cmd_run,
        "runs": remote.cmd_runs,
        "show": remote.cmd_show,
        "logs": remote.cmd_logs,
        "retry": remote.cmd_retry,
        "cancel": remote.cmd_cancel,
        "emit": remote.cmd_emit,
        "pause": remote.cmd_pause,
        "resume": remote.cmd_resume,
    }
    for name, remote_command in remotes.items():  # --server/$PODIUM_SERVER: use its API
        remote.enable(sub.choices[name], remote_command)
    from podium.cli import completion

    p = command("completion", completion.cmd_completion, "print a shell completion script")
    completion.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.project = find_project(args.project, walk_up=args.command not in _NO_WALK_UP)
    try:
        code = int(args.func(args) or 0)
    except ProjectError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found", file=sys.stderr)
        code = 2
    except StoreUnavailableError as exc:
        print(f"podium: {exc}", file=sys.stderr)
        code = EXIT_STORE_UNAVAILABLE
    except (UsageError, StoreError) as exc:
        print(f"podium: {exc}", file=sys.stderr)
        code = 2
    except PodiumError as exc:
        print(f"podium: {exc}", file=sys.stderr)
        code = 1
    except BrokenPipeError:  # `podium logs RUN | head`: the reader left; not an error
        sys.stderr.close()
        code = 0
    except KeyboardInterrupt:
        print("podium: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001 - the CLI edge: never a bare traceback
        if os.environ.get("PODIUM_DEBUG"):
            traceback.print_exc()
        print(
            f"podium: unexpected error: {type(exc).__name__}: {exc} (this is a bug in podium;"
            " set PODIUM_DEBUG=1 to see the traceback and please report it)",
            file=sys.stderr,
        )
        code = 1
    return code


def find_project(given: str | None, *, walk_up: bool, start: Path | None = None) -> str:
    """``--project`` as given; without it, the nearest folder from ``start`` (here) up
    that holds a podium.yaml, or ``start`` itself when none does."""
    if given is not None:
        return given
    here = (start or Path.cwd()).resolve()
    if walk_up:
        for folder in (here, *here.parents):
            if (folder / "podium.yaml").is_file():
                return str(folder)
    return str(here) if start else "."


if __name__ == "__main__":
    raise SystemExit(main())
