"""Install and run the peers: Prefect 3 and Dagster (overhead benchmark), dlt (loading benchmark).

Each peer lives in its own virtual environment ``<venv_root>/<peer>`` (created with
``python3 -m venv`` and filled from ``requirements-<peer>.txt`` once; a stamp file holding
the requirements' hash records a finished install).  The peer's shape script
(``<peer>_shapes.py``) then runs in that environment and prints one JSON line per measured
variant, which :func:`run_peer` returns parsed.  A loader (dlt) works the same way through
:func:`run_loader`, with the arguments its script (``<peer>_load.py``) takes; the loading
benchmark (``bench/loading.py``) calls it.

Command line (from the repository root)::

    python bench/peers/runner.py --peer all --shape all --tasks 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PEERS_DIR = Path(__file__).resolve().parent
DEFAULT_VENV_ROOT = PEERS_DIR.parent / ".peers"
PEERS: dict[str, str] = {"prefect": "prefect_shapes.py", "dagster": "dagster_shapes.py"}
LOADERS: dict[str, str] = {"dlt": "dlt_load.py"}
# Environments whose scripts a benchmark runs itself through ensure_peer_venv (bench/dask_bench.py).
OTHERS: frozenset[str] = frozenset({"prefect-dask"})
SHAPES: tuple[str, ...] = ("fanout", "chain")
RUN_TIMEOUT_S = 30 * 60
INSTALL_TIMEOUT_S = 30 * 60
STAMP_NAME = ".podium-bench-installed"
STDERR_TAIL_LINES = 40
# Variables that would leak the caller's setup into a peer (its own venv, or a real
# Prefect/Dagster deployment, a dlt project); the peer scripts configure everything they need.
_DROPPED_ENV_PREFIXES = ("PREFECT_", "DAGSTER_", "DLT_")
_DROPPED_ENV_NAMES = frozenset({"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"})


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _peer_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV_NAMES and not key.startswith(_DROPPED_ENV_PREFIXES)
    }


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the child's whole process group (e.g. Prefect's ephemeral API server)."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:  # pragma: no cover - non-POSIX
        proc.kill()


def _run_checked(cmd: Sequence[str | Path], what: str, timeout: float) -> str:
    """Run ``cmd``; return its stdout or raise RuntimeError with the tail of its stderr.

    The child runs in its own session so that, on timeout or failure, anything it left
    behind (Prefect's ephemeral server subprocess) is killed with it.
    """
    args = [str(part) for part in cmd]
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_peer_env(),
            start_new_session=True,
        )
    except OSError as exc:
        raise RuntimeError(f"{what} could not start: {' '.join(args)}: {exc}") from exc
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _, stderr = proc.communicate()
            raise RuntimeError(
                f"{what} timed out after {timeout:.0f}s: {' '.join(args)}\n{_tail(stderr)}"
            ) from None
        if proc.returncode != 0:
            _kill_group(proc)
            raise RuntimeError(
                f"{what} failed with exit code {proc.returncode}: {' '.join(args)}\n{_tail(stderr)}"
            )
    return stdout


def requirements_file(name: str) -> Path:
    if name not in PEERS and name not in LOADERS and name not in OTHERS:
        known = sorted({*PEERS, *LOADERS, *OTHERS})
        raise ValueError(f"unknown peer {name!r}; expected one of {known}")
    return PEERS_DIR / f"requirements-{name}.txt"


def venv_python(venv_dir: Path) -> Path:
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def ensure_peer_venv(name: str, venv_root: Path, base_python: str | None = None) -> Path:
    """Create ``venv_root/name`` and install the peer's requirements once; return its python."""
    requirements = requirements_file(name)
    venv_dir = Path(venv_root) / name
    python = venv_python(venv_dir)
    if not python.exists():
        base = base_python or shutil.which("python3") or sys.executable
        venv_dir.parent.mkdir(parents=True, exist_ok=True)
        _run_checked([base, "-m", "venv", venv_dir], f"creating venv for {name}", 600)
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv_dir / STAMP_NAME
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return python
    _run_checked(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements],
        f"installing {name}",
        INSTALL_TIMEOUT_S,
    )
    stamp.write_text(digest + "\n")
    return python


def run_peer(
    name: str,
    shape: str,
    tasks: int,
    repeat: int,
    venv_root: Path,
    timeout: float = RUN_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Run one shape in one peer; return its JSON result lines (one per variant)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {list(SHAPES)}")
    if tasks < 1 or repeat < 1:
        raise ValueError("tasks and repeat must be >= 1")
    python = ensure_peer_venv(name, venv_root)
    script = PEERS_DIR / PEERS[name]
    cmd: list[str | Path] = [
        python,
        script,
        "--shape",
        shape,
        "--tasks",
        str(tasks),
        "--repeat",
        str(repeat),
    ]
    stdout = _run_checked(cmd, f"{name} {shape}", timeout)
    return _result_lines(name, stdout, f"{name} {shape}")


def run_loader(
    name: str, args: Sequence[str], venv_root: Path, timeout: float = RUN_TIMEOUT_S
) -> list[dict[str, Any]]:
    """Run a loader's script with ``args`` in its environment; return its JSON result lines."""
    if name not in LOADERS:
        raise ValueError(f"unknown loader {name!r}; expected one of {sorted(LOADERS)}")
    python = ensure_peer_venv(name, venv_root)
    stdout = _run_checked([python, PEERS_DIR / LOADERS[name], *args], f"{name} load", timeout)
    return _result_lines(name, stdout, f"{name} load")


def _result_lines(name: str, stdout: str, what: str) -> list[dict[str, Any]]:
    """The JSON objects on stdout whose ``peer`` is ``name``; none is an error."""
    results: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict) and parsed.get("peer") == name:
            results.append(parsed)
    if not results:
        raise RuntimeError(f"{what} printed no result line; stdout:\n{_tail(stdout)}")
    return results


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    headers = ("peer", "version", "variant", "shape", "tasks", "seconds", "median ms/task")
    body = [
        (
            str(row.get("peer", "")),
            str(row.get("version", "")),
            str(row.get("variant", "")),
            str(row.get("shape", "")),
            str(row.get("tasks", "")),
            " ".join(f"{float(s):.2f}" for s in row.get("seconds", [])),
            f"{float(row.get('median_ms_per_task', 0.0)):.3f}",
        )
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *body, strict=False)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in (headers, *body)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=(*PEERS, "all"), default="all")
    parser.add_argument("--shape", choices=(*SHAPES, "all"), default="all")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--venv-root", type=Path, default=DEFAULT_VENV_ROOT)
    parser.add_argument("--timeout", type=float, default=RUN_TIMEOUT_S, help="seconds per run")
    parser.add_argument("--json", action="store_true", help="print raw JSON lines, no table")
    args = parser.parse_args(argv)

    peers = list(PEERS) if args.peer == "all" else [args.peer]
    shapes = list(SHAPES) if args.shape == "all" else [args.shape]
    rows: list[dict[str, Any]] = []
    failed = False
    for peer in peers:
        for shape in shapes:
            print(
                f"running {peer} {shape} ({args.tasks} tasks x {args.repeat})...",
                file=sys.stderr,
                flush=True,
            )
            try:
                results = run_peer(
                    peer, shape, args.tasks, args.repeat, args.venv_root, timeout=args.timeout
                )
            except RuntimeError as exc:
                failed = True
                print(f"error: {exc}", file=sys.stderr, flush=True)
                continue
            rows.extend(results)
            if args.json:
                for row in results:
                    print(json.dumps(row), flush=True)
    if rows and not args.json:
        print(format_table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
