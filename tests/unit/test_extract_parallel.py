"""A source whose streams spend budgets of their own loads them ``parallel_streams`` at a
time: each result reported as it ends, results in stream order, and a failing stream
leaves the others to finish before its error is raised."""

from __future__ import annotations

import threading
import time

import pytest

from podium.connectors.extract import _in_parallel
from podium.connectors.load import StreamResult
from podium.connectors.source import Stream, WriteMode

STREAMS = [Stream(name, ("id",), WriteMode.MERGE) for name in ("a", "b", "c", "d")]


def test_streams_load_at_once_and_come_back_in_order() -> None:
    running, most, lock = 0, 0, threading.Lock()
    loaded: list[str] = []

    def load(stream: Stream) -> StreamResult:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep({"a": 0.3, "b": 0.1, "c": 0.1, "d": 0.05}[stream.name])
        with lock:
            running -= 1
        return StreamResult(stream.name, "ds", f"load-{stream.name}")

    results = _in_parallel(STREAMS, load, 3, lambda r: loaded.append(r.stream), "conn")
    assert [r.stream for r in results] == ["a", "b", "c", "d"]
    assert most == 3
    assert loaded[-1] == "a" and sorted(loaded) == ["a", "b", "c", "d"]  # as each ended


def test_a_failing_stream_lets_the_others_finish_then_raises_the_first() -> None:
    loaded: list[str] = []

    def load(stream: Stream) -> StreamResult:
        if stream.name in ("b", "d"):
            raise RuntimeError(f"stream {stream.name} failed")
        time.sleep(0.1)
        return StreamResult(stream.name, "ds", f"load-{stream.name}")

    with pytest.raises(RuntimeError, match="stream b failed"):
        _in_parallel(STREAMS, load, 2, lambda r: loaded.append(r.stream), "conn")
    assert sorted(loaded) == ["a", "c"]
