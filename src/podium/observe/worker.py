"""A subscriber's own thread: the engine hands it committed events and goes on at once.

``EventWorker.on_events`` only queues (it is called on the engine's thread, after each
commit); the handler runs on the worker's daemon thread with the time the events were
handed over. A handler that raises is reported once per kind of error through ``report``
(later ones are only counted), and the worker carries on with the next batch. A handler
that falls far behind (an endpoint that hangs) loses batches past ``MAX_WAITING`` rather
than memory: that too is reported once and counted in ``dropped``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from podium import clock as clocks
from podium.core.events import Event

Handler = Callable[[Sequence[Event], float], None]
log = logging.getLogger("podium.observe")
_Item = tuple[Sequence[Event], float] | threading.Event  # a batch, or a flush marker
MAX_WAITING = 10_000  # batches


class EventWorker:
    """Runs ``handle(events, at)`` on its own thread for each batch handed to ``on_events``."""

    def __init__(
        self,
        name: str,
        handle: Handler,
        *,
        clock: Callable[[], float] = clocks.time,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.name, self.handle, self.clock = name, handle, clock
        self.report = report or (lambda line: log.warning("%s", line))
        self.failures = self.dropped = 0
        self._told: set[str] = set()
        self._queue: queue.Queue[_Item | None] = queue.Queue(MAX_WAITING)
        self._thread = threading.Thread(target=self._loop, name=f"podium-{name}", daemon=True)
        self._thread.start()

    def on_events(self, events: Sequence[Event]) -> None:
        """Queues ``events`` (never blocks, never raises)."""
        try:
            self._queue.put_nowait((list(events), self.clock()))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                self.report(
                    f"{self.name}: {MAX_WAITING} batches of events wait already; dropping"
                    " new ones until it catches up (reported once)"
                )

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until every batch queued so far was handled; False if that took too long."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Handles what was queued (up to ``timeout``), then ends the thread."""
        if self.flush(timeout):
            self._queue.put(None)
            self._thread.join(timeout)
            return
        waiting = self._queue.qsize()  # a daemon thread, left to end with the process
        self.report(
            f"{self.name}: stopped waiting after {timeout:g}s; {waiting} batch(es) of events"
            " still queued are not handled"
        )

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self.handle(*item)
            except Exception as exc:  # noqa: BLE001 - observing must never stop the engine
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        kind = type(exc).__name__
        if kind in self._told:
            return
        self._told.add(kind)
        self.report(
            f"{self.name}: {kind}: {exc} (reported once; tasks go on, and later errors of"
            " this kind are only counted)"
        )


def fan_out(*handlers: Callable[[list[Event]], None] | None) -> Callable[[list[Event]], None]:
    """One ``Engine.on_events`` that calls each handler in turn (None ones left out)."""
    chosen = [h for h in handlers if h is not None]

    def on_events(events: list[Event]) -> None:
        for handler in chosen:
            handler(events)

    return on_events
