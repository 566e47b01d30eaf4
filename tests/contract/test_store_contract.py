"""The store contract: the same guarantees on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading

from podium.core.status import AttemptStatus
from podium.core.workflow import Task, Workflow
from podium.engine import state
from podium.engine.journal import Journal
from podium.engine.state import Graphs, Outcome
from podium.store.database import Database, open_database
from podium.store.schema import MIGRATIONS

WF = Workflow(
    "wf",
    (
        Task("a", "run", "m:f", pool="api"),
        Task("b", "run", "m:f", pool="api"),
        Task("c", "run", "m:f", pool="api"),
        Task("d", "run", "m:f", depends_on=("a", "b", "c")),
    ),
)
GRAPHS = Graphs({"wf": WF})
NOW = 1_800_000_000.0


def new_run(db: Database, dedupe: str | None = None) -> str | None:
    with db.transaction() as tx:
        j = Journal(tx, NOW)
        run_id = state.create_run(
            j, WF, trigger={"type": "manual"}, params={}, logical_time="t", dedupe_key=dedupe
        )
        j.flush()
    return run_id


def claim(
    db: Database, owner: str, limit: int = 10, pools: dict[str, int] | None = None, now: float = NOW
) -> list[state.Claim]:
    with db.transaction() as tx:
        j = Journal(tx, now)
        claims = state.claim(
            j,
            owner=owner,
            lease_until=now + 30,
            limit=limit,
            pools=pools if pools is not None else {"api": 10},
        )
        j.flush()
    return claims


def finish(db: Database, claim_: state.Claim, owner: str | None, now: float = NOW) -> int:
    with db.transaction() as tx:
        j = Journal(tx, now)
        stale = state.finish_attempts(
            j,
            [Outcome(claim_.run_id, claim_.task_id, claim_.attempt, AttemptStatus.SUCCEEDED, "1")],
            owner=owner,
            graphs=GRAPHS,
            draw=lambda: 0.5,
        )
        j.flush()
    return len(stale)


def test_migrations_are_versioned_and_idempotent(store_url: str) -> None:
    first = open_database(store_url)
    second = open_database(store_url)
    assert first.schema_version == second.schema_version == len(MIGRATIONS)
    first.close()
    second.close()


def test_a_dedupe_key_creates_one_run(database: Database) -> None:
    assert new_run(database, "tick-1") is not None
    assert new_run(database, "tick-1") is None
    assert database.read().fetchone("SELECT COUNT(*) FROM runs") == (1,)


def test_claims_respect_pool_slots(database: Database) -> None:
    new_run(database)
    claims = claim(database, "e1", pools={"api": 2})
    assert len(claims) == 2
    assert claim(database, "e2", pools={"api": 2}) == []


def test_a_fenced_off_owner_cannot_finish_an_attempt(database: Database) -> None:
    new_run(database)
    first = claim(database, "e1", limit=1)[0]
    assert finish(database, first, owner="intruder") == 1
    status = database.read().fetchone(
        "SELECT status FROM attempts WHERE run_id = ? AND task_id = ?",
        (first.run_id, first.task_id),
    )
    assert status == ("running",)
    assert finish(database, first, owner="e1") == 0
    assert finish(database, first, owner="e1") == 1  # recorded exactly once


def test_an_expired_lease_is_recovered_as_a_new_attempt(database: Database) -> None:
    new_run(database)
    first = claim(database, "dead", limit=1)[0]
    later = NOW + 31
    with database.transaction() as tx:
        j = Journal(tx, later)
        lost = state.expired_attempts(j)
        state.finish_attempts(j, lost, owner=None, graphs=GRAPHS, draw=lambda: 0.5)
        j.flush()
    assert [(o.task_id, o.status) for o in lost] == [(first.task_id, AttemptStatus.LOST)]
    again = [c for c in claim(database, "alive", now=later) if c.task_id == first.task_id]
    assert again and again[0].attempt == 2
    assert finish(database, first, owner="dead", now=later) == 1  # the dead engine's write


def test_dependants_start_once_every_upstream_ended(database: Database) -> None:
    new_run(database)
    claims = claim(database, "e1")
    assert sorted(c.task_id for c in claims) == ["a", "b", "c"]
    for c in claims[:-1]:
        finish(database, c, "e1")
        assert claim(database, "e1") == []
    finish(database, claims[-1], "e1")
    assert [c.task_id for c in claim(database, "e1")] == ["d"]


def test_concurrent_claimers_never_take_the_same_task(store_url: str) -> None:
    setup = open_database(store_url)
    for _ in range(20):
        new_run(setup)
    taken: list[tuple[str, str]] = []
    guard = threading.Lock()

    def worker(owner: str) -> None:
        db = open_database(store_url)
        while True:
            claims = claim(db, owner, limit=3, pools={"api": 1000})
            if not claims:
                break
            with guard:
                taken.extend((c.run_id, c.task_id) for c in claims)
        db.close()

    threads = [threading.Thread(target=worker, args=(f"e{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == len(set(taken)) == 60
    setup.close()


def test_dispatchable_events_are_pending_until_dispatched(database: Database) -> None:
    from podium.engine import services

    services.emit_event(database, "orders_dropped", {"store": "us"})
    rows = database.read().fetchall("SELECT type, pending FROM events")
    assert rows == [("orders_dropped", 1)]


def test_notify_wakes_a_listener(database: Database) -> None:
    woke = threading.Event()
    stop = database.listen(woke.set)
    try:
        for _ in range(50):  # the listener needs a moment to subscribe
            database.notify()
            if woke.wait(0.1):
                break
        assert woke.is_set()
    finally:
        stop()


def test_assets_list_the_latest_update_of_each(database: Database) -> None:
    from podium.core.events import AssetUpdated
    from podium.engine import queries

    with database.transaction() as tx:
        j = Journal(tx, NOW)
        j.add(AssetUpdated("raw_shop.orders", "r1", "shop", False, {"inserted": 2}))
        j.add(AssetUpdated("commerce.daily", "r1", "models.commerce.daily", True))
        j.add(AssetUpdated("raw_shop.orders", "r2", "shop", False, {"inserted": 5}))
        j.flush()
    found = {a["asset"]: a for a in queries.assets(database, now=NOW + 60)}
    assert set(found) == {"raw_shop.orders", "commerce.daily"}
    assert (found["raw_shop.orders"]["run_id"], found["raw_shop.orders"]["stats"]) == (
        "r2",
        {"inserted": 5},
    )
    assert found["commerce.daily"]["complete"] is False
    assert found["commerce.daily"]["age_seconds"] == 60.0
