"""Dagster side of podium's orchestration-overhead benchmark.

Run with the Python of the Dagster virtual environment (see ``runner.py``)::

    python dagster_shapes.py --shape fanout|chain --tasks 1000 --repeat 3

Shapes (a job of N trivial ``@op``s built with the graph/job API):

* ``fanout``: N independent ops (``noop.alias(f"t{i}")()``), no dependencies.
* ``chain``: op i takes op i-1's output as its input.

Each shape is executed with ``job.execute_in_process`` (Dagster's in-process executor)
against two instances, one JSON line per variant:

* ``in_process_ephemeral``: a fresh ``DagsterInstance.ephemeral()`` per repetition
  (in-memory run and event storage).
* ``in_process_sqlite``: one ``DagsterInstance.local_temp()`` reused for all repetitions
  (the stock persistent setup: SQLite run/event-log/schedule storage and local compute
  log capture in a temp dir) - the fair comparison with podium's durable SQLite state.

The job definitions and the instances are created outside the timed region; each
repetition times ``execute_in_process`` completely.  Console logging is set to ERROR via
the run config (events are still written to the instance), telemetry is disabled and
``DAGSTER_HOME`` points at a throw-away directory, so nothing leaves the machine.

Output: one JSON line per variant on stdout (everything else goes to stderr).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from shapes_common import isolate_stdout, parse_shape_args, shape_parser, write_results

VARIANTS = ("in_process_ephemeral", "in_process_sqlite")
NO_TELEMETRY: dict[str, Any] = {"telemetry": {"enabled": False}}
QUIET_RUN_CONFIG: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shape_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--variant", choices=(*VARIANTS, "all"), default="all", help="default: both variants"
    )
    return parse_shape_args(parser, argv)


def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import dagster
    from dagster import DagsterInstance, In, Out, job, op

    @op(out=Out(int))
    def noop() -> int:
        return 0

    @op(ins={"x": In(int)}, out=Out(int))
    def noop_in(x: int) -> int:
        return x

    n = args.tasks

    @job(name="podium_bench_fanout")
    def fanout() -> None:
        for i in range(n):
            noop.alias(f"t{i}")()

    @job(name="podium_bench_chain")
    def chain() -> None:
        value = noop.alias("t0")()
        for i in range(1, n):
            value = noop_in.alias(f"t{i}")(value)

    the_job = fanout if args.shape == "fanout" else chain

    instance_factories: dict[str, Callable[[], DagsterInstance]] = {
        "in_process_ephemeral": lambda: DagsterInstance.ephemeral(settings=NO_TELEMETRY),
    }
    sqlite_instance: DagsterInstance | None = None

    def sqlite_factory() -> DagsterInstance:
        nonlocal sqlite_instance
        if sqlite_instance is None:
            # Same as DagsterInstance.local_temp() with no tempdir, but inside our private
            # DAGSTER_HOME and with an (empty) dagster.yaml so Dagster doesn't warn.
            root = tempfile.mkdtemp(prefix="instance-", dir=os.environ["DAGSTER_HOME"])
            open(os.path.join(root, "dagster.yaml"), "w").close()
            sqlite_instance = DagsterInstance.local_temp(tempdir=root, overrides=NO_TELEMETRY)
        return sqlite_instance

    instance_factories["in_process_sqlite"] = sqlite_factory
    variants = VARIANTS if args.variant == "all" else (args.variant,)

    lines: list[dict[str, Any]] = []
    for variant in variants:
        seconds: list[float] = []
        for _ in range(args.repeat):
            instance = instance_factories[variant]()
            start = time.perf_counter()
            result = the_job.execute_in_process(instance=instance, run_config=QUIET_RUN_CONFIG)
            elapsed = time.perf_counter() - start
            succeeded = sum(1 for event in result.all_events if event.is_step_success)
            if not result.success or succeeded != n:
                raise RuntimeError(f"{variant}: success={result.success}, {succeeded}/{n} steps")
            seconds.append(elapsed)
            print(f"[dagster] {args.shape}/{variant}: {elapsed:.2f}s", file=sys.stderr, flush=True)
        lines.append(
            {
                "peer": "dagster",
                "version": dagster.__version__,
                "variant": variant,
                "shape": args.shape,
                "tasks": n,
                "seconds": [round(s, 4) for s in seconds],
                "median_ms_per_task": round(statistics.median(seconds) * 1000.0 / n, 4),
                "python": sys.version.split()[0],
            }
        )
    if sqlite_instance is not None:
        sqlite_instance.dispose()
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    home = tempfile.mkdtemp(prefix="podium-bench-dagster-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["DAGSTER_HOME"] = home
    result_fd = isolate_stdout()
    lines = _run(args)
    write_results(result_fd, lines)
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
