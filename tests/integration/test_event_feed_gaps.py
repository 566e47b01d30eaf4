"""A subscriber's feed never skips an event that commits late with a lower number: on
PostgreSQL, event numbers are drawn at insert, so another engine's later event can be
visible first. The feed stops before the gap until every transaction that could fill it
has ended, then reads on in order (or past it, when it was rolled back)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from podium.notify.feed import EventFeed
from podium.store.database import Database, open_database
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_POSTGRES)


@pytest.fixture
def store() -> Iterator[tuple[Database, str]]:
    url, schema = postgres_url_with_schema("podium_feed")
    db = open_database(url)
    try:
        yield db, schema
    finally:
        db.close()
        drop_schema(schema)


def writer(schema: str) -> psycopg.Connection:
    """Another engine's connection to the same store."""
    assert POSTGRES_URL
    conn = psycopg.connect(POSTGRES_URL)
    conn.execute(f'SET search_path TO "{schema}"')
    conn.commit()
    return conn


def insert(conn: psycopg.Connection, kind: str) -> int:
    row = conn.execute(
        "INSERT INTO events (type, at, payload) VALUES (%s, 0, '{}') RETURNING seq", (kind,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_an_event_committed_after_a_later_one_is_not_skipped(
    store: tuple[Database, str],
) -> None:
    db, schema = store
    feed = EventFeed(db, "subscriber:test")
    feed.start_at_end()
    slow, fast = writer(schema), writer(schema)
    try:
        first = insert(slow, "Slow")  # drawn first, committed last
        second = insert(fast, "Fast")
        fast.commit()
        assert second == first + 1
        assert feed.next_batch() == []  # 11 is there, but 10 may still come
        slow.commit()
        assert [e.type for e in feed.next_batch()] == ["Slow", "Fast"]
        feed.advance(second)
        assert feed.next_batch() == []
    finally:
        slow.close()
        fast.close()


def test_a_gap_left_by_a_rollback_is_passed_once_settled(store: tuple[Database, str]) -> None:
    db, schema = store
    feed = EventFeed(db, "subscriber:test")
    feed.start_at_end()
    gone, kept = writer(schema), writer(schema)
    try:
        insert(gone, "RolledBack")
        insert(kept, "Kept")
        kept.commit()
        assert feed.next_batch() == []
        gone.rollback()
        assert [e.type for e in feed.next_batch()] == ["Kept"]
    finally:
        gone.close()
        kept.close()


def test_an_old_gap_does_not_hold_the_feed(store: tuple[Database, str]) -> None:
    db, schema = store
    feed = EventFeed(db, "subscriber:test")
    feed.start_at_end()
    conn = writer(schema)
    try:
        insert(conn, "Gone")
        conn.rollback()
        insert(conn, "Later")
        conn.commit()
        # nothing is running: the gap is settled at first sight
        assert [e.type for e in feed.next_batch()] == ["Later"]
    finally:
        conn.close()
