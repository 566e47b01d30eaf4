"""The engine's side of the webhook inbox, on both stores with a fake clock: each entry is
processed once into the runs of the triggers it matches, failures are retried with backoff
and dead-lettered without blocking other entries, and a replay processes an entry again."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from podium.core.workflow import Task, WebhookTrigger, Workflow
from podium.engine import queries
from podium.engine.loop import Engine
from podium.errors import NotFoundError, UsageError
from podium.store.database import Database
from podium.testing import FakeClock, ManualExecutor, project_of
from podium.webhooks import inbox
from podium.webhooks.inbox import Stored, store_deliveries
from podium.webhooks.verify import Delivery

CONNECTIONS = {
    "shop": {"type": "webhook", "webhooks": {"verify": "shopify", "secret": "s3cret-shop"}},
    "quiet": {"type": "webhook", "webhooks": {"verify": "shopify", "secret": "s3cret-quiet"}},
    "fragile": {
        "type": "webhook",
        "webhooks": {
            "verify": "shopify",
            "secret": "s3cret-fragile",
            "max_attempts": 3,
            "retry_delay": "10s",
        },
    },
}
TASK = (Task("t", "shell", "true"),)
PAID = Workflow(
    "paid",
    TASK,
    (WebhookTrigger("shop", ("orders/*",), {"financial_status": "paid"}, {"order": "id"}),),
    params={"order": None},
)
EVERY = Workflow("every", TASK, (WebhookTrigger("shop"), WebhookTrigger("fragile")))
NEEDY = Workflow(
    "needy", TASK, (WebhookTrigger("fragile", params={"order": "data.id"}),), {"order": None}
)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    project = replace(project_of(PAID, EVERY, NEEDY), connections=CONNECTIONS)
    engine = Engine(
        project, database, executor=ManualExecutor(), clock=FakeClock(), rng=random.Random(0)
    )
    engine.start()
    yield engine
    engine.close()


def deliver(
    engine: Engine, connection: str, delivery_id: str, payload: Any, topic: str = "orders/create"
) -> Stored:
    d = Delivery(connection, delivery_id, topic, {"x-shopify-topic": topic}, json.dumps(payload))
    return store_deliveries(engine.db, [d], engine.clock())[0]


def step(engine: Engine) -> None:
    engine.poke()
    engine.step()


def runs(engine: Engine, workflow: str | None = None) -> list[dict[str, Any]]:
    return list(reversed(queries.list_runs(engine.db, workflow=workflow, limit=1000)))


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    rows = engine.db.read().fetchall(
        "SELECT payload FROM events WHERE type = ? ORDER BY seq", (kind,)
    )
    return [json.loads(r[0]) for r in rows]


def entry(engine: Engine, inbox_id: int) -> dict[str, Any]:
    return inbox.show_delivery(engine.db, inbox_id)


def test_a_delivery_starts_the_matching_workflows_with_its_payload(engine: Engine) -> None:
    stored = deliver(engine, "shop", "wh-1", {"id": 42, "financial_status": "paid"})
    step(engine)
    (paid,) = runs(engine, "paid")
    assert paid["params"] == {"order": 42}
    assert paid["trigger"] == {
        "type": "webhook",
        "connection": "shop",
        "topic": "orders/create",
        "delivery_id": "wh-1",
        "inbox_id": stored.inbox_id,
        "payload": {"id": 42, "financial_status": "paid"},
    }
    assert len(runs(engine, "every")) == 1
    done = entry(engine, stored.inbox_id)
    assert (done["status"], done["attempts"], done["last_error"]) == ("processed", 1, None)
    (received,) = events(engine, "WebhookReceived")
    assert received["inbox_id"] == stored.inbox_id
    assert sorted(received["runs"]) == sorted(r["run_id"] for r in runs(engine))


def test_a_redelivered_id_is_stored_and_processed_once(engine: Engine) -> None:
    first = deliver(engine, "shop", "wh-1", {"id": 1, "financial_status": "paid"})
    again = [
        deliver(engine, "shop", "wh-1", {"id": 1, "financial_status": "paid"}) for _ in range(8)
    ]
    assert not first.duplicate and all(a.duplicate and a.inbox_id == first.inbox_id for a in again)
    step(engine)
    deliver(engine, "shop", "wh-1", {"id": 1, "financial_status": "paid"})
    step(engine)
    step(engine)
    assert len(runs(engine, "paid")) == 1 and len(runs(engine, "every")) == 1
    assert len(inbox.list_deliveries(engine.db)) == 1
    assert len(events(engine, "WebhookReceived")) == 1


def test_topic_and_filters_decide_which_workflows_start(engine: Engine) -> None:
    deliver(engine, "shop", "a", {"id": 1, "financial_status": "pending"})
    deliver(engine, "shop", "b", {"id": 2, "financial_status": "paid"}, topic="refunds/create")
    deliver(engine, "shop", "c", {"id": 3, "financial_status": "paid"}, topic="orders/paid")
    deliver(engine, "quiet", "d", {"id": 4})  # no trigger listens: processed, no run
    step(engine)
    assert [r["params"]["order"] for r in runs(engine, "paid")] == [3]
    assert len(runs(engine, "every")) == 3
    assert {e["status"] for e in inbox.list_deliveries(engine.db)} == {"processed"}


def test_a_failing_entry_is_retried_with_backoff_then_dead_and_never_blocks(
    engine: Engine,
) -> None:
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    bad = deliver(engine, "fragile", "bad", {"id": 1})  # needy's params need data.id
    step(engine)
    failed = entry(engine, bad.inbox_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert "the payload has no 'data.id' for param 'order'" in failed["last_error"]
    assert runs(engine) == []  # `every` matched too, but the entry's work was rolled back
    good = deliver(engine, "fragile", "good", {"data": {"id": 7}})
    step(engine)
    assert entry(engine, good.inbox_id)["status"] == "processed"
    assert entry(engine, bad.inbox_id)["attempts"] == 1  # not due before its backoff
    for delay, attempts in ((10, 2), (20, 3)):
        clock.advance(delay - 0.5)
        step(engine)
        assert entry(engine, bad.inbox_id)["attempts"] == attempts - 1
        clock.advance(0.5)
        step(engine)
        assert entry(engine, bad.inbox_id)["attempts"] == attempts
    dead = entry(engine, bad.inbox_id)
    assert (dead["status"], dead["next_attempt_at"]) == ("dead", None)
    clock.advance(3600)
    step(engine)
    assert entry(engine, bad.inbox_id)["attempts"] == 3
    assert [e["dead"] for e in events(engine, "WebhookFailed")] == [False, False, True]
    assert sorted(r["workflow"] for r in runs(engine)) == ["every", "needy"]  # `good` only


def test_a_replay_processes_an_entry_again_and_starts_new_runs(engine: Engine) -> None:
    stored = deliver(engine, "shop", "wh-9", {"id": 9, "financial_status": "paid"})
    with pytest.raises(UsageError, match="pending"):
        inbox.replay(engine.db, stored.inbox_id)
    step(engine)
    replayed = inbox.replay(engine.db, stored.inbox_id)
    assert (replayed["status"], replayed["replays"]) == ("pending", 1)
    step(engine)
    replays = sorted(r["trigger"].get("replay", 0) for r in runs(engine, "paid"))
    assert replays == [0, 1]  # the first processing, then the replay
    assert entry(engine, stored.inbox_id)["status"] == "processed"
    with pytest.raises(NotFoundError, match="no webhook delivery 999"):
        inbox.replay(engine.db, 999)


def test_a_dead_entry_can_be_replayed(engine: Engine) -> None:
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    bad = deliver(engine, "fragile", "bad", {"id": 1})
    for _ in range(3):
        step(engine)
        clock.advance(3600)
    assert entry(engine, bad.inbox_id)["status"] == "dead"
    inbox.replay(engine.db, bad.inbox_id)
    step(engine)
    again = entry(engine, bad.inbox_id)
    assert (again["status"], again["attempts"], again["replays"]) == ("failed", 1, 1)


def test_listing_filters_pages_and_leaves_bodies_out(engine: Engine) -> None:
    for i in range(5):
        deliver(engine, "shop" if i % 2 else "quiet", f"d{i}", {"id": i})
    listed = inbox.list_deliveries(engine.db)
    assert [e["delivery_id"] for e in listed] == ["d4", "d3", "d2", "d1", "d0"]
    assert "body" not in listed[0] and listed[0]["received_at"].endswith("+00:00")
    assert [e["delivery_id"] for e in inbox.list_deliveries(engine.db, connection="shop")] == [
        "d3",
        "d1",
    ]
    assert [e["delivery_id"] for e in inbox.list_deliveries(engine.db, limit=2, offset=1)] == [
        "d3",
        "d2",
    ]
    assert inbox.list_deliveries(engine.db, status="dead") == []
    with pytest.raises(UsageError, match="unknown webhook status 'gone'"):
        inbox.list_deliveries(engine.db, status="gone")
    shown = inbox.show_delivery(engine.db, listed[0]["id"])
    assert shown["payload"] == {"id": 4} and shown["headers"] == {
        "x-shopify-topic": "orders/create"
    }
