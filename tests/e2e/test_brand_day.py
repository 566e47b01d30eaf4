"""`make bench`'s large brand's day, at a small scale, as a test: the commerce template's
first load, one simulated day, the incremental daily run, and after each the warehouse's
daily sales equal to the brand's ground truth to the cent (bench/brandday.py's ``run_case``:
the very path the benchmark measures). On DuckDB only, to keep the suite within CI's time:
test_commerce_model.py proves the same first load, day and truth on PostgreSQL, and `make
bench` runs this case on PostgreSQL when PODIUM_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tests.postgres_schemas import POSTGRES_URL

BENCH = Path(__file__).resolve().parents[2] / "bench" / "brandday.py"
SOURCES = ("shopify", "amazon", "netsuite", "klaviyo")


def brandday() -> ModuleType:
    if str(BENCH.parent) not in sys.path:  # it imports its sibling benchmarks, as run.py does
        sys.path.append(str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("podium_bench_brandday", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_brands_first_load_and_next_day_equal_the_ground_truth(tmp_path: Path) -> None:
    warehouse = "duckdb"
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
