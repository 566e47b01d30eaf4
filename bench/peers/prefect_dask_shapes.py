"""Prefect 3 side of podium's Dask executor benchmark (bench/dask_bench.py).

Run with the Python of the prefect-dask virtual environment (see ``runner.py``)::

    python prefect_dask_shapes.py --tasks 2000 --work-ms 50 --workers 2 --threads-per-worker 1

One flow with ``DaskTaskRunner(cluster_kwargs={"n_workers": W, "threads_per_worker": T})``
(a ``distributed.LocalCluster`` the task runner starts when the flow starts) submits N
independent tasks, each ``time.sleep(work)``, and waits for all of them. Prefect runs in its
default local setup, as in ``prefect_shapes.py``: the ephemeral API server on SQLite in a
throw-away ``PREFECT_HOME``, analytics off, nothing leaves the machine.

After the flow returns, the script drains the client's event queues and polls the API until
all N task runs are recorded COMPLETED, then reads them back: the makespan is the first task
run's ``start_time`` to the last one's ``end_time`` as the API has them. The span measured
inside the tasks (first start to last end, wall clock) is reported beside it, and so is the
flow call (cluster start and stop included); the API server is started before it (timed
separately), so the flow call does not pay for it.

Output: ONE JSON line on stdout (everything else goes to stderr).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from typing import Any

from prefect_shapes import _configure_environment
from shapes_common import isolate_stdout, write_results

POLL_INTERVAL_S = 0.25
RECORD_TIMEOUT_S = 600.0
PAGE = 200


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--work-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument(
        "--server",
        choices=("ephemeral", "shared"),
        default="ephemeral",
        help="ephemeral: every process starts its own API server, Prefect's default without"
        " PREFECT_API_URL; shared: the Dask workers use the flow process's server",
    )
    return parser.parse_args(argv)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    from importlib.metadata import version

    import prefect
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.events.worker import EventsWorker
    from prefect.futures import wait
    from prefect.logging.handlers import APILogWorker
    from prefect_dask import DaskTaskRunner

    work_s = args.work_ms / 1000

    @task
    def work(i: int) -> tuple[float, float]:
        started = time.time()
        time.sleep(work_s)
        return started, time.time()

    runner = DaskTaskRunner(
        cluster_kwargs={"n_workers": args.workers, "threads_per_worker": args.threads_per_worker}
    )

    @flow(name="podium-bench-dask", task_runner=runner)
    def many(n: int) -> list[tuple[float, float]]:
        futures = [work.submit(i) for i in range(n)]
        wait(futures)
        return [f.result() for f in futures]

    started = time.perf_counter()
    with get_client(sync_client=True) as client:  # the ephemeral API server, started first
        client.hello().raise_for_status()
        if args.server == "shared":  # the workers (spawned later) inherit the environment
            os.environ["PREFECT_API_URL"] = str(client.api_url).rstrip("/")
    server_s = time.perf_counter() - started
    started = time.perf_counter()
    state = many(args.tasks, return_state=True)
    flow_s = time.perf_counter() - started
    if not state.is_completed():
        raise RuntimeError(f"flow run ended in state {state!r}")
    spans = state.result()
    flow_run_id = state.state_details.flow_run_id

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
            completed = int(response.json())
            if completed >= args.tasks or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL_S)
        runs = []
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=PAGE,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < PAGE:
                break
    starts = [r.start_time for r in runs if r.start_time is not None]
    ends = [r.end_time for r in runs if r.end_time is not None]
    if not starts or not ends:
        raise RuntimeError(f"the API has no start or end time for the {len(runs)} task runs")
    return {
        "peer": "prefect-dask",
        "version": prefect.__version__,
        "prefect_dask": version("prefect-dask"),
        "distributed": version("distributed"),
        "tasks": args.tasks,
        "task_runs": len(runs),
        "completed": completed,
        "makespan_s": (max(ends) - min(starts)).total_seconds(),
        "in_task_span_s": max(e for _, e in spans) - min(s for s, _ in spans),
        "server": args.server,
        "flow_s": flow_s,
        "server_start_s": server_s,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    home = tempfile.mkdtemp(prefix="podium-bench-prefect-dask-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # after Prefect's own hooks
    _configure_environment(home)
    result_fd = isolate_stdout()
    result = _run(args)
    write_results(result_fd, [result])
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
