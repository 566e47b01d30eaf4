"""Notifications end to end: real workflows run by the engine (threads, real clock, SQLite
store), notifiers delivering through apprise to a real SMTP server (aiosmtpd, with login)
and a real HTTP receiver, both on 127.0.0.1.

What is checked: one alert per (run, task, state) while a task retries, ``recovered`` when
the workflow next succeeds, ``late``, ``check_failed`` (from real model checks on DuckDB),
``sla_missed``, the per-workflow filter and a workflow's own ``notify:``, the link to the
run, the Slack plugin's payload, and that no secret reaches a message or a log record.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from e2e.conftest import wait_until
from podium.core.workflow import Project
from podium.engine import services
from podium.engine.loop import Engine
from podium.notify.delivery import AppriseDestination
from podium.notify.notifier import Notifier, notifiers_for
from podium.notify.runner import Subscriber, Subscribers
from podium.project import load_project
from podium.store.database import Database, open_database

SMTP_PASSWORD = "smtp-Passw0rd-7x"
HOOK_PASSWORD = "hook-S3cret-pw-42"
SHOP_TOKEN = "shpat_S3CRET_0123456789abcdef"
SLACK = "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/slackTOKENabcdef0123456789"
SECRETS = (SMTP_PASSWORD, HOOK_PASSWORD, SHOP_TOKEN, "slackTOKENabcdef0123456789")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """An SMTP server (aiosmtpd) that wants a login and keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[bytes] = []
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                sink.messages.append(parsed)  # type: ignore[arg-type]
                return "250 OK"

        def login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = isinstance(data, LoginPassword) and data.password == SMTP_PASSWORD.encode()
            if ok:
                sink.logins.append(data.login)
            return AuthResult(success=ok)

        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=login,
            auth_require_tls=False,
        )
        self._controller.start()

    def url(self, to: str = "team@example.com") -> str:
        return (
            f"mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
            f"?smtp=127.0.0.1&mode=insecure&from=podium@example.com&to={to}"
        )

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def body(self, index: int) -> str:
        part = self.messages[index].get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    def close(self) -> None:
        self._controller.stop()


class HookSink:
    """An HTTP receiver that keeps every POST: (path, headers, JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.posts.append((self.path, dict(self.headers.items()), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"json://alerts:{HOOK_PASSWORD}@127.0.0.1:{self.port}{path}"

    def titles(self, path: str = "/hook") -> list[str]:
        return [body["title"] for p, _, body in self.posts if p == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.close()


@pytest.fixture
def hooks() -> Iterator[HookSink]:
    sink = HookSink()
    yield sink
    sink.close()


def write_project(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


@contextmanager
def serving(
    project: Project, make: Callable[[Database], list[Subscriber]] | None = None
) -> Iterator[tuple[Engine, Database]]:
    """The engine (threads, real clock) and the project's notifiers (or those ``make``
    returns), as ``podium up`` runs them, until the block ends."""
    db = open_database(project.store_url)
    found = make(db) if make else list(notifiers_for(project, db))
    subscribers = Subscribers(db, found, poll=0.05)
    subscribers.start()
    engine = Engine(project, db)
    engine.start()
    engine.on_events = lambda _events: subscribers.wake()
    stop = threading.Event()
    thread = threading.Thread(
        target=engine.run, kwargs={"until": lambda: False, "stop": stop}, daemon=True
    )
    thread.start()
    try:
        yield engine, db
    finally:
        stop.set()
        engine.poke()
        thread.join(timeout=10)
        subscribers.stop()
        engine.close()
        db.close()


def finished(db: Database, run_id: str) -> str | None:
    row = db.read().fetchone("SELECT status FROM runs WHERE id = ?", (run_id,))
    return row[0] if row and row[0] in ("succeeded", "failed", "cancelled") else None


def all_sent(db: Database, count: int) -> list[tuple[str, str, int]] | None:
    """The alert rows once there are ``count``, none of them still pending or sending."""
    rows = sent_rows(db)
    return rows if len(rows) == count and all(s in ("sent", "failed") for _, s, _ in rows) else None


def sent_rows(db: Database) -> list[tuple[str, str, int]]:
    rows = db.read().fetchall("SELECT key, status, attempts FROM notifications_sent ORDER BY key")
    return [(str(k), str(s), int(a)) for k, s, a in rows]


DAILY_FLAKY = """
    name: daily
    tasks:
      - id: shopify
        shell: "test -f fixed || { echo 'shopify said 401 for token ${SHOP_TOKEN}'; exit 1; }"
        retries: 2
      - id: report
        shell: echo report
        depends_on: [shopify]
"""


def test_one_alert_per_failed_task_through_retries_then_recovered(
    tmp_path: Path, smtp: SmtpSink, hooks: HookSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    write_project(
        tmp_path,
        {
            "podium.yaml": f"""
                server: {{url: "https://podium.example.com/"}}
                notifications:
                  - name: team-mail
                    on: [failed, recovered]
                    to: ${{ALERT_MAIL}}
                  - {{name: hook, on: [failed, recovered], to: "{hooks.url()}"}}
            """,
            "workflows/daily.yaml": DAILY_FLAKY,
        },
    )
    env = {"ALERT_MAIL": smtp.url(), "SHOP_TOKEN": SHOP_TOKEN}
    project = load_project(tmp_path, environ=env)
    with serving(project) as (_, db):
        failed = services.start_run(db, project, "daily")
        wait_until(lambda: finished(db, failed), 30, message="the failing run to end")
        wait_until(lambda: len(smtp.messages) >= 1 and hooks.posts, 15, message="the alerts")
        (tmp_path / "fixed").write_text("")
        fixed = services.start_run(db, project, "daily")
        wait_until(lambda: finished(db, fixed), 30, message="the fixed run to end")
        wait_until(lambda: len(smtp.messages) >= 2 and len(hooks.posts) >= 2, 15)
        rows = wait_until(lambda: all_sent(db, 4), 10, message="every delivery recorded")
        attempts = db.read().fetchall(
            "SELECT number, status FROM attempts WHERE run_id = ? AND task_id = 'shopify'",
            (failed,),
        )
    assert sorted(attempts) == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert smtp.subjects() == ["[podium] daily failed: shopify", "[podium] daily recovered"]
    assert hooks.titles() == ["[podium] daily failed: shopify", "[podium] daily recovered"]
    assert smtp.logins == [b"alerts", b"alerts"]
    mail = smtp.body(0)
    assert "Task shopify of daily failed after 3 attempts." in mail
    assert "Did not run (upstream failed): report" in mail
    assert "shopify said 401 for token ***" in mail
    assert f"Open the run in podium: https://podium.example.com/runs/{failed}" in mail
    assert f"The run before, {failed}, had failed." in smtp.body(1)
    path, headers, body = hooks.posts[0]
    assert headers["Authorization"].startswith("Basic ")
    assert body["message"].startswith("Task shopify of daily failed after 3 attempts.")
    assert rows == [
        (f"notify:hook:failed:{failed}:shopify:0", "sent", 1),
        (f"notify:hook:recovered:{fixed}:-:0", "sent", 1),
        (f"notify:team-mail:failed:{failed}:shopify:0", "sent", 1),
        (f"notify:team-mail:recovered:{fixed}:-:0", "sent", 1),
    ]
    delivered = [m.as_string() for m in smtp.messages] + [json.dumps(p[2]) for p in hooks.posts]
    logged = [r.getMessage() for r in caplog.records]
    assert any(r.name == "apprise" for r in caplog.records), "apprise logged nothing"
    for secret in SECRETS:
        assert not any(secret in text for text in delivered + logged), secret


def test_rules_for_one_workflow_and_a_workflows_own_notify(tmp_path: Path, hooks: HookSink) -> None:
    weekly = DAILY_FLAKY.replace("name: daily", "name: weekly").replace("${SHOP_TOKEN}", "x")
    weekly += f"    notify:\n      - {{on: [failed], to: '{hooks.url('/weekly')}'}}\n"
    write_project(
        tmp_path,
        {
            "podium.yaml": f"""
                notifications:
                  - {{on: [failed], to: "{hooks.url()}", workflows: [daily]}}
            """,
            "workflows/daily.yaml": DAILY_FLAKY,
            "workflows/weekly.yaml": weekly,
        },
    )
    project = load_project(tmp_path, environ={"SHOP_TOKEN": SHOP_TOKEN})
    with serving(project) as (_, db):
        runs = [services.start_run(db, project, name) for name in ("weekly", "daily")]
        for run in runs:
            wait_until(lambda run=run: finished(db, run), 30, message=f"run {run} to end")
        wait_until(lambda: len(hooks.posts) >= 2, 15, message="two alerts")
        time.sleep(0.3)  # a third, wrongly addressed alert would arrive now
    assert sorted((path, body["title"]) for path, _, body in hooks.posts) == [
        ("/hook", "[podium] daily failed: shopify"),
        ("/weekly", "[podium] weekly failed: shopify"),
    ]


CHECKED_PROJECT = {
    "inbox/shop/orders1.csv": "id,total\n1,10.50\n2,\n",
    "models/commerce/orders.sql": "select id, total from raw_shop.orders",
    "models/commerce/orders.yaml": """
        checks:
          - {kind: not_null, column: total}
          - {kind: row_count, min: 5, severity: warn}
    """,
    "workflows/daily.yaml": """
        name: daily
        tasks:
          - id: shop
            extract: shop
          - id: slow
            shell: sleep 2
            late_after: 0.3s
            on_late: continue
          - id: models
            transform: commerce
            depends_on: [shop]
          - id: publish
            shell: echo published
            depends_on: [models, slow]
    """,
}


def checked_project_yaml(on: str, to: str) -> str:
    """podium.yaml for ``CHECKED_PROJECT``: orders from CSV files, alerts ``on`` to ``to``."""
    return f"""
        warehouse: {{type: duckdb}}
        connections:
          shop:
            type: files
            path: inbox/shop
            streams:
              orders: {{pattern: "orders*.csv", primary_key: id}}
        notifications:
          - {{on: {on}, to: "{to}"}}
    """


def test_late_and_failed_checks_from_real_tasks(tmp_path: Path, hooks: HookSink) -> None:
    podium_yaml = checked_project_yaml("[failed, late, check_failed]", hooks.url())
    write_project(tmp_path, {"podium.yaml": podium_yaml, **CHECKED_PROJECT})
    project = load_project(tmp_path, environ={})
    with serving(project) as (_, db):
        run = services.start_run(db, project, "daily")
        wait_until(lambda: finished(db, run), 60, message="the run to end")
        wait_until(lambda: len(hooks.posts) >= 3, 15, message="three alerts")
        time.sleep(0.3)
    model = "models.commerce.orders"
    assert sorted(hooks.titles()) == [
        f"[podium] daily check failed: {model}",
        f"[podium] daily failed: {model}",
        "[podium] daily late: slow",
    ]
    bodies = {body["title"]: body["message"] for _, _, body in hooks.posts}
    checked = bodies[f"[podium] daily check failed: {model}"]
    assert "2 checks failed in task models.commerce.orders of daily." in checked
    assert "The task failed: nothing downstream reads what it built." in checked
    assert "Check (error): commerce_orders_not_null_total:" in checked
    assert "Check (warn): commerce_orders_row_count:" in checked
    failure = bodies[f"[podium] daily failed: {model}"]
    assert "Produces: commerce.orders" in failure
    assert "Did not run (upstream failed): publish" in failure
    assert "Data (in this run): commerce.orders: 2 rows" not in failure  # a failed build
    late = bodies["[podium] daily late: slow"]
    assert "is still running after 300ms" in late and "marked incomplete" in late


def test_a_failure_says_the_revenue_of_the_model_it_leaves_stale(
    tmp_path: Path, hooks: HookSink
) -> None:
    files = dict(CHECKED_PROJECT)
    files["inbox/shop/orders1.csv"] = "id,total\n1,10.50\n2,20.00\n"
    files["models/commerce/orders.yaml"] = """
        revenue: total
        checks:
          - {kind: not_null, column: total}
    """
    write_project(tmp_path, {"podium.yaml": checked_project_yaml("failed", hooks.url()), **files})
    project = load_project(tmp_path, environ={})
    with serving(project) as (_, db):
        good = services.start_run(db, project, "daily")
        wait_until(lambda: finished(db, good), 60, message="the good run to end")
        (tmp_path / "inbox/shop/orders2.csv").write_text("id,total\n3,\n")  # fails not_null
        bad = services.start_run(db, project, "daily")
        wait_until(lambda: finished(db, bad), 60, message="the failing run to end")
        wait_until(lambda: len(hooks.posts) >= 1, 15, message="the alert")
        time.sleep(0.3)
    assert hooks.titles() == ["[podium] daily failed: models.commerce.orders"]
    body = hooks.posts[0][2]["message"]
    # the model's last good build summed total to 30.50: what this failure leaves stale
    assert "Revenue: commerce.orders: 30.50 (as of " in body


def test_a_missed_deadline_is_mailed(tmp_path: Path, smtp: SmtpSink) -> None:
    now = datetime.now(UTC)
    if now.hour == 23 and now.minute == 59:
        time.sleep(61 - now.second)  # the deadline below must fall on today's date
        now = datetime.now(UTC)
    deadline = now.strftime("%H:%M")  # this minute: passed already, today
    write_project(
        tmp_path,
        {
            "podium.yaml": 'notifications:\n  - {on: [sla_missed], to: "${ALERT_MAIL}"}\n',
            "workflows/daily.yaml": f'name: daily\ndeadline: "{deadline}"\n'
            "tasks: [{id: a, shell: 'true'}]\n",
        },
    )
    project = load_project(tmp_path, environ={"ALERT_MAIL": smtp.url()})
    with serving(project) as (_, db):
        wait_until(lambda: smtp.messages, 15, message="the SLA alert")
        events = db.read().fetchall("SELECT payload FROM events WHERE type = 'SlaMissed'")
    assert smtp.subjects() == [f"[podium] daily missed its deadline ({deadline} UTC)"]
    day = now.date().isoformat()
    assert f"No run of daily succeeded on {day} by its deadline, {deadline} UTC" in smtp.body(0)
    assert "Latest run: none yet" in smtp.body(0)
    assert [json.loads(p)["date"] for (p,) in events] == [day]


def test_the_slack_plugin_posts_mrkdwn_with_a_header(tmp_path: Path, hooks: HookSink) -> None:
    """apprise's Slack plugin only posts to hooks.slack.com; here its endpoint is pointed at
    the local receiver to see the payload Slack would get."""
    write_project(
        tmp_path,
        {
            "podium.yaml": f"""
                notifications:
                  - {{name: slack, on: [failed], to: "{SLACK}?blocks=yes"}}
            """,
            "workflows/daily.yaml": DAILY_FLAKY,
        },
    )
    project = load_project(tmp_path, environ={"SHOP_TOKEN": SHOP_TOKEN})
    (rule,) = project.notifications
    destination = AppriseDestination(rule.to, set(project.secrets))
    destination._plugin.webhook_url = f"http://127.0.0.1:{hooks.port}/services"
    assert destination.style == "slack"
    with serving(project, lambda db: [Notifier(rule, project, db, destination)]) as (_, db):
        run = services.start_run(db, project, "daily")
        wait_until(lambda: finished(db, run), 30, message="the run to end")
        wait_until(lambda: hooks.posts, 15, message="the Slack post")
    ((path, _, payload),) = hooks.posts
    assert path == "/services/T0A1B2C3D/B0A1B2C3D/slackTOKENabcdef0123456789"
    header, section = payload["attachments"][0]["blocks"][:2]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[podium] daily failed: shopify", "emoji": True},
    }
    assert section["text"]["type"] == "mrkdwn"
    text = section["text"]["text"]
    assert text.startswith("Task `shopify` of `daily` failed after 3 attempts.")
    assert "*Did not run (upstream failed):* `report`" in text
    assert f"<http://127.0.0.1:8642/runs/{run}|Open the run in podium>" in text
    assert SHOP_TOKEN not in json.dumps(payload)


def test_podium_up_sends_alerts(make_project: Any, smtp: SmtpSink, hooks: HookSink) -> None:
    """The whole path in a real ``podium up``: its subscriber thread, setup from podium.yaml,
    a deadline missed when it starts, a failed run started over the API."""
    deadline = datetime.now(UTC).strftime("%H:%M")
    if deadline == "23:59":
        time.sleep(61)
        deadline = datetime.now(UTC).strftime("%H:%M")
    project = make_project(
        {
            "podium.yaml": f"""
                server: {{url: "http://podium.test:8642"}}
                notifications:
                  - {{name: mail, on: [sla_missed], to: "${{ALERT_MAIL}}"}}
                  - {{name: hook, on: [failed], to: "{hooks.url()}"}}
            """,
            "workflows/daily.yaml": f"""
                name: daily
                deadline: "{deadline}"
                tasks:
                  - id: shopify
                    shell: "echo 'bad token ${{SHOP_TOKEN}}'; exit 1"
                    retries: 1
            """,
        },
        env={"ALERT_MAIL": smtp.url(), "SHOP_TOKEN": SHOP_TOKEN},
    )
    up = project.up()
    wait_until(lambda: smtp.messages, 20, message="the SLA e-mail")
    response = up.http.post("/api/workflows/daily/runs", json={"params": {}})
    assert response.status_code == 201, response.text
    run = response.json()["run_id"]
    assert up.wait_run(run)["status"] == "failed"
    wait_until(lambda: hooks.posts, 20, message="the failure alert")
    assert smtp.subjects() == [f"[podium] daily missed its deadline ({deadline} UTC)"]
    ((_, _, body),) = hooks.posts
    assert body["title"] == "[podium] daily failed: shopify"
    assert "failed after 2 attempts" in body["message"]
    assert "bad token ***" in body["message"]
    assert f"http://podium.test:8642/runs/{run}" in body["message"]
    output = up.proc.out + up.proc.err
    assert not any(secret in output for secret in SECRETS)


def start_at(db: Database, project: Project, clock: Callable[[], float]) -> str:
    """A manual run of ``daily`` created at the fake clock's time."""
    from podium.engine import state
    from podium.engine.journal import Journal
    from podium.engine.triggers import iso

    with db.transaction() as tx:
        j = Journal(tx, clock())
        run = state.create_run(
            j,
            project.workflow("daily"),
            trigger={"type": "manual"},
            params={},
            logical_time=iso(clock()),
        )
        j.flush()
    assert run is not None
    return run


def test_alerts_and_deadlines_on_every_store(database: Database) -> None:
    """The notifier's SQL and the deadline's lock on SQLite and PostgreSQL; on PostgreSQL
    with two engines and two notifiers sharing the store, as two ``podium up`` would."""
    from podium.core.alerts import NotifyRule
    from podium.core.deadline import Deadline
    from podium.core.workflow import EngineSettings, RetryPolicy, Task, Workflow
    from podium.testing import FakeClock, ManualExecutor, RecordingDestination, project_of

    wf = Workflow(
        "daily",
        (Task("load", "run", "tasks:load", retry=RetryPolicy(retries=1)),),
        deadline=Deadline("07:00"),
    )
    project = project_of(wf, engine=EngineSettings(poll_interval=3600))
    clock = FakeClock(datetime(2026, 3, 2, 6, 0, tzinfo=UTC).timestamp())
    executors = [ManualExecutor() for _ in range(2 if database.dialect == "postgres" else 1)]
    engines = [
        Engine(project, database, executor=ex, clock=clock, owner=f"engine-{i}")
        for i, ex in enumerate(executors)
    ]
    for engine in engines:
        engine.start()
    rule = NotifyRule("team", ("failed", "recovered", "sla_missed"), "json://127.0.0.1:9/x")
    dest = RecordingDestination()
    notifiers = [
        Subscribers(database, [Notifier(rule, project, database, dest, clock=clock)])
        for _ in range(2)
    ]

    def pump() -> None:
        for engine in engines:
            engine.poke()
            engine.step()
        for subscribers in notifiers:
            subscribers.step(clock())

    def holding() -> ManualExecutor:
        return next(ex for ex in executors if ex.pending)

    try:
        run = start_at(database, project, clock)
        for _ in range(2):
            pump()
            holding().fail("load", "HTTP 500")
        pump()
        pump()
        clock.now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC).timestamp()
        pump()
        clock.advance(60)
        fixed = start_at(database, project, clock)
        pump()
        holding().succeed("load")
        pump()
        pump()
    finally:
        for engine in engines:
            engine.close()
    assert [m.title for m in dest.sent] == [
        "[podium] daily failed: load",
        "[podium] daily missed its deadline (07:00 UTC)",
        "[podium] daily recovered",
    ]
    assert sent_rows(database) == [
        (f"notify:team:failed:{run}:load:0", "sent", 1),
        (f"notify:team:recovered:{fixed}:-:0", "sent", 1),
        ("notify:team:sla_missed:daily:2026-03-02", "sent", 1),
    ]
