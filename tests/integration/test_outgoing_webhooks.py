"""Outgoing webhooks end to end: real workflows on the engine write events to a real SQLite
store; subscribers deliver them to real local HTTP receivers, which check the signature the
way a receiver would (with hmac, not with podium's code)."""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.outgoing_support import Received, Receiver, answer, run_workflow
from podium.core.workflow import Project
from podium.engine import services
from podium.notify.runner import Subscribers
from podium.outgoing.hooks_config import outgoing_webhooks
from podium.outgoing.webhooks import OutgoingWebhookSubscriber
from podium.project import load_project
from podium.server.subscribers import subscribers_for
from podium.store.database import Database, open_database
from podium.testing import FakeClock

SECRET = "whsec_out_8d1f2a6b9c"
WORKFLOWS = {
    "daily": """
        name: daily
        tasks:
          - {id: load, shell: "echo loaded", produces: [commerce.orders]}
    """,
    "other": """
        name: other
        tasks:
          - {id: hello, shell: "echo hi"}
    """,
}


def verified(got: Received, secret: str = SECRET, now: float | None = None) -> bool:
    """What a receiver does: recompute the HMAC over the raw body, compare in constant
    time, and refuse a timestamp more than 300 s away."""
    header = got.header("Podium-Signature") or ""
    parts = dict(item.split("=", 1) for item in header.split(","))
    stamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + got.body, hashlib.sha256)
    fresh = abs((now or time.time()) - stamp) <= 300
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


def make_project(root: Path, hooks: str) -> Project:
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    config = "store: sqlite:///.podium/state.db\noutgoing_webhooks:\n" + textwrap.indent(
        textwrap.dedent(hooks).strip() + "\n", "  "
    )
    (root / "podium.yaml").write_text(config)
    for name, text in WORKFLOWS.items():
        (root / "workflows" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(root, environ={"OUTGOING_HOOK_SECRET": SECRET})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path}/.podium/state.db")
    yield database
    database.close()


def stepped(project: Project, db: Database, clock: FakeClock) -> Subscribers:
    """Subscribers stepped by the test (no thread): each delivery pass runs inline."""
    subs = [
        OutgoingWebhookSubscriber(db, hook, project.secrets, clock=clock, background=False)
        for hook in outgoing_webhooks(project.outgoing_webhooks)
    ]
    runner = Subscribers(db, subs)
    for feed in runner.feeds.values():
        feed.start_at_end()
    return runner


def sent_rows(db: Database) -> list[tuple[Any, ...]]:
    return db.read().fetchall(
        "SELECT key, notifier, status, attempts, error FROM notifications_sent ORDER BY key"
    )


# -- delivered, signed ---------------------------------------------------------------------------


def test_events_are_delivered_signed_as_podium_up_runs_them(
    tmp_path: Path, receiver: Receiver, db: Database
) -> None:
    project = make_project(
        tmp_path, f"- {{url: '{receiver.url('/podium')}', secret: '${{OUTGOING_HOOK_SECRET}}'}}"
    )
    runner = Subscribers(db, subscribers_for(project, db), poll=0.05)  # as podium up does
    runner.start()
    try:
        run = run_workflow(project, db, "daily")
        got = receiver.wait_for(2)
    finally:
        runner.stop()
        for sub in runner.subscribers:
            getattr(sub, "close", lambda: None)()
    assert run["status"] == "succeeded"
    bodies = [g.json() for g in got]
    assert [b["type"] for b in bodies] == ["AssetUpdated", "RunFinished"]
    asset, finished = bodies
    assert finished["run_id"] == run["run_id"] and finished["workflow"] == "daily"
    assert finished["payload"] == {"workflow": "daily", "status": "succeeded"}
    assert finished["task_id"] is None
    assert asset["payload"]["asset"] == "commerce.orders" and asset["task_id"] == "load"
    assert asset["at"].endswith("Z") and asset["id"] < finished["id"]
    for g, body in zip(got, bodies, strict=True):
        assert verified(g)
        assert not verified(g, secret="whsec_wrong")
        assert g.header("Podium-Event-Id") == str(body["id"])
        assert g.header("Podium-Event-Type") == body["type"]
        assert g.header("Content-Type") == "application/json"
        plain = hmac.new(SECRET.encode(), g.body, hashlib.sha256).hexdigest()
        assert g.header("Podium-Signature-256") == f"sha256={plain}"
    name = runner.subscribers[0].name
    assert [(r[1], r[2], r[3]) for r in sent_rows(db)] == [(name, "delivered", 1)] * 2


def test_a_failed_delivery_is_tried_again_after_its_wait(
    tmp_path: Path, receiver: Receiver, db: Database
) -> None:
    project = make_project(
        tmp_path,
        f"- {{url: '{receiver.url('/h')}', secret: '${{OUTGOING_HOOK_SECRET}}',"
        " events: [RunFinished], retry_delay: 30s}",
    )
    clock = FakeClock(time.time())
    runner = stepped(project, db, clock)
    receiver.script("/h", answer(500, {"error": "database is down"}))
    run_workflow(project, db, "daily")

    runner.step(clock())
    assert len(receiver.requests) == 1
    ((key, _, status, attempts, error),) = sent_rows(db)
    assert (status, attempts) == ("pending", 1)
    assert error == '500 Internal Server Error: {"error": "database is down"}'

    clock.advance(29)
    runner.step(clock())
    assert len(receiver.requests) == 1  # not yet: the first retry waits retry_delay
    clock.advance(2)
    runner.step(clock())
    first, second = receiver.wait_for(2)
    assert sent_rows(db) == [(key, runner.subscribers[0].name, "delivered", 2, None)]
    assert first.body == second.body  # the same bytes on every try
    assert first.header("Podium-Event-Id") == second.header("Podium-Event-Id")
    assert [first.header("Podium-Delivery-Attempt"), second.header("Podium-Delivery-Attempt")] == [
        "1",
        "2",
    ]
    assert verified(second, now=clock())


def test_a_delivery_that_keeps_failing_is_recorded_failed_without_secrets(
    tmp_path: Path, receiver: Receiver, db: Database
) -> None:
    project = make_project(
        tmp_path,
        f"- {{url: '{receiver.url('/h')}', secret: '${{OUTGOING_HOOK_SECRET}}',"
        " events: [RunFinished], attempts: 2, retry_delay: 1s}",
    )
    receiver.default = answer(403, {"error": f"signature made with {SECRET} is not ours"})
    clock = FakeClock(time.time())
    runner = stepped(project, db, clock)
    run_workflow(project, db, "daily")
    runner.step(clock())
    clock.advance(1.5)
    runner.step(clock())
    clock.advance(60)
    runner.step(clock())
    assert len(receiver.requests) == 2
    ((_, _, status, attempts, error),) = sent_rows(db)
    assert (status, attempts) == ("failed", 2)
    assert error == '403 Forbidden: {"error": "signature made with *** is not ours"}'


def test_an_unreachable_receiver_is_a_failed_try(tmp_path: Path, db: Database) -> None:
    with Receiver() as gone:
        url = gone.url("/h")
    project = make_project(
        tmp_path, f"- {{url: '{url}', secret: '${{OUTGOING_HOOK_SECRET}}', events: [RunFinished]}}"
    )
    clock = FakeClock(time.time())
    runner = stepped(project, db, clock)
    run_workflow(project, db, "daily")
    runner.step(clock())
    ((_, _, status, attempts, error),) = sent_rows(db)
    assert (status, attempts) == ("pending", 1)
    assert error.startswith("ConnectError: ")


# -- filters -------------------------------------------------------------------------------------


def test_event_types_and_workflows_filter_what_each_hook_gets(
    tmp_path: Path, receiver: Receiver, db: Database
) -> None:
    project = make_project(
        tmp_path,
        f"""
        - url: '{receiver.url("/daily")}'
          secret: '${{OUTGOING_HOOK_SECRET}}'
          events: [RunFinished]
          workflows: [daily]
        - url: '{receiver.url("/custom")}'
          secret: '${{OUTGOING_HOOK_SECRET}}'
          events: [orders_ready]
        """,
    )
    clock = FakeClock(time.time())
    runner = stepped(project, db, clock)
    daily = run_workflow(project, db, "daily")
    run_workflow(project, db, "other")
    services.emit_event(db, "orders_ready", {"count": 3})
    runner.step(clock())
    got = receiver.wait_for(2)
    assert len(got) == 2
    by_path = {g.path: g.json() for g in got}
    assert by_path["/daily"]["type"] == "RunFinished"
    assert by_path["/daily"]["run_id"] == daily["run_id"]
    assert by_path["/custom"]["type"] == "orders_ready"
    assert by_path["/custom"]["payload"] == {"count": 3}
    assert by_path["/custom"]["workflow"] is None


# -- once, across restarts ------------------------------------------------------------------------


def test_a_restart_that_replays_events_sends_nothing_twice(
    tmp_path: Path, receiver: Receiver, db: Database
) -> None:
    project = make_project(
        tmp_path,
        f"- {{url: '{receiver.url('/h')}', secret: '${{OUTGOING_HOOK_SECRET}}', retry_delay: 1s}}",
    )
    clock = FakeClock(time.time())
    first = stepped(project, db, clock)
    run_workflow(project, db, "daily")
    first.step(clock())
    assert len(receiver.requests) == 2
    cut_off = sent_rows(db)[-1][0]
    # a crash before the cursor moved: the batch is handed out again after the restart
    with db.transaction() as tx:
        tx.execute("UPDATE event_cursors SET seq = 0")
        # and one try cut off mid-way: claimed (attempts 1) but its outcome never recorded
        tx.execute("UPDATE notifications_sent SET status = 'pending' WHERE key = ?", (cut_off,))
    restarted = stepped(project, db, clock)
    restarted.step(clock())
    assert len(receiver.requests) == 2  # the replayed batch sent nothing again
    clock.advance(1.5)
    restarted.step(clock())
    got = receiver.wait_for(3)
    assert got[2].header("Podium-Event-Id") == cut_off.rsplit(":", 1)[1]  # at least once
    assert [r[2:4] for r in sent_rows(db)] == [("delivered", 1), ("delivered", 2)]


# -- nothing waits on a slow receiver -----------------------------------------------------------


def test_a_hanging_receiver_holds_up_neither_events_nor_other_hooks(
    tmp_path: Path, db: Database
) -> None:
    with Receiver() as slow, Receiver() as fast:
        release = __import__("threading").Event()

        def hang(_: Received) -> None:
            release.wait(10)

        slow.on_request = hang
        project = make_project(
            tmp_path,
            f"""
            - {{name: slow, url: '{slow.url()}', secret: x-secret-1, events: [RunFinished], timeout: 20s}}
            - {{name: fast, url: '{fast.url()}', secret: x-secret-2, events: [RunFinished]}}
            """,
        )
        runner = Subscribers(db, subscribers_for(project, db), poll=0.05)
        runner.start()
        try:
            run_workflow(project, db, "daily")
            run_workflow(project, db, "other")
            started = time.monotonic()
            got = fast.wait_for(2, timeout=5)
            assert time.monotonic() - started < 3
            assert [json.loads(g.body)["workflow"] for g in got] == ["daily", "other"]
            assert slow.requests == []  # still hanging on the first delivery
            release.set()
            assert len(slow.wait_for(2)) == 2  # then the slow hook gets both, in turn
        finally:
            release.set()
            runner.stop()
            for sub in runner.subscribers:
                getattr(sub, "close", lambda: None)()


# -- podium chains on podium ----------------------------------------------------------------------


DOWNSTREAM = """
store: sqlite:///.podium/state.db
connections:
  upstream_podium:
    type: webhook
    webhooks:
      verify: hmac
      header: Podium-Signature-256
      prefix: "sha256="
      secret: ${OUTGOING_HOOK_SECRET}
      id_field: id
      topic_field: type
"""


def test_another_podium_receives_verifies_and_dedupes_the_deliveries(
    tmp_path: Path, db: Database
) -> None:
    import socket
    import threading

    import uvicorn

    from podium.server.api import create_app
    from podium.webhooks import inbox

    other = tmp_path / "downstream"
    (other / "workflows").mkdir(parents=True)
    (other / "podium.yaml").write_text(DOWNSTREAM.lstrip())
    (other / "workflows" / "noop.yaml").write_text("tasks:\n  - {id: a, shell: echo}\n")
    downstream = load_project(other, environ={"OUTGOING_HOOK_SECRET": SECRET})
    other_db = open_database(downstream.store_url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(downstream, other_db, lambda: None),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/webhooks/upstream_podium"
        project = make_project(tmp_path / "upstream", f"- {{url: '{url}', secret: '{SECRET}'}}")
        clock = FakeClock(time.time())
        runner = stepped(project, db, clock)
        run_workflow(project, db, "daily")
        runner.step(clock())
        assert [r[2:4] for r in sent_rows(db)] == [("delivered", 1)] * 2
        stored = inbox.list_deliveries(other_db, connection="upstream_podium")
        assert sorted(d["topic"] for d in stored) == ["AssetUpdated", "RunFinished"]
        seqs = sorted(r[0].rsplit(":", 1)[1] for r in sent_rows(db))
        assert sorted(str(d["delivery_id"]) for d in stored) == seqs

        with db.transaction() as tx:  # deliver both again: the receiver keeps one of each
            tx.execute("UPDATE notifications_sent SET status = 'pending', attempts = 0")
        (hook,) = runner.subscribers
        assert isinstance(hook, OutgoingWebhookSubscriber)
        assert hook.deliver_due() == 2
        assert inbox.count_deliveries(other_db, connection="upstream_podium") == 2
        assert [r[2] for r in sent_rows(db)] == ["delivered"] * 2
    finally:
        server.should_exit = True
        thread.join(10)
        other_db.close()
