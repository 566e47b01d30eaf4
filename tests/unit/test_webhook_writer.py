"""The receiver's group-commit writer: concurrent deliveries share commits, each request
learns where its delivery is only after the commit, a failed commit fails every request
in it, and the engine is woken once per burst."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from podium.errors import StoreError
from podium.store.database import Database
from podium.testing import memory_database
from podium.webhooks import writer as writer_module
from podium.webhooks.inbox import Stored, list_deliveries
from podium.webhooks.verify import Delivery
from podium.webhooks.writer import InboxWriter


def delivery(delivery_id: str) -> Delivery:
    return Delivery("shop", delivery_id, "orders/create", {}, json.dumps({"id": delivery_id}))


async def store_all(writer: InboxWriter, ids: list[str]) -> list[Stored | BaseException]:
    return await asyncio.gather(*(writer.store(delivery(i)) for i in ids), return_exceptions=True)


def test_a_burst_is_committed_in_few_transactions_and_wakes_the_engine_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer_module, "QUIET", 5.0)  # the burst ends with close() here
    db, wakes = memory_database(), []
    writer = InboxWriter(db, lambda: wakes.append(1))
    ids = [f"d{i}" for i in range(100)] + ["d7", "d7"]
    results = asyncio.run(store_all(writer, ids))
    writer.close()
    assert all(isinstance(r, Stored) for r in results)
    stored = [r for r in results if isinstance(r, Stored)]
    assert [r.duplicate for r in stored].count(True) == 2
    assert stored[-1].inbox_id == stored[-2].inbox_id == stored[7].inbox_id
    assert len(list_deliveries(db, limit=1000)) == 100
    assert writer.commits < 100
    assert 1 <= len(wakes) <= 2  # the burst's first commit, then its end (here: close)


def test_a_lone_delivery_wakes_the_engine_once_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "QUIET", 0.05)
    db, woken = memory_database(), threading.Event()
    writer = InboxWriter(db, woken.set)
    asyncio.run(writer.store(delivery("lone")))
    committed = time.monotonic()
    assert woken.wait(2.0)
    assert time.monotonic() - committed < 2.0  # QUIET after the commit, not at close()
    writer.close()


class BrokenStore(Database):
    def __init__(self) -> None:  # no real store behind it
        self.dialect = "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        raise StoreError("the store at sqlite:///x is gone; check the disk")
        yield


def test_a_failed_commit_fails_every_request_in_it_and_wakes_nobody() -> None:
    wakes: list[int] = []
    writer = InboxWriter(BrokenStore(), lambda: wakes.append(1))
    results = asyncio.run(store_all(writer, ["a", "b", "c"]))
    writer.close()
    assert all(isinstance(r, StoreError) for r in results)
    assert wakes == []


def test_a_steady_stream_still_wakes_the_engine_every_wake_every(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer_module, "WAKE_EVERY", 0.0)  # every commit is "too long ago"
    db, wakes = memory_database(), []
    writer = InboxWriter(db, lambda: wakes.append(1))

    async def one_by_one() -> None:
        for i in range(5):
            await writer.store(delivery(f"s{i}"))

    asyncio.run(one_by_one())
    writer.close()
    assert len(wakes) == 5
