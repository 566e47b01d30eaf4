"""Plain ``dbt build`` beside podium's dbt task, on the test dbt project (DuckDB).

    .venv/bin/python bench/dbt_shop_timing.py [FOLDER] [--runs 4]

Makes a podium project in FOLDER (default: a temporary one) around
``tests/dbt_projects/shop``, loads its raw tables with ``podium extract``, then times, in
turn: a ``dbt build`` CLI process over the selection (with the profile podium generated,
partial parsing on) and ``podium run`` of a workflow holding only the dbt task; for podium
also the span from the first node task's start to the last one's end, and how many dbt
invocations built the nodes. Not part of ``make bench``: the side-by-side with the
one-process-per-model pattern on a 50-model project is bench/dbt_bench.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SELECTION = "+orders +shop_revenue +customers_snapshot"
PODIUM_YAML = """warehouse: {type: duckdb}
connections:
  shop:
    type: files
    path: inbox/shop
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
      customers: {pattern: "customers*.csv", primary_key: id}
  amazon:
    type: files
    path: inbox/amazon
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
"""
INBOX = {
    "inbox/shop/orders1.csv": "id,customer_id,total\n1,1,10.50\n2,2,4.25\n",
    "inbox/shop/customers1.csv": "id,email\n1,a@example.com\n2,b@example.com\n",
    "inbox/amazon/orders1.csv": "id,customer_id,total\n3,1,7.00\n",
}


def write_project(root: Path) -> None:
    shutil.copytree(ROOT / "tests/dbt_projects/shop", root / "analytics")
    sources = root / "analytics/models/staging/sources.yml"  # plain dbt reads podium's schemas
    text = sources.read_text()
    text = text.replace("  - name: shop ", "  - schema: raw_shop\n    name: shop ")
    text = text.replace("  - name: marketplace ", "  - schema: raw_amazon\n    name: marketplace ")
    sources.write_text(text)
    files = {
        "podium.yaml": PODIUM_YAML,
        "workflows/dbtonly.yaml": (
            f"name: dbtonly\ntasks:\n  - id: dbt\n    dbt: analytics\n    select: {SELECTION}\n"
        ),
        **INBOX,
    }
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)


def timed(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.monotonic() - started, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    root = Path(args.folder or tempfile.mkdtemp(prefix="podium-dbt-"))
    shutil.rmtree(root, ignore_errors=True)
    write_project(root)
    podium, dbt = str(BIN / "podium"), str(BIN / "dbt")
    for connection in ("shop", "amazon"):
        timed(root, podium, "extract", connection)  # also parses the dbt project once
    profiles = str(root / ".podium/dbt/profiles/shop")
    plain, whole, span, invocations = [], [], [], set()
    for _ in range(args.runs):
        seconds, _done = timed(
            root, dbt, "build", "--project-dir", "analytics", "--profiles-dir", profiles,
            "--target", "podium", "--select", *SELECTION.split(),
        )  # fmt: skip
        plain.append(seconds)
        seconds, done = timed(root, podium, "run", "dbtonly", "--json")
        whole.append(seconds)
        tasks = json.loads(done.stdout)["tasks"]
        first = min(datetime.fromisoformat(t["started_at"]) for t in tasks)
        last = max(datetime.fromisoformat(t["finished_at"]) for t in tasks)
        span.append((last - first).total_seconds())
        invocations.add(len({t["output"]["invocation"]["number"] for t in tasks}))
    print(f"plain dbt build (a CLI process):      median {statistics.median(plain):.2f}s {plain}")
    print(f"podium run dbtonly (a CLI process):   median {statistics.median(whole):.2f}s {whole}")
    print(f"podium's node tasks, first to last:   median {statistics.median(span):.2f}s {span}")
    print(f"dbt invocations per podium run:       {sorted(invocations)}")


if __name__ == "__main__":
    main()
