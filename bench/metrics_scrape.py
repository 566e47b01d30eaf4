"""How long one ``/metrics`` scrape's store queries take on a store with many rows.

Fills a fresh store (SQLite file, or a PostgreSQL schema of its own) with --runs finished
runs of --tasks tasks each (one attempt per task, plus --ready ready tasks), then times
``StoreCollector.collect()`` --scrapes times: the queries one scrape makes.

    .venv/bin/python bench/metrics_scrape.py [--postgres URL] [--runs 20000] [--tasks 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

from podium.observe.metrics import StoreCollector
from podium.store.database import Database, open_database


def fill(db: Database, runs: int, tasks: int, ready: int, now: float) -> None:
    with db.transaction() as tx:
        for start in range(0, runs, 1000):
            run_rows, task_rows, attempt_rows = [], [], []
            for n in range(start, min(runs, start + 1000)):
                run_id = f"r{n:08d}"
                status = "failed" if n % 10 == 0 else "succeeded"
                run_rows.append((run_id, run_id, "daily", status, "normal", "{}", "{}", "", 0, now))
                for t in range(tasks):
                    live = n * tasks + t < ready
                    task_rows.append(
                        (run_id, f"t{t}", run_id, "daily", t, "queued" if live else status,
                         now - 5 if live else None, 0, 0, 0)
                    )  # fmt: skip
                    attempt_rows.append(
                        (run_id, f"t{t}", 1, status, "bench", now, 1, now - 60, now)
                    )
            tx.executemany(
                "INSERT INTO runs (id, root_id, workflow, status, kind, trigger, params,"
                " logical_time, tasks_open, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                run_rows,
            )
            tx.executemany(
                "INSERT INTO task_runs (run_id, task_id, root_id, workflow, position, status,"
                " ready_at, priority, up_total, up_pending) VALUES (?,?,?,?,?,?,?,?,?,?)",
                task_rows,
            )
            tx.executemany(
                "INSERT INTO attempts (run_id, task_id, number, status, owner,"
                " lease_expires_at, holds_slot, started_at, finished_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                attempt_rows,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="a PostgreSQL URL (a schema of its own is made)")
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--ready", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    schema = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        url = (
            f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}"
            if args.postgres
            else f"sqlite:///{folder}/state.db"
        )
        db = open_database(url)
        now = time.time()
        fill(db, args.runs, args.tasks, args.ready, now)
        collector = StoreCollector(db, clock=lambda: now)
        seconds = []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            list(collector.collect())
            seconds.append(time.perf_counter() - started)
        db.close()
        if args.postgres:
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    rows = args.runs * args.tasks
    print(
        f"{db.dialect}: {args.runs} runs, {rows} task runs, {rows} attempts:"
        f" scrape p50 {statistics.median(seconds) * 1000:.1f} ms,"
        f" max {max(seconds) * 1000:.1f} ms over {args.scrapes} scrapes"
    )


if __name__ == "__main__":
    main()
