"""Real Dask clusters for tests: a ``distributed.LocalCluster`` of worker processes that
podium's retries, not Dask's, cover (``allowed-failures: 0``, as podium's own LocalCluster
and docs/deploy.md's scheduler have it). Skips visibly when ``distributed`` is missing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


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
