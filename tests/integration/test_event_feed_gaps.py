"""A subscriber's feed never skips an event that commits late with a lower number: on
PostgreSQL, event numbers are drawn at insert, so another engine's later event can be
visible first. The feed stops before the gap until every transaction that could fill it
has ended, then reads on in order (or past it, when it was rolled back)."""

from __future__ import annotations

import time
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


def settled_batch(feed: EventFeed) -> list[str]:
    """The feed's next batch once it holds something: a gap is settled only when every
    transaction running on the cluster when it was first seen has ended, and other tests
    (or another checkout's) may hold one for a moment on the same PostgreSQL."""
    deadline = time.monotonic() + 30
    while not (batch := feed.next_batch()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [e.type for e in batch]


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
        assert settled_batch(feed) == ["Kept"]
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
        # nothing of this test is running: the gap is settled once the cluster's
        # transactions that began before it was seen have ended
        assert settled_batch(feed) == ["Later"]
    finally:
        conn.close()
