"""The connector benchmark: each commerce connector's full sync against its simulator.

Each ``bench/connector_<api>.py`` runs one full sync at the simulator's *default* rate
limits and returns its records, seconds, records/s, and the most records/s those limits
allow (``max_records_per_s``, derived in that script's docstring); ``share`` is the first
over the second: how much of the API budget the connector turns into data.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
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
        rows.append(
            (
                f"connector {api}: full sync, default limits",
                f"{result['records']:,} records in {result['seconds']:.1f} s = "
                f"{result['records_per_s']:,.0f}/s; limits allow {result['max_records_per_s']:,.0f}/s"
                f" → {result['share']:.0%} of the budget",
            )
        )
    return rows, failures
