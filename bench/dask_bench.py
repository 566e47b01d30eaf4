"""Dask executor: --dask-tasks tasks of --dask-work-ms of work on a two-worker LocalCluster
(one thread each, so two slots), podium beside Prefect 3 with prefect-dask.

- podium: one workflow of N independent ``run`` tasks (``time.sleep`` in a Python function),
  run by ``podium up`` (started through its API, ``/metrics`` scraped every 2 s and compared
  with the store at the end) on the embedded SQLite store with ``engine: {executor: {type: dask,
  workers: 2, threads_per_worker: 1}}``. The makespan is read from the store: the first
  attempt's start (its claim) to the last attempt's end (as recorded). The whole command's
  wall time (process start, project load, cluster start, run, cluster stop) is separate.
- Prefect: a flow with ``DaskTaskRunner(cluster_kwargs={"n_workers": 2,
  "threads_per_worker": 1})`` submitting the same N tasks (bench/peers/prefect_dask_shapes.py, in
  its own virtual environment bench/.peers/prefect-dask from requirements-prefect-dask.txt,
  created on first use). Its makespan is read from its API: the first task run's start to
  the last one's end; its ephemeral API server runs on SQLite in a throw-away PREFECT_HOME.

Dask alone is the floor: the same function ``client.submit``-ted straight to the same kind of
cluster (already started), all at once; first submit to all results gathered, and the span
inside the tasks (first start to last end) beside it.

Overhead per task = (makespan × slots − total work) / tasks: what each task cost beyond its
own work, with both slots busy. Peak memory: the harness reads /proc every 100 ms for the
command's process tree (VmHWM, the kernel's own peak, of each process): podium's engine
process (which also hosts the Dask scheduler and the nannies), each Dask worker process;
for Prefect the flow's process (scheduler and nannies too), each worker, and its API servers
(in ephemeral mode the flow's process and each Dask worker start one of their own).
PODIUM_BENCH_DASK_PROFILE=FILE runs podium's command under cProfile, its stats in FILE.

    .venv/bin/python bench/run.py --only dask [--dask-tasks 2000 --dask-work-ms 50]
    .venv/bin/python bench/dask_bench.py [--tasks 2000 --work-ms 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PODIUM = [sys.executable, "-m", "podium.cli.main"]
WORKERS = 2
THREADS_PER_WORKER = 1
SAMPLE_EVERY = 0.1
TIMEOUT_S = 3600

TASKS_PY = """
import time

WORK = {work}


def work(ctx):
    time.sleep(WORK)
"""


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}tasks", type=int, default=2000)
    parser.add_argument(f"--{prefix}work-ms", type=float, default=50.0)
    parser.add_argument(f"--{prefix}no-peer", action="store_true", help="podium only (no Prefect)")


# -- process tree memory -----------------------------------------------------------------
def _status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            out[name] = value.strip()
    return out


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    return kids


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace").strip()


@dataclass
class Proc:
    pid: int
    cmdline: str
    peak_kib: int = 0


@dataclass
class TreeSampler:
    """Peak RSS (VmHWM) of every process under ``root``, read every 100 ms until stopped."""

    root: int
    procs: dict[int, Proc] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY)

    def sample(self) -> None:
        todo = [self.root]
        while todo:
            pid = todo.pop()
            try:
                st = _status(pid)
                proc = self.procs.get(pid)
                if proc is None:
                    proc = self.procs[pid] = Proc(pid, _cmdline(pid))
                hwm = int(st.get("VmHWM", "0 kB").split()[0])
                rss = int(st.get("VmRSS", "0 kB").split()[0])
                proc.peak_kib = max(proc.peak_kib, hwm, rss)
            except (OSError, ValueError):
                continue  # gone meanwhile (or a zombie)
            todo.extend(_children(pid))

    def by_role(self) -> dict[str, list[float]]:
        """Peak MiB per process, grouped: root, dask worker, api server, other."""
        roles: dict[str, list[float]] = {}
        for proc in self.procs.values():
            if proc.pid == self.root:
                role = "root"
            elif "spawn_main" in proc.cmdline or "multiprocessing.spawn" in proc.cmdline:
                role = "dask worker"
            elif "resource_tracker" in proc.cmdline:
                role = "other"
            elif "uvicorn" in proc.cmdline or "prefect" in proc.cmdline:
                role = "api server"
            else:
                role = "other"
            roles.setdefault(role, []).append(proc.peak_kib / 1024)
        return {role: sorted(values, reverse=True) for role, values in roles.items()}


def _watched(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd`` in its own session, sampling its process tree; kill what it leaves."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stdout, stderr = "", f"timed out after {TIMEOUT_S}s"
    finally:
        wall = time.perf_counter() - started
        sampler.stop()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # a leftover worker or server
        proc.wait()
    return {
        "returncode": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "wall_s": wall,
        "memory": sampler.by_role(),
    }


# -- podium ------------------------------------------------------------------------------
def write_project(root: Path, tasks: int, work_s: float) -> None:
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "podium.yaml").write_text(
        "store: sqlite:///.podium/state.db\n"
        "engine:\n"
        f"  executor: {{type: dask, workers: {WORKERS},"
        f" threads_per_worker: {THREADS_PER_WORKER}}}\n"
    )
    (root / "bench_tasks.py").write_text(TASKS_PY.format(work=repr(work_s)))
    lines = ["name: many", "tasks:"]
    for i in range(tasks):
        lines += [f"  - id: t{i}", "    run: bench_tasks:work"]
    (root / "workflows" / "many.yaml").write_text("\n".join(lines) + "\n")


def bench_podium(tasks: int, work_s: float) -> dict[str, Any]:
    """The run under ``podium up`` (started through its API), ``/metrics`` scraped every
    2 s while it runs; at the end the last scrape's run and attempt counts are compared
    with the store's."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-dask-") as tmp:
        root = Path(tmp)
        write_project(root, tasks, work_s)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        extra = os.environ.get("PODIUM_BENCH_DASK_PROFILE")  # a cProfile output file
        cmd = (
            [sys.executable, "-m", "cProfile", "-o", extra, "-m", "podium.cli.main"]
            if extra
            else PODIUM
        )
        port = _free_port()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*cmd, "up", "--project", str(root), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        try:
            scrapes, last, status = _run_under_up(f"http://127.0.0.1:{port}", proc)
            wall = time.perf_counter() - started
        finally:
            sampler.stop()
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # a leftover worker
            proc.wait()
        with contextlib.closing(sqlite3.connect(root / ".podium" / "state.db")) as db:
            first, end, count, ok = db.execute(
                "SELECT MIN(started_at), MAX(finished_at), COUNT(*),"
                " SUM(status = 'succeeded') FROM attempts"
            ).fetchone()
            stored = {
                "runs": dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")),
                "attempts": dict(
                    db.execute("SELECT status, COUNT(*) FROM attempts GROUP BY status")
                ),
            }
    scraped = {
        name: {k: int(v) for k, v in last.get(name, {}).items() if v}
        for name in ("runs", "attempts")
    }
    return {
        "status": status,
        "attempts": count,
        "succeeded": ok,
        "makespan_s": float(end) - float(first),
        "wall_s": wall,
        "memory": sampler.by_role(),
        "scrapes": scrapes,
        "metrics_agree": scraped == stored,
        "scraped": scraped,
        "stored": stored,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_under_up(url: str, proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    """Starts the run, scrapes /metrics every 2 s until it ends; (scrapes, last, status)."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as http:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"podium up exited {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if http.get("/api/health").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("podium up did not answer /api/health within 120 s")
            time.sleep(0.1)
        created = http.post("/api/workflows/many/runs", json={})
        if created.status_code != 201:
            raise RuntimeError(f"starting the run: {created.status_code} {created.text}")
        run_id = created.json()["run_id"]
        scrapes = 0
        while True:
            status = http.get(f"/api/runs/{run_id}").json()["status"]
            _scrape(http)  # during the run: the page answers while the engine works
            scrapes += 1
            if status in ("succeeded", "failed", "cancelled"):
                return scrapes, _scrape(http), str(status)
            time.sleep(2)


def _scrape(http: Any) -> dict[str, dict[str, float]]:
    """podium_runs and podium_attempts by status, from one /metrics page."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, dict[str, float]] = {"runs": {}, "attempts": {}}
    page = http.get("/metrics")
    page.raise_for_status()
    for family in text_string_to_metric_families(page.text):
        if family.name in ("podium_runs", "podium_attempts"):
            into = found[family.name.removeprefix("podium_")]
            for sample in family.samples:
                into[sample.labels["status"]] = sample.value
    return found


# -- Dask alone (the floor) -------------------------------------------------------------
def _raw_work(seconds: float) -> tuple[float, float]:
    started = time.time()
    time.sleep(seconds)
    return started, time.time()


def raw_dask_main(tasks: int, work_s: float) -> None:
    """Dask alone, in this process: the same cluster, every task ``client.submit``-ted at
    once, gathered; prints the span inside the tasks (first start to last end) as JSON."""
    import dask
    import distributed as _distributed

    distributed: Any = _distributed  # untyped
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=THREADS_PER_WORKER,
            processes=True,
            dashboard_address=None,
        )
    client = distributed.Client(cluster, set_as_default=False)
    started = time.perf_counter()
    futures = [client.submit(_raw_work, work_s, pure=False) for _ in range(tasks)]
    spans = client.gather(futures)
    took = time.perf_counter() - started
    client.close()
    cluster.close()
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    print(json.dumps({"makespan_s": span, "submit_to_gathered_s": took}))


def bench_raw_dask(tasks: int, work_s: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--raw-dask", "--tasks", str(tasks)]
    done = _watched([*cmd, "--work-ms", str(work_s * 1000)], dict(os.environ), cwd=HERE)
    if done["returncode"] != 0:
        raise RuntimeError(f"Dask alone exited {done['returncode']}: {done['stderr'][-2000:]}")
    result = json.loads(done["stdout"].strip().splitlines()[-1])
    return {**result, "wall_s": done["wall_s"], "memory": done["memory"]}


# -- Prefect -----------------------------------------------------------------------------
def bench_prefect(tasks: int, work_s: float) -> dict[str, Any]:
    sys.path.insert(0, str(HERE / "peers"))
    from runner import _peer_env, ensure_peer_venv  # type: ignore[import-not-found]

    python = ensure_peer_venv("prefect-dask", HERE / ".peers")
    script = HERE / "peers" / "prefect_dask_shapes.py"
    cmd = [
        str(python),
        str(script),
        "--tasks",
        str(tasks),
        "--work-ms",
        str(work_s * 1000),
        "--workers",
        str(WORKERS),
        "--threads-per-worker",
        str(THREADS_PER_WORKER),
    ]
    done = _watched(cmd, _peer_env())
    if done["returncode"] != 0:
        raise RuntimeError(f"prefect-dask exited {done['returncode']}: {done['stderr'][-2000:]}")
    lines = [json.loads(x) for x in done["stdout"].splitlines() if x.startswith("{")]
    if not lines:
        raise RuntimeError(f"prefect-dask printed no result: {done['stderr'][-2000:]}")
    return {**lines[-1], "wall_s": done["wall_s"], "memory": done["memory"]}


# -- the report --------------------------------------------------------------------------
def overhead_ms(makespan: float, slots: int, tasks: int, work_s: float) -> float:
    return (makespan * slots - tasks * work_s) / tasks * 1000


def _mib(values: list[float] | None) -> str:
    if not values:
        return "-"
    return ", ".join(f"{v:.0f}" for v in values) + " MiB"


def run_dask(tasks: int, work_ms: float, peer: bool = True) -> tuple[list[tuple[str, str]], bool]:
    """Rows for the summary table and whether podium met its 15 % target."""
    work_s = work_ms / 1000
    slots = WORKERS * THREADS_PER_WORKER
    ideal = tasks * work_s / slots
    name = f"dask: {tasks} × {work_ms:g} ms on {WORKERS}×{THREADS_PER_WORKER} slots"
    rows = [(f"{name}, ideal (work ÷ slots)", f"{ideal:.2f} s")]
    p = bench_podium(tasks, work_s)
    p_over = overhead_ms(p["makespan_s"], slots, tasks, work_s)
    ratio = p["makespan_s"] / ideal
    met = ratio <= 1.15 and p["succeeded"] == tasks and p["metrics_agree"]
    rows += [
        (
            "dask: podium makespan (store)",
            f"{p['makespan_s']:.2f} s = {ratio:.3f}× ideal ({'met' if ratio <= 1.15 else 'MISSED'}"
            f" ≤ 1.15), {p['succeeded']}/{p['attempts']} attempts succeeded",
        ),
        ("dask: podium up start → run end (incl. cluster start)", f"{p['wall_s']:.2f} s"),
        (
            "dask: /metrics scraped during the run vs the store",
            f"{'the same' if p['metrics_agree'] else 'DIFFERENT'} runs and attempts by status"
            f" after {p['scrapes']} scrapes ({p['scraped']['attempts']})",
        ),
        ("dask: podium overhead per task", f"{p_over:.2f} ms"),
        ("dask: podium peak RSS engine (+scheduler)", _mib(p["memory"].get("root"))),
        ("dask: podium peak RSS Dask workers", _mib(p["memory"].get("dask worker"))),
    ]
    d = bench_raw_dask(tasks, work_s)
    d_over = overhead_ms(d["submit_to_gathered_s"], slots, tasks, work_s)
    rows += [
        (
            "dask: Dask alone (client.submit), first submit → all gathered",
            f"{d['submit_to_gathered_s']:.2f} s = {d['submit_to_gathered_s'] / ideal:.3f}× ideal,"
            f" overhead {d_over:.2f} ms per task (inside the tasks: {d['makespan_s']:.2f} s)",
        ),
    ]
    if not peer:
        return rows, met
    try:
        f = bench_prefect(tasks, work_s)
    except RuntimeError as exc:
        rows.append(("dask: prefect", f"failed: {str(exc)[:200]}"))
        return rows, met
    f_over = overhead_ms(f["makespan_s"], slots, tasks, work_s)
    label = f"dask: prefect {f['version']} + prefect-dask {f['prefect_dask']}"
    rows += [
        (
            f"{label} makespan (API)",
            f"{f['makespan_s']:.2f} s = {f['makespan_s'] / ideal:.3f}× ideal,"
            f" {f['completed']}/{tasks} completed",
        ),
        (f"{label} flow call", f"{f['flow_s']:.2f} s"),
        (f"{label} whole command", f"{f['wall_s']:.2f} s"),
        ("dask: prefect overhead per task", f"{f_over:.2f} ms"),
        (
            "dask: prefect overhead ÷ podium overhead",
            f"{f_over / p_over:.1f}× (target ≥ 5)" if p_over > 0 else "podium overhead ≤ 0",
        ),
        ("dask: prefect peak RSS flow process (+scheduler)", _mib(f["memory"].get("root"))),
        ("dask: prefect peak RSS Dask workers", _mib(f["memory"].get("dask worker"))),
        ("dask: prefect peak RSS API server", _mib(f["memory"].get("api server"))),
    ]
    return rows, met


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--raw-dask", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_dask:  # the floor, run by bench_raw_dask in a process of its own
        raw_dask_main(args.tasks, args.work_ms / 1000)
        return 0
    rows, met = run_dask(args.tasks, args.work_ms, peer=not args.no_peer)
    width = max(len(n) for n, _ in rows)
    for n, v in rows:
        print(f"{n:<{width}}  {v}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
