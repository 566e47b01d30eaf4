"""Prefect 3 side of podium's orchestration-overhead benchmark.

Run with the Python of the Prefect virtual environment (see ``runner.py``)::

    python prefect_shapes.py --shape fanout|chain --tasks 1000 --repeat 3

Shapes (N no-op tasks, default task runner = ``ThreadPoolTaskRunner``):

* ``fanout``: N independent tasks submitted with ``noop.map(...)``; the flow waits on
  every future before returning.
* ``chain``: task i receives the future of task i-1 as its argument (a data dependency),
  so Prefect resolves the upstream result before running it.  ``--variant call`` instead
  calls the task directly (``x = noop(x)``), the other idiomatic way to write a
  sequential chain; it is not part of the default benchmark.

Prefect runs with its default local setup: no ``PREFECT_API_URL``, so the client starts
the ephemeral API server (a loopback subprocess) backed by SQLite in a throw-away
``PREFECT_HOME``.  Analytics/telemetry are off and console logging is WARNING, so
nothing leaves the machine.

Timing: each repetition times the flow call only (after imports; the first repetition
also pays for starting the ephemeral server and migrating its database).  Prefect 3
reports task-run states to the API asynchronously (events), so after each call the
script also drains the client's event/log queues and polls the API until all N task runs
are recorded COMPLETED; that extra time is reported separately as
``recorded_seconds`` (flow start -> all task runs durable) and is never part of
``seconds``.

Output: ONE JSON line on stdout (everything else, including Prefect's and the server's
own output, goes to stderr).
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
from typing import Any

from shapes_common import isolate_stdout, parse_shape_args, shape_parser, write_results

POLL_INTERVAL_S = 0.25
RECORD_TIMEOUT_S = 600.0


def _configure_environment(home: str) -> None:
    """Pin Prefect to a private, offline, quiet local setup (before importing prefect)."""
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "PREFECT_HOME": home,
            "PREFECT_PROFILES_PATH": os.path.join(home, "profiles.toml"),
            # What the stock "ephemeral" profile sets: start a local API when no URL is set.
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
            "PREFECT_LOGGING_LOG_PRINTS": "false",
        }
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shape_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--variant",
        choices=("submit", "call"),
        default="submit",
        help="submit: futures on the ThreadPoolTaskRunner (default); "
        "call: direct task calls (chain only)",
    )
    args = parse_shape_args(parser, argv)
    if args.variant == "call" and args.shape != "chain":
        parser.error("--variant call only applies to --shape chain")
    return args


def _run(args: argparse.Namespace) -> dict[str, Any]:
    import prefect
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    @task
    def noop(x: int) -> int:
        return x

    @flow(name="podium-bench-fanout")
    def fanout(n: int) -> int:
        futures = noop.map(range(n))
        futures.wait()
        return len(futures.result())

    @flow(name="podium-bench-chain")
    def chain(n: int) -> int:
        future = noop.submit(0)
        for _ in range(n - 1):
            # Passing the upstream future is a data dependency: Prefect waits for it and
            # substitutes its result (its type stubs don't model that, hence the ignore).
            future = noop.submit(future)  # type: ignore[call-overload]
        return int(future.result())

    @flow(name="podium-bench-chain-call")
    def chain_call(n: int) -> int:
        value = noop(0)
        for _ in range(n - 1):
            value = noop(value)
        return int(value)

    flows: dict[str, Any] = {"fanout": fanout, "chain": chain}
    if args.variant == "call":
        flows["chain"] = chain_call
    the_flow = flows[args.shape]
    expected = args.tasks if args.shape == "fanout" else 0

    def wait_until_recorded(flow_run_id: Any) -> None:
        for worker in (EventsWorker, APILogWorker):
            worker.drain_all(timeout=RECORD_TIMEOUT_S, at_exit=False)
        body = {
            "flow_runs": {"id": {"any_": [str(flow_run_id)]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }
        deadline = time.monotonic() + RECORD_TIMEOUT_S
        with get_client(sync_client=True) as client:
            while True:
                response = client._client.post("/task_runs/count", json=body)
                response.raise_for_status()
                if int(response.json()) >= args.tasks:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"only {response.json()}/{args.tasks} task runs recorded COMPLETED"
                    )
                time.sleep(POLL_INTERVAL_S)

    seconds: list[float] = []
    recorded: list[float] = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        state = the_flow(args.tasks, return_state=True)
        elapsed = time.perf_counter() - start
        if not state.is_completed():
            raise RuntimeError(f"flow run ended in state {state!r}")
        value = state.result()
        if value != expected:
            raise RuntimeError(f"unexpected flow result {value!r}, wanted {expected!r}")
        wait_until_recorded(state.state_details.flow_run_id)
        recorded.append(time.perf_counter() - start)
        seconds.append(elapsed)
        print(
            f"[prefect] {args.shape}/{args.variant}: {elapsed:.2f}s "
            f"(recorded after {recorded[-1]:.2f}s)",
            file=sys.stderr,
            flush=True,
        )

    return {
        "peer": "prefect",
        "version": prefect.__version__,
        "variant": f"threadpool_{args.variant}" if args.variant == "submit" else "direct_call",
        "shape": args.shape,
        "tasks": args.tasks,
        "seconds": [round(s, 4) for s in seconds],
        "median_ms_per_task": round(statistics.median(seconds) * 1000.0 / args.tasks, 4),
        "recorded_seconds": [round(s, 4) for s in recorded],
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    home = tempfile.mkdtemp(prefix="podium-bench-prefect-")
    # Registered before prefect is imported, so it runs after Prefect's own atexit hooks
    # (which stop the ephemeral server that still has its SQLite file open).
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    _configure_environment(home)
    result_fd = isolate_stdout()
    result = _run(args)
    write_results(result_fd, [result])
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
