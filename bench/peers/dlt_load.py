"""dlt side of podium's loading benchmark: its REST API source into duckdb or postgres.

Run with the Python of the dlt virtual environment (see ``runner.py``)::

    python dlt_load.py --base-url http://127.0.0.1:PORT --destination duckdb \\
        --workdir DIR [--postgres-url URL --dataset NAME]

The pipeline is what dlt's documentation shows for a Shopify-style API: ``rest_api_source``
with a ``header_link`` paginator on ``/orders.json``, ``data_selector: orders``, primary
key ``id`` and ``write_disposition: merge``, everything else dlt's defaults (nested
``line_items`` become the child table ``orders__line_items``; the loader file format is
the destination's preferred one). The destination is fresh: a new duckdb file in
``--workdir``, or a new ``--dataset`` schema in PostgreSQL (the caller drops it).
Pipeline state, dlt's data dir and the working directory are all inside ``--workdir``,
and telemetry is off (``RUNTIME__DLTHUB_TELEMETRY=false``), so nothing leaves the machine.

Timing: ``seconds`` is extract + normalize + load (``pipeline.run`` done as its three
steps, each also reported), after imports. Peak RSS is the larger of this process's and
any child's maximum resident set (dlt may normalize in worker processes).

Output: ONE JSON line on stdout with the row counts read back from the destination.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shapes_common import isolate_stdout, write_results


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--destination", choices=("duckdb", "postgres"), required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--dataset", default="raw_orders_api")
    parser.add_argument(
        "--file-format",
        choices=("default", "parquet", "jsonl", "csv"),
        default="default",
        help="dlt's loader_file_format (default: the destination's preferred one)",
    )
    return parser.parse_args(argv)


def _configure_environment(workdir: Path) -> None:
    """A private, offline dlt (before importing it): no telemetry, no ~/.dlt, no ./.dlt."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    os.environ.update(
        {
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": str(workdir / "dlt-data"),
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
    )


def rest_config(base_url: str) -> dict[str, Any]:
    return {
        "client": {"base_url": base_url, "paginator": {"type": "header_link"}},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {"name": "orders", "endpoint": {"path": "orders.json", "data_selector": "orders"}}
        ],
    }


def _destination(args: argparse.Namespace) -> Any:
    import dlt

    if args.destination == "duckdb":
        return dlt.destinations.duckdb(str(args.workdir / "warehouse.duckdb"))
    return dlt.destinations.postgres(_with_password(args.postgres_url))


def _with_password(url: str) -> str:
    """dlt insists on a password; a server with trust auth ignores whatever is sent."""
    parts = urlsplit(url)
    if parts.password is not None or "@" not in parts.netloc:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user}:unused@{host}"))


def _count(pipeline: Any, table: str) -> int:
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        rows = client.execute_sql(f"SELECT count(*) FROM {name}")
    return int(rows[0][0])


def _peak_rss_kib() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    args.workdir = args.workdir.resolve()
    _configure_environment(args.workdir)
    result_fd = isolate_stdout()
    import dlt
    from dlt.sources.rest_api import rest_api_source

    pipeline = dlt.pipeline(
        pipeline_name="bench_orders",
        pipelines_dir=str(args.workdir / "pipelines"),
        destination=_destination(args),
        dataset_name=args.dataset,
    )
    source = rest_api_source(rest_config(args.base_url), name="orders_api")
    file_format = None if args.file_format == "default" else args.file_format
    steps: dict[str, float] = {}
    started = time.perf_counter()
    pipeline.extract(source, loader_file_format=file_format)
    steps["extract_s"] = time.perf_counter() - started
    pipeline.normalize()
    steps["normalize_s"] = time.perf_counter() - started - steps["extract_s"]
    pipeline.load().raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    steps["load_s"] = seconds - steps["extract_s"] - steps["normalize_s"]
    result = {
        "peer": "dlt",
        "version": dlt.__version__,
        "destination": args.destination,
        "write_disposition": "merge",
        "file_format": args.file_format,
        "orders": _count(pipeline, "orders"),
        "line_items": _count(pipeline, "orders__line_items"),
        "seconds": seconds,
        **steps,
        "peak_rss_kib": _peak_rss_kib(),
    }
    write_results(result_fd, [result])
    return 0


if __name__ == "__main__":
    sys.exit(main())
