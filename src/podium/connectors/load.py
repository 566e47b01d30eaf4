"""One load: a stream's pages, staged, checked against the schema, committed at once.

    source.read(stream, state) ──pages, read ahead in a thread (prefetch)──▶
        Staging (DuckDB in memory, flat typed tables, quarantine)
        ──▶ apply_contract (evolve / freeze / discard_row)
        ──▶ destination.commit: schema changes + rows + quarantine + state + load record,
            in one warehouse transaction

The stream's cursor becomes the largest cursor value among the committed records, so it is
never ahead of the data; a load killed anywhere before the commit leaves the warehouse and
the cursor as they were, and its next run reads the same records again and merges them.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from podium import clock
from podium.connectors.destinations.base import Destination, LoadCounts, StagedLoad
from podium.connectors.normalize.contract import apply_contract
from podium.connectors.normalize.staging import Staging
from podium.connectors.prefetch import Prefetcher
from podium.connectors.source import Source, Stream, StreamState, WriteMode

# Spooled pages wait on disk, so reading may run a whole staging batch ahead (a queue of a
# few pages stalls the reading thread while DuckDB stages a batch, and the two take turns).
READ_AHEAD_PAGES = 256
FAULT_ENV = "PODIUM_FAULT"  # test hook: "load.before_commit" / "load.after_commit" → SIGKILL


@dataclass(frozen=True)
class Progress:
    stream: str
    pages: int
    records: int
    seconds: float


@dataclass
class StreamResult:
    """What one load did, as the task output, the CLI and ``AssetUpdated`` report it."""

    stream: str
    dataset: str
    load_id: str
    tables: list[str] = field(default_factory=list)
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    counts: LoadCounts = LoadCounts()
    schema_changes: list[str] = field(default_factory=list)
    cursor: Any = None
    pages: int = 0
    seconds: float = 0.0

    @property
    def assets(self) -> dict[str, dict[str, Any]]:
        """One entry per table loaded (``raw_shop.orders``), with what changed."""
        stats = {
            "load_id": self.load_id,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "deleted": self.counts.deleted,
            "quarantined": self.quarantined,
            "schema_changes": self.schema_changes,
        }
        return {
            f"{self.dataset}.{table}": {**stats, **self._rows_of(table)} for table in self.tables
        }

    def _rows_of(self, table: str) -> dict[str, int]:
        rows = self.counts.rows.get(table)
        return {} if rows is None else {"rows": rows}

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "load_id": self.load_id,
            "received": self.received,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "deleted": self.counts.deleted,
            "unchanged": self.counts.unchanged,
            "schema_changes": self.schema_changes,
            "cursor": self.cursor,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class LoadJob:
    """Where and how one stream loads."""

    source: Source
    stream: Stream
    destination: Destination
    connection: str
    dataset: str
    workdir: Path
    full_refresh: bool = False
    on_progress: Callable[[Progress], None] | None = None
    now: Callable[[], datetime] = clock.now


def load_stream(job: LoadJob) -> StreamResult:
    started, clock = job.now(), time.monotonic()
    load_id = new_load_id()
    stream = job.stream
    if job.full_refresh:
        stream = _replacing(stream)
    saved = StreamState.from_json(job.destination.read_state(job.connection, stream.name))
    state = StreamState() if job.full_refresh else saved
    workdir = job.workdir / load_id
    staging = Staging(workdir, stream, load_id, now=job.now)
    result = StreamResult(stream.name, job.dataset, load_id)
    try:
        pages = job.source.read(stream, state, full_refresh=job.full_refresh)
        with Prefetcher(
            pages, staging.spool, depth=READ_AHEAD_PAGES, name=f"podium-read-{stream.name}"
        ) as ahead:
            for page in ahead:
                staging.add(page)
                result.pages += 1
                if job.on_progress is not None:
                    seconds = time.monotonic() - clock
                    job.on_progress(
                        Progress(stream.name, result.pages, staging.counts.received, seconds)
                    )
        staging.finish()
        existing = job.destination.schemas(job.dataset, list(staging.tables))
        changes = apply_contract(staging, existing)
        state.cursor = _later(state.cursor, cursor_json(staging.max_cursor()))
        counts = staging.counts
        result.received, result.quarantined = counts.received, counts.quarantined
        result.loaded = counts.received - counts.quarantined
        staged = StagedLoad(
            staging,
            job.connection,
            job.dataset,
            changes,
            state.to_json(),
            {
                "started_at": started,
                "received": result.received,
                "loaded": result.loaded,
                "quarantined": result.quarantined,
            },
        )
        _fault("load.before_commit")
        result.counts = job.destination.commit(staged)
        _fault("load.after_commit")
        result.tables = list(staging.tables)
        result.schema_changes = [c.describe() for c in changes]
        result.cursor = state.cursor
    finally:
        staging.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = time.monotonic() - clock
    return result


def new_load_id() -> str:
    """Sortable by time: ``20261125T101500Z-1a2b3c4d``."""
    return clock.now().strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def cursor_json(value: Any) -> Any:
    """A cursor value as it is saved: ISO text for times (UTC ``Z``), numbers as numbers."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _later(saved: Any, loaded: Any) -> Any:
    if loaded is None:
        return saved
    if saved is None:
        return loaded
    try:
        return max(saved, loaded)
    except TypeError:
        return loaded


def _replacing(stream: Stream) -> Stream:
    from dataclasses import replace

    return replace(stream, write_mode=WriteMode.REPLACE)


def _fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
