"""Retention on both stores: whole finished run trees past the cutoff go with their tasks,
attempts, logs and events; a tree with a run still going stays; events go only once every
subscriber has read them and no trigger waits on them; old deliveries that were handled go;
a dry run counts the same and deletes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.store.database import Database, open_database
from podium.store.retention import DAY, Pruner, RetentionPolicy, prune
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

NOW = 1_800_000_000.0  # a time the test sets: the machine's clock plays no part
OLD, RECENT = NOW - 40 * DAY, NOW - DAY


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        store = open_database(f"sqlite:///{tmp_path / 'state.db'}")
        yield store
        store.close()
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url, schema = postgres_url_with_schema("podium_prune")
    store = open_database(url)
    try:
        yield store
    finally:
        store.close()
        drop_schema(schema)


def add_run(db: Database, run: str, root: str, status: str, finished: float | None) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO runs (id, root_id, workflow, status, kind, trigger, params,"
            " logical_time, tasks_open, created_at, finished_at)"
            " VALUES (?, ?, 'daily', ?, 'normal', '{}', '{}', '2026-01-01', 0, ?, ?)",
            (run, root, status, (finished or NOW) - 60, finished),
        )
        tx.execute(
            "INSERT INTO task_runs (run_id, task_id, root_id, workflow, position, status,"
            " priority, up_total, up_pending) VALUES (?, 't', ?, 'daily', 0, ?, 0, 0, 0)",
            (run, root, status),
        )
        tx.execute(
            "INSERT INTO attempts (run_id, task_id, number, status, owner, lease_expires_at,"
            " holds_slot, started_at) VALUES (?, 't', 1, ?, 'e', 0, 0, 0)",
            (run, status),
        )
        at = finished or NOW
        tx.execute(
            "INSERT INTO logs (run_id, task_id, attempt, at, stream, line)"
            " VALUES (?, 't', 1, ?, 'log', 'hello')",
            (run, at),
        )
        tx.execute(
            "INSERT INTO events (type, at, run_id, payload) VALUES ('RunFinished', ?, ?, '{}')",
            (at, run),
        )


def add_event(db: Database, at: float, *, pending: int = 0) -> int:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO events (type, at, payload, pending) VALUES ('Custom', ?, '{}', ?)",
            (at, pending),
        )
        row = tx.fetchone("SELECT max(seq) FROM events")
    assert row is not None
    return int(row[0])


def add_delivery(db: Database, delivery: str, status: str, at: float) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO webhook_inbox (connection, delivery_id, received_at, headers, body,"
            " status) VALUES ('shop', ?, ?, '{}', '{}', ?)",
            (delivery, at, status),
        )


def ids(db: Database, sql: str) -> list[object]:
    return sorted(r[0] for r in db.read().fetchall(sql))


def seed(db: Database) -> dict[str, int]:
    add_run(db, "old", "old", "succeeded", OLD)  # a tree that ended long ago …
    add_run(db, "old-catchup", "old", "succeeded", OLD + DAY)  # … with its catch-up
    add_run(db, "going", "going", "failed", OLD)  # an old run whose retry still runs
    add_run(db, "going-retry", "going", "running", None)
    add_run(db, "recent", "recent", "succeeded", RECENT)
    with db.transaction() as tx:  # an old log line of a run that is kept
        tx.execute(
            "INSERT INTO logs (run_id, task_id, attempt, at, stream, line)"
            " VALUES ('recent', 't', 1, ?, 'log', 'old line')",
            (OLD,),
        )
    read = add_event(db, OLD)
    waiting = add_event(db, OLD, pending=1)  # a trigger has not seen it yet
    unread = add_event(db, OLD)
    with db.transaction() as tx:  # a subscriber read up to ``read`` only
        tx.execute("INSERT INTO event_cursors (consumer, seq) VALUES ('subscriber:a', ?)", (read,))
    add_delivery(db, "handled", "processed", OLD)
    add_delivery(db, "gave-up", "dead", OLD)
    add_delivery(db, "still-due", "pending", OLD)
    add_delivery(db, "fresh", "processed", RECENT)
    return {"read": read, "waiting": waiting, "unread": unread}


def test_prune_keeps_what_the_policy_keeps_and_removes_the_rest(db: Database) -> None:
    seeded = seed(db)
    dry = prune(db, RetentionPolicy(), now=NOW, dry_run=True)
    assert dry.counts["runs"] == 2 and dry.counts["webhook_inbox"] == 2
    assert len(ids(db, "SELECT id FROM runs")) == 5  # a dry run deletes nothing
    assert dry.summary().startswith("prune would remove")

    done = prune(db, RetentionPolicy(), now=NOW)
    assert ids(db, "SELECT id FROM runs") == ["going", "going-retry", "recent"]
    for table in ("task_runs", "attempts", "events"):
        left = ids(db, f"SELECT DISTINCT run_id FROM {table} WHERE run_id IS NOT NULL")
        assert left == ["going", "going-retry", "recent"], table
    assert ids(db, "SELECT line FROM logs WHERE run_id = 'recent'") == ["hello"]
    custom = ids(db, "SELECT seq FROM events WHERE type = 'Custom'")
    assert custom == [seeded["waiting"], seeded["unread"]]  # read by every subscriber: gone
    assert ids(db, "SELECT delivery_id FROM webhook_inbox") == ["fresh", "still-due"]
    assert done.counts["runs"] == 2 and done.counts["logs"] >= 3
    assert done.summary().startswith("prune removed")
    assert prune(db, RetentionPolicy(), now=NOW).summary() == "prune removed nothing"


def test_never_keeps_forever(db: Database) -> None:
    seed(db)
    policy = RetentionPolicy(runs=None, events=None, logs=None, webhooks=None)
    assert not any(prune(db, policy, now=NOW).counts.values())
    assert len(ids(db, "SELECT id FROM runs")) == 5


def test_the_pruner_reports_what_it_removed(db: Database) -> None:
    seed(db)
    said: list[str] = []
    pruner = Pruner(db, RetentionPolicy(), now=lambda: NOW, report=said.append)
    done = pruner.once()
    assert done is not None and said == [f"podium up: {done.summary()}"]
    assert pruner.once() is not None and len(said) == 1  # nothing more to say
