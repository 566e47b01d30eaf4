"""The connector benchmark: each commerce connector's full sync against its simulator.

Each ``bench/connector_<api>.py`` runs one full sync at the simulator's *default* rate
limits (the simulator in a child process) and returns its records, seconds, records/s,
and the most records/s those limits allow (``max_records_per_s``, derived in that
script's docstring). Targets (issue 23): where the limits bind, ``share`` (records/s over
that maximum) ≥ 90 %; where they do not (Shopify bulk results, NetSuite pages, Klaviyo at
this size), ≥ 50,000 records/s through podium into DuckDB.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIND_TARGET = 0.90
FREE_TARGET = 50_000
APIS = ("shopify", "amazon", "netsuite", "klaviyo")


def run_connectors() -> tuple[list[tuple[str, str]], list[str]]:
    """(rows for the summary table, failures); every connector is tried."""
    sys.path.insert(0, str(HERE))
    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    for api in APIS:
        print(f"running connector {api}...", file=sys.stderr, flush=True)
        try:
            result: dict[str, Any] = importlib.import_module(f"connector_{api}").measure()
        except Exception as exc:  # noqa: BLE001 - one broken connector must not hide the rest
            failures.append(f"connector {api}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            continue
        print(f"connector {api}: {json.dumps(result)}", file=sys.stderr, flush=True)
        rows.extend(_rows(api, result))
    return rows, failures


def _rows(api: str, r: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary rows of one connector's result, each figure beside its target."""
    head = f"{r['records']:,} records in {r['seconds']:.1f} s = {r['records_per_s']:,.0f}/s"
    if api == "shopify":
        return [
            (
                "connector shopify: paged (cost-bound)",
                f"{r['paged_records']:,} records in {r['paged_seconds']:.1f} s, the points "
                f"allow {r['min_seconds']:.1f} s → {r['share']:.0%} {_mark(r['share'], True)}",
            ),
            (
                "connector shopify: bulk results",
                f"{r['bulk_records']:,} records, {r['bulk_records_per_s']:,.0f}/s "
                f"{_mark(r['bulk_records_per_s'], False)}; podium's own "
                f"{r['bulk_own_records_per_s']:,.0f}/s",
            ),
        ]
    if r.get("binds"):
        return [
            (
                f"connector {api}: full sync, default limits",
                f"{head}; limits allow {r['max_records_per_s']:,.0f}/s → "
                f"{r['share']:.0%} {_mark(r['share'], True)}",
            )
        ]
    return [
        (
            f"connector {api}: full sync (limits do not bind)",
            f"{head} {_mark(r['records_per_s'], False)}; podium's own "
            f"{r['own_records_per_s']:,.0f}/s",
        )
    ]


def _mark(value: float, binds: bool) -> str:
    if binds:
        return f"(target ≥ {BIND_TARGET:.0%}: {'met' if value >= BIND_TARGET else 'MISSED'})"
    return f"(target ≥ {FREE_TARGET:,}/s: {'met' if value >= FREE_TARGET else 'MISSED'})"
