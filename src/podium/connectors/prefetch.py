"""Reading ahead: a source's pages are fetched in a thread while the loader stages earlier ones.

Fetching (network, JSON parsing, spooling to a file) is mostly Python; staging is DuckDB,
which releases the GIL. Overlapping them is what makes a load about as fast as its slower
half rather than the sum of both. At most ``depth`` prepared pages wait in the queue, so
memory stays flat however far the network runs ahead.

The reading thread owns the iterator: it advances it, and closes it when it ends, fails or
is told to stop, so a source's ``finally`` blocks run where its generator ran. An exception
raised while reading is raised again, unchanged, to whoever iterates.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

_POLL_S = 0.1


class Prefetcher(Generic[In, Out]):
    """Iterates ``prepare(item)`` for each item of ``items``, read ahead in a thread.

    Use it as a context manager: leaving the block stops the thread (and closes ``items``)
    even when the consumer stops early or fails.
    """

    def __init__(
        self,
        items: Iterable[In],
        prepare: Callable[[In], Out],
        *,
        depth: int = 4,
        name: str = "podium-read",
    ) -> None:
        self._items, self._prepare = items, prepare
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._read,), name=name, daemon=True
        )

    def __enter__(self) -> Prefetcher[In, Out]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Out]:
        while True:
            kind, value = self._queue.get()
            if kind == "item":
                yield value  # type: ignore[misc]
            elif kind == "error":
                assert isinstance(value, BaseException)
                raise value
            else:
                return

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # make room, so a reader blocked on a full queue sees the stop
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(_POLL_S)

    def _read(self) -> None:
        iterator = iter(self._items)
        try:
            for item in iterator:
                if self._stop.is_set() or not self._put("item", self._prepare(item)):
                    return
            self._put("end", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, unchanged
            self._put("error", exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def _put(self, kind: str, value: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False
