"""`make bench`'s large brand's day, at a small scale, as a test: the commerce template's
first load, one simulated day, the incremental daily run, and after each the warehouse's
daily sales equal to the brand's ground truth to the cent, on DuckDB and PostgreSQL
(bench/brandday.py's ``run_case``: the very path the benchmark measures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.postgres_schemas import POSTGRES_URL, SKIP_POSTGRES

BENCH = Path(__file__).resolve().parents[2] / "bench" / "brandday.py"
SOURCES = ("shopify", "amazon", "netsuite", "klaviyo")


def brandday() -> ModuleType:
    spec = importlib.util.spec_from_file_location("podium_bench_brandday", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("warehouse", ["duckdb", "postgres"])
def test_a_brands_first_load_and_next_day_equal_the_ground_truth(
    tmp_path: Path, warehouse: str
) -> None:
    if warehouse == "postgres" and not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    bench = brandday()
    options = bench.Options(orders_per_year=20_000, days=14, postgres_url=POSTGRES_URL or "")
    case = bench.run_case(warehouse, options, tmp_path)
    for run in (case.first, case.daily):
        assert run.failed == {} and run.status == "succeeded", run.failed
        assert run.truth_equal, run.differences
    assert case.orders_after_a_day > case.orders > 0  # the day brought new orders
    # every source was asked again the next day, and every phase was timed
    assert all(case.daily.requests[api] > 0 for api in SOURCES), case.daily.requests
    timed = set(case.daily.phases)
    assert {f"extract {api}" for api in SOURCES} <= timed
    assert {"models (checks included)", "checks", "push_vip"} <= timed
    assert case.daily.floors["netsuite"] is None and case.daily.floors["amazon"] is not None
