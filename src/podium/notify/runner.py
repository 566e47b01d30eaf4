"""Running the event subscribers of a ``podium up``: each one reads the feed after its own
cursor, in a background thread, and is woken whenever the engine writes events.

A subscriber's ``handle`` must be idempotent: after a crash the batch it was handling is
handed out again. One that raises keeps its cursor and is retried after ``retry_after``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from podium import clock
from podium.notify.feed import EventFeed, StoredEvent
from podium.store.database import Database

log = logging.getLogger("podium.notify")


class Subscriber(Protocol):
    """Something that reacts to stored events (a notifier, an outgoing webhook)."""

    name: str  # the cursor's name; stable across restarts

    def handle(self, events: Sequence[StoredEvent]) -> None: ...

    def tick(self, now: float) -> None:
        """Time-driven work (retries due); called on every wake-up and poll."""
        ...


class Subscribers:
    """Runs ``subscribers`` in one thread until ``stop``; ``wake()`` makes it look now."""

    def __init__(
        self, db: Database, subscribers: Sequence[Subscriber], *, poll: float = 1.0
    ) -> None:
        self.db, self.subscribers, self.poll = db, list(subscribers), poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.feeds = {s.name: EventFeed(db, f"subscriber:{s.name}") for s in self.subscribers}

    def start(self) -> None:
        if not self.subscribers:
            return
        for feed in self.feeds.values():
            feed.start_at_end()
        self._thread = threading.Thread(target=self._loop, name="podium-notify", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def step(self, now: float) -> int:
        """Hands every subscriber its new events once; the number of events handled."""
        handled = 0
        for sub in self.subscribers:
            handled += self._feed_one(sub)
            try:
                sub.tick(now)
            except Exception:  # noqa: BLE001 - a subscriber's failure must not stop the rest
                log.exception("subscriber %s failed while ticking", sub.name)
        return handled

    def _feed_one(self, sub: Subscriber) -> int:
        feed, handled = self.feeds[sub.name], 0
        while batch := feed.next_batch():
            try:
                sub.handle(batch)
            except Exception:  # noqa: BLE001 - retried from the same cursor later
                log.exception("subscriber %s failed; its events are handed out again", sub.name)
                return handled
            feed.advance(batch[-1].seq)
            handled += len(batch)
        return handled

    def _loop(self) -> None:

        while not self._stop.is_set():
            self._wake.clear()
            self.step(clock.time())
            self._wake.wait(self.poll)


class BackgroundPass:
    """Runs ``work`` in a thread of its own when kicked; a kick while it runs makes it run
    once more when it ends, so nothing kicked for is left waiting for the next poll."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self.work, self.name = work, name
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def kick(self) -> None:
        with self._guard:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                self.work()
            except Exception:  # noqa: BLE001 - the next kick tries again
                log.exception("%s: a background pass failed", self.name)
            with self._guard:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
