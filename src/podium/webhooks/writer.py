"""Group commit for the webhook receiver: one thread writes every waiting delivery in one
transaction, then answers each request.

A request hands its verified delivery to ``store`` and waits; the writer takes whatever
has queued up since its last commit (one delivery when traffic is light, hundreds in a
burst), inserts them all, commits, and only then resolves each request's future, so no
2xx is ever sent for a row that is not committed. One writer means the receiver never
contends with itself for SQLite's write lock, and a burst costs one commit, not hundreds.

The engine is woken (``on_commit``) once deliveries stop coming for ``QUIET`` seconds
(20 ms), or every ``WAKE_EVERY`` seconds while they keep coming: the engine shares this
process (and its GIL, and SQLite's write lock), so a burst is acknowledged first and
processed right after; a lone delivery reaches the engine 20 ms after its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from podium import clock
from podium.store.database import Database
from podium.webhooks.inbox import Stored, store_deliveries
from podium.webhooks.verify import Delivery

MAX_BATCH = 500
#: the engine is woken once deliveries stop arriving for QUIET seconds (a lone delivery:
#: QUIET after it), and at least every WAKE_EVERY seconds while they keep coming: a burst is
#: acknowledged first, then processed. QUIET stays well above the GIL's switch interval
#: (5 ms), or a writer merely waiting for the GIL would take a busy receiver for a quiet one.
QUIET = 0.02
WAKE_EVERY = 0.25


@dataclass(frozen=True)
class _Job:
    delivery: Delivery
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Stored]


class InboxWriter:
    """Commits deliveries in batches; ``on_commit`` (waking the engine) runs once a burst
    of them has been committed (see QUIET and WAKE_EVERY)."""

    def __init__(
        self,
        db: Database,
        on_commit: Callable[[], None],
        *,
        clock: Callable[[], float] = clock.time,
    ) -> None:
        self.db, self.on_commit, self.clock = db, on_commit, clock
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self.commits = 0

    async def store(self, delivery: Delivery) -> Stored:
        """Where ``delivery`` is in the inbox, once that is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._start()
        self._queue.put(_Job(delivery, loop, future))
        return await future

    def close(self) -> None:
        """Commits what is queued, then stops the thread."""
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._guard:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="podium-webhook-inbox", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        due: float | None = None  # when the engine must be told of what was committed
        while True:
            try:
                job = self._queue.get(timeout=QUIET if due is not None else None)
            except queue.Empty:  # nothing came for QUIET seconds: the burst is over
                self.on_commit()
                due = None
                continue
            batch, stop = self._take(job)
            if batch and self._commit(batch) and due is None:
                due = time.monotonic() + WAKE_EVERY
            if due is not None and (stop or time.monotonic() >= due):
                self.on_commit()
                due = None
            if stop:
                return

    def _take(self, first: _Job | None) -> tuple[list[_Job], bool]:
        """``first`` and whatever else is queued (up to MAX_BATCH); True if told to stop."""
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, True
            batch.append(more)
        return batch, False

    def _commit(self, batch: list[_Job]) -> bool:
        try:
            stored = store_deliveries(self.db, [job.delivery for job in batch], self.clock())
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure
            _settle([(job, None, exc) for job in batch])
            return False
        self.commits += 1
        _settle([(job, where, None) for job, where in zip(batch, stored, strict=True)])
        return True


_Outcome = tuple[_Job, Stored | None, BaseException | None]


def _settle(outcomes: list[_Outcome]) -> None:
    """Resolves each request's future in its event loop: one wake-up of each loop."""
    loops: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        loops.setdefault(outcome[0].loop, []).append(outcome)
    for loop, mine in loops.items():
        with contextlib.suppress(RuntimeError):  # the event loop has closed (shutdown)
            loop.call_soon_threadsafe(_resolve, mine)


def _resolve(outcomes: list[_Outcome]) -> None:
    for job, result, error in outcomes:
        if job.future.done():  # the client went away; the row is stored all the same
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]
