"""Reading ahead in a thread: order, errors, and stopping early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from podium.connectors.prefetch import Prefetcher


def test_items_arrive_prepared_and_in_order() -> None:
    with Prefetcher(range(100), lambda n: n * 2, depth=3) as ahead:
        assert list(ahead) == [n * 2 for n in range(100)]


def test_preparing_runs_in_the_reading_thread() -> None:
    threads: set[str] = set()

    def prepare(n: int) -> int:
        threads.add(threading.current_thread().name)
        return n

    with Prefetcher(range(5), prepare, name="reader") as ahead:
        assert list(ahead) == [0, 1, 2, 3, 4]
    assert threads == {"reader"}


def test_an_error_while_reading_reaches_the_consumer_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is broken")

    got: list[int] = []
    with pytest.raises(ValueError, match="page 3 is broken"), Prefetcher(pages(), int) as ahead:
        for item in ahead:
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_reader_and_closes_its_iterator() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def pages() -> Iterator[int]:
        try:
            for n in range(10_000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    with Prefetcher(pages(), int, depth=2) as ahead:
        for item in ahead:
            if item == 3:
                break
    assert closed.wait(5)
    assert len(produced) < 10  # it stopped within its queue's depth, not at the end
