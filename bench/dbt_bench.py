"""dbt: a 50-model project built three ways, side by side in one run (issue 21).

    .venv/bin/python bench/dbt_bench.py [--models 50] [--runs 1]
    .venv/bin/python bench/run.py --only dbt

The project is generated: two sources that podium's ``files`` connections load (orders and
customers), five staging models over them, and the rest in layers, each model reading one
or two models of the layer below (DuckDB tables). Timed, in turn, each in fresh processes:

- **plain dbt**: one ``dbt build`` CLI process over the whole project;
- **podium**: ``podium run`` of a workflow holding only the dbt task (the whole CLI process:
  project load, engine, one dbt invocation per batch); also the span from the first node
  task's start to the last one's end;
- **one process per model**: ``dbt run --select MODEL`` for each model in dependency order,
  one process each (what a scheduler that renders each dbt model as its own task does).

Targets: podium within 10 % (or 1 s) of plain ``dbt build``, and at least 5× faster than
one process per model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BIN = Path(sys.executable).parent
NAME = "bench50"
STAGING = 5

PODIUM_YAML = """warehouse: {type: duckdb}
connections:
  shop:
    type: files
    path: inbox
    streams:
      orders: {pattern: "orders*.csv", primary_key: id}
      customers: {pattern: "customers*.csv", primary_key: id}
"""
SOURCES_YML = """version: 2
sources:
  - name: shop
    schema: raw_shop
    tables:
      - name: orders
      - name: customers
"""


def model_sql(index: int, layer_of: dict[int, int]) -> tuple[str, list[int]]:
    """The SQL of model ``index`` (after the staging ones) and the models it reads."""
    layer = layer_of[index]
    below = [i for i, lay in layer_of.items() if lay == layer - 1]
    first = below[index % len(below)]
    second = below[(index * 7 + 3) % len(below)]
    reads = sorted({first, second})
    refs = [f"select id, amount from {{{{ ref('m{r:02d}') }}}}" for r in reads]
    return "select id, sum(amount) as amount from (\n" + "\nunion all\n".join(
        refs
    ) + "\n) group by id\n", reads


def write_project(root: Path, models: int) -> list[str]:
    """The podium project around a generated dbt project; the models in build order."""
    dbt = root / "analytics"
    (dbt / "models").mkdir(parents=True)
    (dbt / "dbt_project.yml").write_text(
        f"name: {NAME}\nversion: '1.0'\nprofile: {NAME}\n"
        "models:\n  " + NAME + ":\n    +materialized: table\n"
    )
    (dbt / "models" / "sources.yml").write_text(SOURCES_YML)
    order: list[str] = []
    for i in range(STAGING):
        table = "orders" if i % 2 == 0 else "customers"
        column = "total" if table == "orders" else "id"
        (dbt / "models" / f"m{i:02d}.sql").write_text(
            f"select id, cast({column} as double) * {i + 1} as amount"
            f" from {{{{ source('shop', '{table}') }}}}\n"
        )
        order.append(f"m{i:02d}")
    layer_of = {i: 0 for i in range(STAGING)}
    per_layer = 9
    for i in range(STAGING, models):
        layer_of[i] = 1 + (i - STAGING) // per_layer
        sql, _reads = model_sql(i, layer_of)
        (dbt / "models" / f"m{i:02d}.sql").write_text(sql)
        order.append(f"m{i:02d}")
    (root / "inbox").mkdir()
    (root / "inbox" / "orders1.csv").write_text(
        "id,customer_id,total\n" + "".join(f"{n},{n % 50},{n % 97}.5\n" for n in range(1, 2001))
    )
    (root / "inbox" / "customers1.csv").write_text(
        "id,email\n" + "".join(f"{n},c{n}@example.com\n" for n in range(1, 51))
    )
    (root / "podium.yaml").write_text(PODIUM_YAML)
    (root / "workflows").mkdir()
    (root / "workflows" / "dbtonly.yaml").write_text(
        "name: dbtonly\ntasks:\n  - id: dbt\n    dbt: analytics\n"
    )
    return order


def timed(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.monotonic() - started, done


def run_dbt(models: int, runs: int) -> tuple[list[tuple[str, str]], bool]:
    """Rows for the summary table, and whether both targets were met."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-dbt-") as tmp:
        root = Path(tmp)
        order = write_project(root, models)
        podium, dbt = str(BIN / "podium"), str(BIN / "dbt")
        timed(root, podium, "extract", "shop")  # the raw tables; parses the dbt project once
        profiles = str(root / ".podium" / "dbt" / "profiles" / NAME)
        common = ["--project-dir", "analytics", "--profiles-dir", profiles, "--target", "podium"]
        plain, whole, span, invocations = [], [], [], set()
        for _ in range(runs):
            seconds, _done = timed(root, dbt, "build", *common)
            plain.append(seconds)
            seconds, done = timed(root, podium, "run", "dbtonly", "--json")
            whole.append(seconds)
            tasks = json.loads(done.stdout)["tasks"]
            first = min(datetime.fromisoformat(t["started_at"]) for t in tasks)
            last = max(datetime.fromisoformat(t["finished_at"]) for t in tasks)
            span.append((last - first).total_seconds())
            invocations.add(len({t["output"]["invocation"]["number"] for t in tasks}))
        started = time.monotonic()
        for model in order:
            timed(root, dbt, "run", *common, "--select", model)
        per_model = time.monotonic() - started
    build, ours = statistics.median(plain), statistics.median(whole)
    close = ours <= max(build * 1.10, build + 1.0)
    faster = per_model / ours
    rows = [
        (f"dbt: {models} models, plain `dbt build` (a CLI process)", f"{build:.2f} s {plain}"),
        (
            "dbt: podium run of the dbt task (a CLI process)",
            f"{ours:.2f} s = {ours / build:.2f}× dbt build, {ours - build:+.2f} s"
            f" ({'met' if close else 'MISSED'}: within 10 % or 1 s)",
        ),
        ("dbt: podium's node tasks, first start to last end", f"{statistics.median(span):.2f} s"),
        ("dbt: dbt invocations per podium run", str(sorted(invocations))),
        (
            "dbt: one `dbt run --select` process per model",
            f"{per_model:.2f} s = {faster:.1f}× podium ({'met' if faster >= 5 else 'MISSED'} ≥ 5)",
        ),
    ]
    return rows, close and faster >= 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    rows, met = run_dbt(args.models, args.runs)
    width = max(len(n) for n, _ in rows)
    for n, v in rows:
        print(f"{n:<{width}}  {v}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
