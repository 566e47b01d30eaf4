"""``emit_event`` answers the number of the event it stored, on SQLite and on PostgreSQL,
even when another event of the same name is written right after it (the old read-back,
``SELECT MAX(seq) … WHERE type = ?``, answered the newer one's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from podium.engine import services
from podium.store.database import Database, Tx, open_database


def stored_seq(db: Database, payload_id: str) -> int:
    rows = db.read().fetchall("SELECT seq, payload FROM events WHERE type = 'orders_dropped'")
    (seq,) = [int(s) for s, payload in rows if f'"id":"{payload_id}"' in payload]
    return seq


@pytest.fixture
def after_event_insert(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Callable[[Tx], Any]]]:
    """Hooks run once, inside the writing transaction, right after the first statement
    that inserts into ``events`` (whether it is sent alone or as a batch)."""
    hooks: list[Callable[[Tx], Any]] = []
    original_many, original_one = Tx.executemany, Tx.fetchone

    def fire(tx: Tx, sql: str) -> None:
        if sql.lstrip().startswith("INSERT INTO events") and hooks:
            hooks.pop(0)(tx)

    def executemany(tx: Tx, sql: str, rows: Any) -> None:
        original_many(tx, sql, rows)
        if rows:
            fire(tx, sql)

    def fetchone(tx: Tx, sql: str, params: Any = ()) -> Any:
        row = original_one(tx, sql, params)
        fire(tx, sql)
        return row

    monkeypatch.setattr(Tx, "executemany", executemany)
    monkeypatch.setattr(Tx, "fetchone", fetchone)
    yield hooks


def test_emit_answers_the_seq_of_its_own_row(database: Database) -> None:
    first = services.emit_event(database, "orders_dropped", {"id": "a"})
    services.emit_event(database, "orders_shipped", {"id": "between"})
    second = services.emit_event(database, "orders_dropped", {"id": "b"})
    assert (first, second) == (stored_seq(database, "a"), stored_seq(database, "b"))
    assert second > first


def test_emit_answers_its_own_seq_when_another_follows_in_its_transaction(
    database: Database, after_event_insert: list[Callable[[Tx], Any]]
) -> None:
    def another(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO events (type, at, run_id, task_id, payload, pending)"
            " VALUES ('orders_dropped', 0, NULL, NULL, '{\"id\":\"other\"}', 0)"
        )

    after_event_insert.append(another)
    seq = services.emit_event(database, "orders_dropped", {"id": "mine"})
    assert not after_event_insert, "the hook did not run"
    assert seq == stored_seq(database, "mine") != stored_seq(database, "other")


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # SQLite writes are serial
def test_emit_answers_its_own_seq_when_another_writer_commits_in_between(
    store_url: str, database: Database, after_event_insert: list[Callable[[Tx], Any]]
) -> None:
    rival = open_database(store_url)
    try:
        after_event_insert.append(
            lambda tx: services.emit_event(rival, "orders_dropped", {"id": "rival"})
        )
        seq = services.emit_event(database, "orders_dropped", {"id": "mine"})
        assert not after_event_insert, "the rival did not write"
        rival_seq = stored_seq(database, "rival")
        assert rival_seq > seq  # committed first, yet numbered after ours
        assert seq == stored_seq(database, "mine")
    finally:
        rival.close()
