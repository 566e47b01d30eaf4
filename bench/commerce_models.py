"""The commerce models benchmark: the whole commerce model rebuilt on a year of data.

1. Data: one year (2025) of a consumer brand's raw tables, generated with SQL inside
   DuckDB (hash-based pseudo-randomness, so every run makes the same rows) and shaped as
   podium's connectors land them: ``raw_shopify``, ``raw_amazon``, ``raw_netsuite``,
   ``raw_klaviyo``, ``raw_retailers`` and ``raw_ad_spend``, with podium's ``_key``,
   ``_load_id``, ``_extracted_at``, ``_deleted`` (parents) and ``_root_key``,
   ``_parent_key``, ``_pos`` (children) columns; composite keys are joined with podium's
   separator (U+001F). ``--orders`` orders in all: 70% Shopify (dtc), 28% Amazon
   (marketplace), 2% NetSuite wholesale sales orders, 1-4 lines each (wholesale 3-6),
   ~6% refunded, one catalogue of 200 SKUs shared by every channel, a customer per five
   orders (Shopify customers and Klaviyo profiles with the same emails, plus 10% email
   subscribers who never bought), ~1 Klaviyo event per order (Placed Order, Opened and
   Clicked Email), retailers' weekly sell-through and daily ad spend. Each row's
   ``_extracted_at`` is the daily load after it last changed, as a year of daily extracts
   would leave it, so an incremental model's second run merges only the last day.
2. Warehouses: the DuckDB file it was generated in, and PostgreSQL (``--postgres-url``,
   schemas under a ``bench_<pid>_`` prefix, dropped at the end) filled from that file
   with ``COPY ... FROM STDIN`` (CSV) and ``ANALYZE``d, with the server's settings as
   they are. PostgreSQL is skipped, saying why, when it does not answer.
3. Models: a project made from the ``commerce`` template (``init_project``) whose
   podium.yaml names only that warehouse (``pii_key: bench-key``) and the template's
   connections with dummy settings; every model is built by ``run_models`` (what
   ``podium models run`` calls), then built again at once with nothing changed.

Seconds per model are podium's own ``Built.seconds`` (compile, create, swap, count rows),
then the checks declared on it (``CheckResult.seconds``, summed); "wall" is the whole
``run_models`` call. Each case runs once, in its own process, whose peak RSS
(``ru_maxrss``) is reported; for PostgreSQL that is the client only. The machine this was
written on has 2 cores. ``--keep`` leaves the project, the DuckDB file and the PostgreSQL
schemas in place (their names are printed) to look at a failure.

Command line (from the repository root)::

    .venv/bin/python bench/commerce_models.py [--orders 1000000]
        [--warehouse duckdb|postgres|both] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from commerce_data import ORDERS, Scale, copy_to_postgres, generate  # noqa: E402
from loading import POSTGRES_URL, drop_schemas, is_postgres_up  # noqa: E402

WAREHOUSES = ("duckdb", "postgres")


CONNECTIONS = """
connections:
  shopify: {type: shopify, shop: bench-shop, access_token: bench, api_version: "2025-10"}
  amazon:
    type: amazon
    refresh_token: bench
    client_id: bench
    client_secret: bench
    marketplace_ids: [ATVPDKIKX0DER]
  netsuite:
    type: netsuite
    account_id: "123456"
    timezone: America/Los_Angeles
    auth: {method: tba, consumer_key: b, consumer_secret: b, token_id: b, token_secret: b}
  klaviyo: {type: klaviyo, api_key: pk_bench000000000000000000000000, revision: "2025-10-15"}
  retailers:
    type: files
    path: inbox/retailers
    streams:
      sell_through:
        pattern: "sell_through_*.csv"
        primary_key: [retailer, store_id, sku, week]
        write_mode: merge
  ad_spend:
    type: files
    path: inbox/ad_spend
    streams:
      spend: {pattern: "*.csv", primary_key: [date, platform, campaign_id], write_mode: merge}
"""


def write_project(root: Path, warehouse: dict[str, str]) -> Path:
    """The commerce template in ``root``, its podium.yaml naming only ``warehouse`` and the
    template's connections with dummy settings (nothing is extracted)."""
    from podium.project import init_project

    init_project(root, "commerce")
    settings = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in warehouse.items())
    (root / "podium.yaml").write_text(
        f"store: sqlite:///.podium/state.db\nwarehouse:\n{settings}  pii_key: bench-key\n"
        + CONNECTIONS
    )
    return root


@dataclass(frozen=True)
class Run:
    """One ``run_models`` of every model: what was built (podium's ``Built``) and what not."""

    built: list[dict[str, Any]]
    failed: dict[str, str]
    skipped: dict[str, str]
    wall_s: float

    def seconds(self) -> float:
        return sum(float(b["seconds"]) for b in self.built)

    def checks_seconds(self) -> float:
        return sum(float(b["checks_s"]) for b in self.built)


@dataclass
class Case:
    warehouse: str
    runs: list[Run]  # the full rebuild, then again at once with nothing changed
    peak_rss_kib: int  # of the process that ran the models
    load_s: float = 0.0  # PostgreSQL: COPY + ANALYZE of the raw tables
    settings: dict[str, str] = field(default_factory=dict)


def build_models(root: Path, warehouse: str) -> list[Run]:
    """Every model, twice: the full rebuild, then again at once with nothing changed."""
    from podium.project import load_project

    project = load_project(root)
    return [_run_models(project, f"{warehouse} {label}") for label in ("build", "again")]


def _run_models(project: Any, what: str) -> Run:
    from podium.transforms.service import run_models

    timings = _Timings(what)
    started = time.perf_counter()
    result = run_models(
        project,
        "*",
        on_built=timings.built,
        on_failed=timings.failed,
        on_checked=timings.checked,
    )
    wall = time.perf_counter() - started
    built = [
        b.to_json() | {"seconds": b.seconds, "checks_s": timings.checks.get(b.model, 0.0)}
        for b in result.built
    ]
    return Run(built, dict(result.failed), dict(result.skipped), wall)


class _Timings:
    """Progress on stderr, and the seconds of the checks that ran after each model."""

    def __init__(self, what: str) -> None:
        self.what, self.current = what, ""
        self.checks: dict[str, float] = {}

    def built(self, built: Any) -> None:
        self.current = built.model
        _progress(f"  {self.what}: {built.model} {built.seconds:.2f} s")

    def checked(self, check: Any) -> None:
        self.checks[self.current] = self.checks.get(self.current, 0.0) + check.seconds
        outcome = "passed" if check.passed else "FAILED"
        _progress(f"    check {check.name}: {outcome}, {check.seconds:.2f} s")

    def failed(self, name: str, error: str) -> None:
        _progress(f"  {self.what}: {name} FAILED: {error[:300]}")


def _measured(function: Callable[..., Any], *args: Any) -> tuple[Any, float, int]:
    """``function(*args)``, its seconds and this process's peak RSS (KiB), in a child."""
    started = time.perf_counter()
    value = function(*args)
    seconds = time.perf_counter() - started
    return value, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def in_child(function: Callable[..., Any], *args: Any) -> tuple[Any, float, int]:
    """Runs ``function`` in a fresh process, so its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_measured, function, *args).result()


@dataclass
class Report:
    scale: Scale
    raw_rows: dict[str, int] = field(default_factory=dict)
    generate_s: float = 0.0
    generate_rss_kib: int = 0
    cases: list[Case] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(
            not r.failed and not r.skipped for c in self.cases for r in c.runs
        )


@dataclass(frozen=True)
class Options:
    orders: int = ORDERS
    warehouses: Sequence[str] = WAREHOUSES
    postgres_url: str = POSTGRES_URL
    keep: bool = False


def run_benchmark(options: Options) -> Report:
    report = Report(Scale.of(options.orders))
    warehouses = list(options.warehouses)
    if "postgres" in warehouses and not is_postgres_up(options.postgres_url):
        report.notes.append(f"PostgreSQL skipped: nothing answered at {options.postgres_url}")
        warehouses.remove("postgres")
    if not warehouses:
        return report
    work = Path(tempfile.mkdtemp(prefix="podium-bench-models-"))
    data = work / "warehouse.duckdb"
    prefix = f"bench_{os.getpid()}_"
    try:
        report.raw_rows, report.generate_s, report.generate_rss_kib = in_child(
            generate, data, report.scale
        )
        for warehouse in warehouses:
            try:
                report.cases.append(_run_case(warehouse, work, data, options, prefix))
            except Exception as exc:  # noqa: BLE001 - one broken case must not hide the other
                report.failures.append(f"{warehouse}: {type(exc).__name__}: {exc}")
    finally:
        if options.keep:
            report.notes.append(f"kept {work} (and PostgreSQL schemas {prefix}*)")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if "postgres" in warehouses:
                drop_schemas(options.postgres_url, prefix)
    return report


def _run_case(warehouse: str, work: Path, data: Path, options: Options, prefix: str) -> Case:
    if warehouse == "duckdb":
        root = write_project(work / "duckdb", {"type": "duckdb", "path": str(data)})
        runs, _, rss = in_child(build_models, root, warehouse)
        return Case(warehouse, runs, rss)
    settings, load_s, _ = in_child(copy_to_postgres, data, options.postgres_url, prefix)
    root = write_project(
        work / "postgres",
        {"type": "postgres", "url": options.postgres_url, "schema_prefix": prefix},
    )
    runs, _, rss = in_child(build_models, root, warehouse)
    return Case(warehouse, runs, rss, load_s, settings)


# -- the report -------------------------------------------------------------------------


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def format_table(report: Report) -> str:
    names: list[str] = []
    for case in report.cases:
        for run in case.runs:
            for name in [b["model"] for b in run.built] + [*run.failed, *run.skipped]:
                if name not in names:
                    names.append(name)
    header = ["model", "materialized", "rows"]
    for case in report.cases:
        header += [f"{case.warehouse} s", "checks s", "again s", "checks s"]
    lines = [header]
    for name in names:
        first = _built(report, name)
        line = [name, str(first.get("materialized", "")), f"{first['rows']:,}" if first else ""]
        for case in report.cases:
            line += _cells(case, name)
        lines.append(line)
    total = ["total (sum of models)", "", ""]
    wall = ["wall (run_models, checks included)", "", ""]
    for case in report.cases:
        for run in case.runs:
            total += [f"{run.seconds():.2f}", f"{run.checks_seconds():.2f}"]
            wall += [f"{run.wall_s:.2f}", ""]
    lines += [total, wall]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rule = ["-" * w for w in widths]
    out = [lines[0], rule, *lines[1:-2], rule, *lines[-2:]]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in out
    )


def _built(report: Report, name: str) -> dict[str, Any]:
    for case in report.cases:
        for b in case.runs[0].built:
            if b["model"] == name:
                return b
    return {}


def _cells(case: Case, name: str) -> list[str]:
    """Seconds to build ``name`` and to run its checks, in each run (or why not)."""
    cells = []
    for run in case.runs:
        built = next((b for b in run.built if b["model"] == name), None)
        if built is None:
            why = "FAILED" if name in run.failed else "skipped" if name in run.skipped else "-"
            cells += [why, ""]
        else:
            cells += [f"{built['seconds']:.2f}", f"{built['checks_s']:.2f}"]
    return cells


def row_differences(report: Report) -> list[str]:
    """Models whose row counts differ between the warehouses (they should not)."""
    rows: dict[str, dict[str, int]] = {}
    for case in report.cases:
        for b in case.runs[0].built:
            rows.setdefault(b["model"], {})[case.warehouse] = int(b["rows"])
    return [
        f"{name}: " + ", ".join(f"{w} {n:,}" for w, n in counts.items())
        for name, counts in rows.items()
        if len(set(counts.values())) > 1
    ]


def print_report(report: Report) -> None:
    s = report.scale
    raw = sum(report.raw_rows.values())
    print(
        f"\ncommerce models: {s.orders:,} orders over one year ({s.shopify:,} Shopify, "
        f"{s.amazon:,} Amazon, {s.wholesale:,} NetSuite wholesale), {s.customers:,} customers"
    )
    print(
        f"raw data: {raw:,} rows in {len(report.raw_rows)} tables, generated in DuckDB in "
        f"{report.generate_s:.1f} s (peak RSS {_mib(report.generate_rss_kib)})"
    )
    for case in report.cases:
        if case.warehouse == "postgres":
            settings = ", ".join(f"{k} {v}" for k, v in case.settings.items())
            print(
                f"PostgreSQL: raw tables copied (COPY + ANALYZE) in {case.load_s:.1f} s; {settings}"
            )
    print(
        "one run per case, each in its own process; seconds are podium's own per model "
        "(Built.seconds), then its checks' (CheckResult.seconds); 'again' = run_models "
        "once more at once, nothing changed\n"
    )
    if report.cases:
        print(format_table(report))
        rss = ", ".join(f"{c.warehouse} {_mib(c.peak_rss_kib)}" for c in report.cases)
        print(f"peak RSS of the process running the models: {rss} (PostgreSQL: the client's)")
    for difference in row_differences(report):
        print(f"rows differ between warehouses: {difference}")
    for case in report.cases:
        for run in case.runs[:1]:
            for name, error in run.failed.items():
                print(f"FAILED on {case.warehouse}: {name}: {error}")
            for name, upstream in run.skipped.items():
                print(f"skipped on {case.warehouse}: {name} (reads {upstream}, which failed)")
    for note in report.notes:
        print(f"note: {note}")
    for failure in report.failures:
        print(f"FAILED: {failure}")


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """Lines for ``bench/run.py``'s summary table."""
    rows = []
    for case in report.cases:
        first, again = case.runs
        failed = f", {len(first.failed)} failed" if first.failed else ""
        rows.append(
            (
                f"models: commerce on {report.scale.orders:,} orders, {case.warehouse}",
                f"{len(first.built)} models in {first.wall_s:.1f} s{failed}; "
                f"again, nothing changed: {again.wall_s:.1f} s; peak RSS {_mib(case.peak_rss_kib)}",
            )
        )
    rows.extend(("models: FAILED", failure) for failure in report.failures)
    rows.extend(("models: note", note) for note in report.notes)
    return rows


def to_json(report: Report) -> dict[str, Any]:
    return asdict(report) | {"ok": report.ok, "row_differences": row_differences(report)}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """The options; ``prefix`` names them apart inside ``bench/run.py`` (``--model-orders``)."""
    parser.add_argument(
        f"--{prefix}orders", type=int, default=ORDERS, help="orders in the year of data"
    )
    parser.add_argument(
        f"--{prefix}warehouse",
        choices=["duckdb", "postgres", "both"],
        default="both",
        help="where to build the models",
    )


def options_from(args: argparse.Namespace, *, prefix: str = "") -> Options:
    attr = prefix.replace("-", "_")
    chosen = getattr(args, f"{attr}warehouse")
    return Options(
        orders=getattr(args, f"{attr}orders"),
        warehouses=WAREHOUSES if chosen == "both" else (chosen,),
        postgres_url=args.postgres_url,
        keep=getattr(args, "keep", False),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="keep the project, the data and the schemas"
    )
    args = parser.parse_args(argv)
    report = run_benchmark(options_from(args))
    if args.json:
        print(json.dumps(to_json(report), indent=2))
    else:
        print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
