"""Real Dask clusters for tests: a ``distributed.LocalCluster`` of worker processes that
podium's retries, not Dask's, cover (``allowed-failures: 0``, as podium's own LocalCluster
and docs/deploy.md's scheduler have it). Skips visibly when ``distributed`` is missing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from podium.engine import queries, services
from podium.engine.loop import Engine
from podium.execution.cluster import DaskExecutor
from podium.project import load_project
from podium.store.database import Database, open_database

ENDED = ("succeeded", "failed", "cancelled")


@contextmanager
def local_cluster(workers: int = 2, threads: int = 1) -> Iterator[Any]:
    """A LocalCluster of ``workers`` processes of ``threads`` threads each, closed after."""
    distributed = pytest.importorskip("distributed", reason="executor dask needs podium[dask]")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None
        )
    try:
        yield cluster
    finally:
        cluster.close()


def write_project(
    root: Path,
    address: str,
    tasks_py: str,
    workflow: str,
    *,
    lease_timeout: str = "5s",
    **dask: str,
) -> None:
    """A project of one workflow ``w`` whose engine runs attempts on the Dask scheduler at
    ``address`` (``dask`` adds executor settings)."""
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    extra = "".join(f", {k}: {v}" for k, v in dask.items())
    (root / "podium.yaml").write_text(
        "engine:\n"
        f"  executor: {{type: dask, address: '{address}'{extra}}}\n"
        f"  lease_timeout: {lease_timeout}\n"
        "  poll_interval: 0.2s\n"
    )
    (root / "tasks.py").write_text(tasks_py)
    (root / "workflows" / "w.yaml").write_text(workflow)


class EngineThread:
    """An engine running one run on Dask in a thread of the test."""

    def __init__(self, root: Path, params: dict[str, Any] | None = None) -> None:
        self.project = load_project(root, environ={})
        self.db: Database = open_database(f"sqlite:///{root}/state.db")
        self.run_id = services.start_run(self.db, self.project, "w", params or {})
        self.engine = Engine(self.project, self.db, scope_root=self.run_id)
        assert isinstance(self.engine.executor, DaskExecutor)
        self.engine.start()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self.engine.run, args=(self.ended, self._stop), daemon=True
        )
        self._thread.start()

    def ended(self) -> bool:
        return bool(queries.show_run(self.db, self.run_id)["status"] in ENDED)

    def wait(self, timeout: float = 60) -> dict[str, Any]:
        """The run once it has ended, as ``podium show`` has it; the engine is closed."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the run did not end within {timeout}s"
        shown = queries.show_run(self.db, self.run_id)
        shown["logs"] = [e["line"] for e in queries.logs_of(self.db, self.run_id)]
        shown["attempt_rows"] = queries.attempts_of(self.db, self.run_id)
        self.close()
        return shown

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(30)
        self.engine.close()
        self.db.close()


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
