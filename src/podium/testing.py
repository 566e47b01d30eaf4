"""Fakes shipped for tests of podium and of projects built on it.

- ``FakeClock``: time that moves only when told.
- ``ManualExecutor``: holds every submitted attempt until the test ends it.
- ``InlineExecutor``: runs each attempt at once in the calling thread.
- ``memory_database()``: an in-memory SQLite store with the real schema.
- ``FaultyDatabase``: a real store whose transactions fail now and then, before or after
  COMMIT.
- ``project_of(...)``: a Project built from workflows, without files.
- ``RecordingDestination``: a notification destination that keeps what it is sent.
- ``kind_contract(kind, KindCase(...), root=...)``: the checks every task kind passes, podium's
  own and a plugin's (``podium.kind_contract``).
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from podium.core.workflow import EngineSettings, Project, Workflow
from podium.errors import StoreError
from podium.execution.base import Done, Job, JobResult, Key
from podium.execution.invoke import invoke
from podium.kind_contract import KindCase as KindCase
from podium.kind_contract import kind_contract as kind_contract
from podium.kinds.base import AssetChange, CheckOutcome
from podium.store.database import Database, Tx, open_database


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ManualExecutor:
    """Attempts wait in ``pending`` until ``succeed`` / ``fail`` ends them."""

    def __init__(self) -> None:
        self.pending: dict[Key, tuple[Job, Done]] = {}
        self.submitted: list[Job] = []
        self.cancelled: list[Key] = []

    def submit(self, job: Job, done: Done) -> None:
        self.pending[job.key] = (job, done)
        self.submitted.append(job)

    def cancel(self, key: Key) -> None:
        self.cancelled.append(key)

    def shutdown(self, wait: bool) -> None:
        pass

    def slots(self) -> int | None:
        return None

    def running(self) -> list[str]:
        """Task ids with an attempt submitted and not yet ended."""
        return sorted(key[1] for key in self.pending)

    def key_of(self, task_id: str) -> Key:
        matches = [key for key in self.pending if key[1] == task_id]
        if len(matches) != 1:
            raise KeyError(f"{task_id!r} is not running once (running: {self.running()})")
        return matches[0]

    def succeed(
        self,
        task_id: str,
        output: Any = None,
        *,
        assets: Mapping[str, Mapping[str, Any]] | None = None,
        checks: Sequence[CheckOutcome] = (),
    ) -> Job:
        """Ends the task's attempt well, with the facts its kind would report: ``assets``
        (name → what changed) and ``checks``."""
        job, done = self.pending.pop(self.key_of(task_id))
        changes = tuple(AssetChange(name, stats) for name, stats in (assets or {}).items())
        done(JobResult(job.key, True, json.dumps(output), assets=changes, checks=tuple(checks)))
        return job

    def fail(self, task_id: str, error: str = "boom", retryable: bool = True) -> Job:
        job, done = self.pending.pop(self.key_of(task_id))
        done(JobResult(job.key, False, error=error, retryable=retryable))
        return job

    def report_late(self, key: Key, ok: bool = True) -> None:
        """Reports on an attempt the engine already gave up on (timed out, cancelled)."""
        _job, done = self.pending.pop(key)
        done(JobResult(key, ok, output="null"))


class InlineExecutor:
    """Runs each attempt to its end inside ``submit``."""

    def __init__(self) -> None:
        self.logs: list[tuple[Key, str, str]] = []

    def submit(self, job: Job, done: Done) -> None:
        done(
            invoke(
                job,
                lambda key, stream, line: self.logs.append((key, stream, line)),
                threading.Event(),
            )
        )

    def cancel(self, key: Key) -> None:
        pass

    def shutdown(self, wait: bool) -> None:
        pass

    def slots(self) -> int | None:
        return None


def memory_database() -> Database:
    return open_database("sqlite:///:memory:")


class FaultyDatabase(Database):
    """A real store (SQLite or PostgreSQL) whose write transactions fail at random.

    While ``rate`` is above zero, that share of ``transaction()`` blocks raise
    ``StoreError``: half of them at the end of the block, before COMMIT (nothing is
    written), half after COMMIT (everything is written, yet the caller sees the error, as
    when a connection drops while the server commits). ``injected`` counts each kind. The
    migrations run fault-free; set ``rate`` once the store is opened. ``fail_next(where)``
    plans the next transaction's fault, and ``fail_reads`` makes reads outside a
    transaction raise too (the store cannot say what happened).
    """

    def __init__(self, url: str, *, seed: int = 0) -> None:
        self.rate = 0.0
        self.fail_reads = 0
        self.transactions = 0  # opened, faulty or not
        self.injected: Counter[str] = Counter()
        self._planned: list[str | None] = []
        self._draws = random.Random(seed)
        self._draw_guard = threading.Lock()
        super().__init__(url)

    def fail_next(self, where: str | None) -> None:
        """The next transaction fails ``before_commit`` or ``after_commit`` (None: not)."""
        assert where in ("before_commit", "after_commit", None), where
        self._planned.append(where)

    def read(self) -> Tx:
        if self.fail_reads > 0:
            self.fail_reads -= 1
            self.injected["read"] += 1
            raise StoreError("injected fault on a read (podium.testing.FaultyDatabase)")
        return super().read()

    def _fault(self) -> str | None:
        with self._draw_guard:
            self.transactions += 1
            if self._planned:
                where = self._planned.pop(0)
                if where:
                    self.injected[where] += 1
                return where
            if self._draws.random() >= self.rate:
                return None
            where = self._draws.choice(("before_commit", "after_commit"))
            self.injected[where] += 1
            return where

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        fault = self._fault()
        with super().transaction() as tx:
            yield tx
            if fault == "before_commit":
                raise StoreError("injected fault before COMMIT (podium.testing.FaultyDatabase)")
        if fault == "after_commit":
            raise StoreError("injected fault after COMMIT (podium.testing.FaultyDatabase)")


def project_of(
    *workflows: Workflow,
    pools: Mapping[str, int] | None = None,
    root: str = ".",
    engine: EngineSettings | None = None,
    secrets: frozenset[str] = frozenset(),
) -> Project:
    return Project(
        root=root,
        store_url="sqlite:///:memory:",
        pools=dict(pools or {}),
        engine=engine or EngineSettings(),
        workflows={wf.name: wf for wf in workflows},
        secrets=secrets,
    )


class RecordingDestination:
    """A notifier's Destination that keeps each message in ``sent``; while ``refuse`` is
    above zero, each send is refused (and ``refuse`` counts down)."""

    def __init__(self, style: str = "text", refuse: int = 0) -> None:
        self.style, self.refuse = style, refuse
        self.sent: list[Any] = []  # podium.notify.delivery.Message
        self.tries = 0

    def send(self, message: Any) -> str | None:
        self.tries += 1
        if self.refuse > 0:
            self.refuse -= 1
            return "refused by the test destination"
        self.sent.append(message)
        return None


class MemorySource:
    """A Source whose pages are lists given up front: ``MemorySource({"orders": [[…], […]]})``.

    ``deleted`` maps a stream to records reported deleted (sent with its last page).
    """

    def __init__(
        self,
        pages: dict[str, list[list[Any]]],
        streams: list[Any] | None = None,
        deleted: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        from podium.connectors.source import Stream

        self.pages = pages
        self._streams = streams or [Stream(name) for name in pages]
        self.deleted = deleted or {}
        self.states: list[Any] = []

    def streams(self) -> list[Any]:
        return list(self._streams)

    def read(self, stream: Any, state: Any, *, full_refresh: bool) -> Any:
        from podium.connectors.source import JsonPage

        self.states.append(state)
        pages = self.pages.get(stream.name, [])
        for index, records in enumerate(pages):
            last = index == len(pages) - 1
            deleted = self.deleted.get(stream.name, []) if last else []
            yield JsonPage(records, f"memory {stream.name} page {index}", deleted)

    def close(self) -> None:
        pass
