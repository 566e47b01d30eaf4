"""The web UI's pages over a real HTTP server (uvicorn on a loopback port) and a real
SQLite store: content, escaping, secret masking, pagination at scale, actions and static
files. The browser tests (``tests/e2e/test_ui_browser.py``) drive the same pages in
Chromium against ``podium up``.

Runs are created with the real service functions; their outcomes (states, outputs,
errors, log lines, events) are then written into the store directly, so each test shows
exactly the state it is about, including text no well-behaved engine would store (an
unmasked secret) to prove the page masks it on its own.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.live_app import serve
from podium.core.deadline import Deadline
from podium.core.status import OnLate
from podium.core.workflow import (
    EngineSettings,
    EventTrigger,
    Project,
    ScheduleTrigger,
    Task,
    WebhookTrigger,
    Workflow,
)
from podium.engine import services
from podium.server import access
from podium.server.api import create_app
from podium.store.database import Database, open_database

SECRET = 'sk_live_<&"Zq9>'  # every character that HTML or JSON would escape
XSS = "<script>alert(1)</script>"
CSP = "Content-Security-Policy"


def workflows() -> list[Workflow]:
    def task(task_id: str, *deps: str, **kw: Any) -> Task:
        return Task(task_id, "shell", "echo hi", depends_on=deps, **kw)

    return [
        Workflow(
            "daily",
            (
                task("extract"),
                task("amazon", late_after=60.0, on_late=OnLate.CONTINUE),
                task("models", "extract", "amazon"),
                task("publish", "models"),
            ),
            triggers=(
                ScheduleTrigger("0 5 * * *", "America/New_York"),
                WebhookTrigger("shop", ("orders/*",), {"financial_status": "paid"}),
            ),
            params={"days": 1, "store": "us"},
            deadline=Deadline("07:00", "America/New_York"),
        ),
        Workflow(
            "evil",
            (task(XSS), task("after", XSS)),
            triggers=(EventTrigger("drop", {"store": XSS}),),
            params={"note": XSS},
        ),
    ]


@dataclass
class Site:
    url: str
    db: Database
    project: Project
    http: httpx.Client
    woken: list[float]

    def get(self, path: str, **params: Any) -> httpx.Response:
        response = self.http.get(path, params=params) if params else self.http.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:2000])
        assert response.headers["content-type"].startswith("text/html")
        return response

    def csrf(self, html: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, "the page has no form with a CSRF field"
        return match.group(1)


@contextmanager
def make_site(url: str, root: Path, flows: list[Workflow]) -> Iterator[Site]:
    db = open_database(url)
    project = Project(
        root=str(root),
        store_url=url,
        pools={},
        engine=EngineSettings(),
        workflows={wf.name: wf for wf in flows},
        secrets=frozenset({SECRET}),
    )
    woken: list[float] = []
    app = create_app(project, db, lambda: woken.append(time.time()))
    with serve(app) as url, httpx.Client(base_url=url, timeout=20) as http:
        yield Site(url, db, project, http, woken)
    db.close()


@pytest.fixture
def site(store_url: str, tmp_path: Path) -> Iterator[Site]:
    """The UI on SQLite, and on PostgreSQL when ``PODIUM_TEST_POSTGRES_URL`` is set."""
    with make_site(store_url, tmp_path, workflows()) as made:
        yield made


# -- writing a run's outcome into the store -----------------------------------------------


def finish_task(
    db: Database,
    run_id: str,
    task_id: str,
    status: str,
    *,
    output: Any = None,
    error: str | None = None,
    tries: int = 1,
    late: bool = False,
    incomplete: bool = False,
    late_upstreams: list[str] | None = None,
    logs: tuple[str, ...] = (),
) -> None:
    now = time.time()
    with db.transaction() as tx:
        tx.execute(
            "UPDATE task_runs SET status = ?, attempts = ?, started_at = ?, finished_at = ?,"
            " output = ?, error = ?, late = ?, incomplete = ?, late_upstreams = ?"
            " WHERE run_id = ? AND task_id = ?",
            (
                status,
                tries,
                now - 3,
                now,
                json.dumps(output) if output is not None else None,
                error,
                int(late),
                int(incomplete),
                json.dumps(late_upstreams) if late_upstreams else None,
                run_id,
                task_id,
            ),
        )
        for number in range(1, tries + 1):
            last = number == tries
            tx.execute(
                "INSERT INTO attempts (run_id, task_id, number, status, owner, lease_expires_at,"
                " holds_slot, started_at, finished_at, error) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    run_id,
                    task_id,
                    number,
                    status if last else "failed",
                    "test-engine",
                    now + 30,
                    now - 3 + number,
                    now - 2 + number,
                    error if last else "an earlier try failed",
                ),
            )
        for i, line in enumerate(logs):
            tx.execute(
                "INSERT INTO logs (run_id, task_id, attempt, at, stream, line)"
                " VALUES (?, ?, ?, ?, 'stdout', ?)",
                (run_id, task_id, tries, now - 1 + i / 1000, line),
            )


def finish_run(db: Database, run_id: str, status: str) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE runs SET status = ?, tasks_open = 0, finished_at = ? WHERE id = ?",
            (status, time.time(), run_id),
        )


def add_event(
    db: Database, kind: str, run_id: str | None, task_id: str | None, payload: Any
) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO events (type, at, run_id, task_id, payload) VALUES (?, ?, ?, ?, ?)",
            (kind, time.time(), run_id, task_id, json.dumps(payload)),
        )


def start(site: Site, workflow: str, params: dict[str, Any] | None = None) -> str:
    return services.start_run(site.db, site.project, workflow, params or {})


# -- pages ------------------------------------------------------------------------------------


def test_the_workflows_page_shows_triggers_last_run_and_next_schedule(site: Site) -> None:
    run_id = start(site, "daily")
    finish_run(site.db, run_id, "failed")
    page = site.get("/")
    assert CSP in page.headers and "script-src 'self'" in page.headers[CSP]
    row = re.search(r'<tr data-workflow="daily">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    daily = row.group(1)
    assert "schedule 0 5 * * * (America/New_York; catch-up latest)" in daily
    assert f'href="/runs/{run_id}"' in daily and 'class="state st-failed"' in daily
    # the next 05:00 in New York, whatever the offset is today (EST or EDT)
    assert re.search(r"\d{4}-\d\d-\d\d 05:00 America/New_York", daily), daily
    assert re.search(r"\d{4}-\d\d-\d\d (09|10):00:00 UTC", daily), daily
    assert "1 failed" in daily
    filtered = site.get("/", name="DAIL").text
    assert 'data-workflow="daily"' in filtered and 'data-workflow="evil"' not in filtered
    assert "No workflow name contains" in site.get("/", name="nothing-like-it").text


def test_a_workflow_page_draws_the_graph_of_the_latest_or_a_chosen_run(site: Site) -> None:
    older = start(site, "daily")
    finish_task(site.db, older, "extract", "failed", error="boom")
    newer = start(site, "daily")
    finish_task(site.db, newer, "amazon", "succeeded", late=True)
    html = site.get("/workflows/daily").text
    assert "webhook from shop on orders/* where financial_status = paid" in html
    assert "Deadline: succeeded by 07:00 America/New_York each day." in html
    assert html.count('<g class="node ') == 4 and html.count('<path class="edge') == 3
    assert f'as of run</span> <a href="/runs/{newer}">' in html
    assert '<g class="node st-succeeded is-late" data-task="amazon"' in html
    assert html.count("<tr data-run=") == 2
    assert '<path class="edge edge-late"' in html  # amazon -> models, drawn dashed
    chosen = site.get("/workflows/daily", run=older).text
    assert '<g class="node st-failed" data-task="extract"' in chosen
    assert 'data-live="/workflows/daily?run=' + older + '&amp;fragment=1"' in chosen
    fragment = site.get("/workflows/daily", fragment=1)
    assert fragment.headers["X-Podium-Fragment"] == "1" and "<html" not in fragment.text
    evil = start(site, "evil")
    wrong = site.http.get("/workflows/daily", params={"run": evil})
    assert wrong.status_code == 400 and f"run {evil} is a run of &#39;evil&#39;" in wrong.text


def test_a_run_page_shows_timeline_tasks_outputs_checks_and_late_marks(site: Site) -> None:
    run_id = start(site, "daily", {"days": 3})
    finish_task(site.db, run_id, "extract", "succeeded", output={"rows": 120}, logs=("loaded",))
    finish_task(site.db, run_id, "amazon", "succeeded", late=True, tries=2)
    finish_task(site.db, run_id, "models", "succeeded", incomplete=True, late_upstreams=["amazon"])
    finish_task(site.db, run_id, "publish", "failed", error="HTTP 500 from the warehouse")
    finish_run(site.db, run_id, "failed")
    add_event(
        site.db,
        "CheckEvaluated",
        run_id,
        "models",
        {"check": "orders_unique", "passed": False, "failing": 3, "severity": "error"},
    )
    html = site.get(f"/runs/{run_id}").text
    assert 'id="run-status" data-state="failed"' in html
    assert "&#34;days&#34;: 3" in html  # params, as escaped JSON
    # the Gantt chart: a bar per attempt (amazon had two), with a tooltip each
    assert html.count('class="bar st-') == 5
    assert "amazon attempt 2: succeeded" in html
    # late and incomplete marks, in the table and on the graph
    assert re.search(r'<g class="node st-succeeded is-late" data-task="amazon"', html)
    assert re.search(r'<g class="node st-succeeded is-incomplete" data-task="models"', html)
    assert "late (after 1m00s, on_late: continue)" in html
    assert "incomplete: without fresh amazon" in html
    assert "HTTP 500 from the warehouse" in html and "&#34;rows&#34;: 120" in html
    assert "orders_unique" in html and ">failed</span>" in html
    # finished with a failed task: both retry buttons, no cancel
    assert 'id="retry-failed"' in html and "Retry failed only (1)" in html
    assert 'id="retry-all"' in html and 'id="cancel"' not in html
    # the live fragment is the same part, alone, marked as a fragment
    fragment = site.get(f"/runs/{run_id}", fragment=1)
    assert fragment.headers["X-Podium-Fragment"] == "1"
    assert fragment.text.lstrip().startswith('<div class="run-live" data-final="yes">')
    assert "<html" not in fragment.text


def test_a_catchup_run_links_to_the_run_it_restates(site: Site) -> None:
    parent = start(site, "daily")
    catchup = services.start_run(site.db, site.project, "daily", {})
    with site.db.transaction() as tx:
        tx.execute(
            "UPDATE runs SET kind = 'catchup', parent_run_id = ?, trigger = ? WHERE id = ?",
            (parent, json.dumps({"type": "catchup", "late_task": "amazon"}), catchup),
        )
    assert f'<a href="/runs/{catchup}">{catchup}</a>' in site.get(f"/runs/{parent}").text
    child = site.get(f"/runs/{catchup}").text
    assert f'<a href="/runs/{parent}">{parent}</a>' in child
    assert "re-runs what depended on amazon" in child


def test_a_task_page_shows_attempts_logs_output_and_error(site: Site) -> None:
    run_id = start(site, "daily")
    finish_task(
        site.db,
        run_id,
        "publish",
        "failed",
        tries=2,
        error="boom on try 2",
        logs=("first line", "second line"),
    )
    html = site.get(f"/runs/{run_id}/tasks/publish").text
    assert html.count('<tr data-attempt="') == 2 and "an earlier try failed" in html
    assert "Logs of attempt 2" in html and "first line" in html and "second line" in html
    assert html.index("first line") < html.index("second line")
    first = site.get(f"/runs/{run_id}/tasks/publish", attempt=1).text
    assert "Logs of attempt 1" in first and "No log lines" in first
    missing = site.http.get(f"/runs/{run_id}/tasks/publish", params={"attempt": 7})
    assert missing.status_code == 404 and "has no attempt 7 (attempts: 1, 2)" in missing.text
    assert site.http.get(f"/runs/{run_id}/tasks/nope").status_code == 404


def test_events_and_assets_pages_filter(site: Site) -> None:
    run_id = start(site, "daily")
    add_event(
        site.db,
        "AssetUpdated",
        run_id,
        "models",
        {
            "asset": "commerce.orders",
            "incomplete": True,
            "stats": {"rows": 1234, "late_sources": {"amazon": "2026-03-01T00:00:00+00:00"}},
        },
    )
    add_event(
        site.db,
        "AssetUpdated",
        run_id,
        "extract",
        {"asset": "raw_shop.orders", "stats": {"inserted": 7, "updated": 2}},
    )
    assets = site.get("/assets").text
    assert 'data-asset="commerce.orders"' in assets and "1,234" in assets
    assert "amazon late; complete through 2026-03-01T00:00:00+00:00" in assets
    assert "7 inserted" in assets and "2 updated" in assets
    only = site.get("/assets", name="raw_").text
    assert 'data-asset="raw_shop.orders"' in only and "commerce.orders" not in only

    events = site.get("/events", type="AssetUpdated").text
    assert events.count("<tr data-seq=") == 2
    by_run = site.get("/events", run=run_id).text
    assert "RunRequested" in by_run and by_run.count("<tr data-seq=") == 3
    assert site.get("/events", run="no-such-run").text.count("<tr data-seq=") == 0


def test_unknown_pages_and_bad_queries_answer_html_errors(site: Site) -> None:
    missing = site.http.get("/runs/<b>nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "no run &#39;&lt;b&gt;nope&#39;" in missing.text
    assert site.http.get("/workflows/dialy").status_code == 404
    assert "did you mean &#39;daily&#39;?" in site.http.get("/workflows/dialy").text
    bad = site.http.get("/runs", params={"page": "x"})
    assert bad.status_code == 400 and "page" in bad.text and "Traceback" not in bad.text


# -- escaping and masking ---------------------------------------------------------------------


def test_user_supplied_text_renders_inert(site: Site) -> None:
    run_id = start(site, "evil", {"note": XSS + "!"})
    finish_task(site.db, run_id, XSS, "failed", error=XSS, output={XSS: XSS}, logs=(XSS,))
    finish_run(site.db, run_id, "failed")
    add_event(site.db, XSS, run_id, XSS, {XSS: XSS})
    task_url = f"/runs/{run_id}/tasks/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
    pages = [
        "/",
        "/workflows/evil",
        f"/workflows/evil?run={run_id}",
        "/runs",
        f"/runs/{run_id}",
        f"/runs/{run_id}?fragment=1",
        task_url,
        "/events",
        f"/events?type={XSS}",
    ]
    for url in pages:
        html = site.get(url).text
        assert "<script>alert" not in html, url
        assert re.findall(r"<script\b[^>]*>", html) in (
            [],
            ['<script src="/static/live.js" defer>'],
        ), url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in site.get(task_url).text
    graph = site.get(f"/workflows/evil?run={run_id}").text
    assert 'data-task="&lt;script&gt;alert(1)&lt;/script&gt;"' in graph
    assert 'href="/runs/' + run_id + '/tasks/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in graph


def test_secrets_never_reach_a_page(site: Site) -> None:
    run_id = start(site, "daily", {"store": f"token {SECRET}"})
    finish_task(
        site.db,
        run_id,
        "extract",
        "failed",
        error=f"401 with token {SECRET}",
        output={"token": SECRET, "note": f"used {SECRET}"},
        logs=(f"GET /orders?token={SECRET}", "plain line"),
    )
    finish_run(site.db, run_id, "failed")
    add_event(site.db, "Leaked", run_id, "extract", {"header": f"Bearer {SECRET}"})
    escaped = [SECRET, "sk_live_&lt;", "sk_live_\\u003c", "sk_live_<&amp;", "Zq9&gt;", "Zq9"]
    for url in (
        f"/runs/{run_id}",
        f"/runs/{run_id}/tasks/extract",
        f"/runs/{run_id}/tasks/extract?attempt=1",
        "/events",
        "/runs",
        f"/workflows/daily?run={run_id}",
    ):
        html = site.get(url).text
        for form in escaped:
            assert form not in html, (url, form)
    log_page = site.get(f"/runs/{run_id}/tasks/extract").text
    assert "GET /orders?token=***" in log_page and "401 with token ***" in log_page
    assert "plain line" in log_page


# -- actions ----------------------------------------------------------------------------------


def test_run_now_starts_a_run_with_the_changed_params(site: Site) -> None:
    page = site.get("/workflows/daily").text
    assert 'name="param.days" value="1"' in page and 'name="param.store" value="us"' in page
    form = {"csrf_token": site.csrf(page), "param.days": "5", "param.store": "us"}
    response = site.http.post("/workflows/daily/run", data=form)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    run_id = location.split("/runs/")[1].split("?")[0]
    run = site.db.read().fetchone("SELECT params, trigger FROM runs WHERE id = ?", (run_id,))
    assert run is not None
    assert json.loads(run[0]) == {"days": 5, "store": "us"}
    assert json.loads(run[1]) == {"type": "ui", "user": "local"}
    assert site.woken, "the engine was not woken"
    shown = site.get(location).text
    assert "Run started." in shown
    # a form without the CSRF field is refused and starts nothing
    refused = site.http.post("/workflows/daily/run", data={"param.days": "9"})
    assert refused.status_code == 403
    assert site.db.read().fetchone("SELECT COUNT(*) FROM runs")[0] == 1


def test_a_bad_param_value_or_workflow_answers_an_error_page(site: Site) -> None:
    token = site.csrf(site.get("/workflows/daily").text)
    response = site.http.post("/workflows/nope/run", data={"csrf_token": token})
    assert response.status_code == 404 and "no workflow named &#39;nope&#39;" in response.text


def test_retry_failed_only_and_cancel_buttons(site: Site) -> None:
    run_id = start(site, "daily")
    for task_id in ("extract", "amazon", "models"):
        finish_task(site.db, run_id, task_id, "succeeded")
    finish_task(site.db, run_id, "publish", "failed", error="boom")
    finish_run(site.db, run_id, "failed")
    page = site.get(f"/runs/{run_id}").text
    response = site.http.post(
        f"/runs/{run_id}/retry", data={"csrf_token": site.csrf(page), "failed_only": "1"}
    )
    assert response.status_code == 303 and response.headers["location"].endswith(
        f"/runs/{run_id}?notice=retried"
    )
    states = dict(
        site.db.read().fetchall("SELECT task_id, status FROM task_runs WHERE run_id = ?", (run_id,))
    )
    assert states == {
        "extract": "succeeded",
        "amazon": "succeeded",
        "models": "succeeded",
        "publish": "queued",
    }
    again = site.get(f"/runs/{run_id}", notice="retried").text
    assert "Retry started" in again and 'id="cancel"' in again
    cancelled = site.http.post(f"/runs/{run_id}/cancel", data={"csrf_token": site.csrf(again)})
    assert cancelled.status_code == 303
    # retrying a run that is still going is refused with the service's message
    other = start(site, "daily")
    refused = site.http.post(
        f"/runs/{other}/retry", data={"csrf_token": site.csrf(again), "failed_only": "1"}
    )
    assert refused.status_code == 409 and "wait for it to finish or cancel it" in refused.text


def test_a_viewer_sees_the_pages_without_their_action_buttons(site: Site) -> None:
    run_id = start(site, "daily")
    finish_task(site.db, run_id, "publish", "failed", error="boom")
    finish_run(site.db, run_id, "failed")
    access.add_user(site.db, "vera", "correct horse battery", "viewer", now=time.time())
    anonymous = site.http.get(f"/runs/{run_id}")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    with httpx.Client(base_url=site.url, timeout=20) as viewer:
        form = {"username": "vera", "password": "correct horse battery"}
        form["csrf_token"] = site.csrf(viewer.get("/login").text)
        assert viewer.post("/login", data=form).status_code == 303
        run_page = viewer.get(f"/runs/{run_id}")
        assert run_page.status_code == 200 and 'data-state="failed"' in run_page.text
        assert "vera · viewer" in run_page.text
        assert "<form" not in run_page.text.split("<main>")[1]  # no retry, no cancel
        workflow = viewer.get("/workflows/daily").text
        assert 'class="run-now"' not in workflow and "Graph" in workflow


# -- webhook inbox ----------------------------------------------------------------------------


def test_the_webhook_inbox_lists_and_replays_deliveries(site: Site) -> None:
    inbox = pytest.importorskip("podium.webhooks.inbox", reason="the webhook inbox module")
    with site.db.transaction() as tx:
        for i, status in enumerate(("processed", "dead", "pending")):
            tx.execute(
                "INSERT INTO webhook_inbox (connection, delivery_id, topic, received_at, headers,"
                " body, status, last_error) VALUES ('shop', ?, 'orders/create', ?, '{}', ?, ?, ?)",
                (f"d-{i}", time.time(), json.dumps({"note": XSS}), status, f"failed with {SECRET}"),
            )
    page = site.get("/webhooks").text
    assert page.count("<tr data-delivery=") == 3
    assert page.count(">Replay</button>") == 2  # not the pending one
    assert SECRET not in page and "failed with ***" in page
    dead = inbox.list_deliveries(site.db, status="dead")[0]
    detail = site.get(f"/webhooks/inbox/{dead['id']}").text
    assert "&lt;script&gt;" in detail and "<script>alert" not in detail
    response = site.http.post(
        f"/webhooks/inbox/{dead['id']}/replay", data={"csrf_token": site.csrf(detail)}
    )
    assert response.status_code == 303
    assert any(d["id"] == dead["id"] for d in inbox.list_deliveries(site.db, status="pending"))
    filtered = site.get("/webhooks", status="processed").text
    assert filtered.count("<tr data-delivery=") == 1


# -- static files -----------------------------------------------------------------------------


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """A GET with the request target sent exactly as written (no client normalising it)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_static_files_come_from_the_package_folder_only(site: Site) -> None:
    status, body = raw_get(site.url, "/static/podium.css")
    assert status == 200 and b"svg.dag" in body
    status, body = raw_get(site.url, "/static/live.js")
    assert status == 200 and b"data-live" in body
    for target in (
        "/static/../api.py",
        "/static/../../server/api.py",
        "/static/%2e%2e/api.py",
        "/static/%2e%2e%2fapi.py",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2E%2E/%2E%2E/routes.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/../templates/base.html",
        "/static/routes.py",
        "/static/",
    ):
        status, body = raw_get(site.url, target)
        assert status == 404, (target, status, body[:200])
        assert b"import" not in body and b"root:" not in body and b"{%" not in body, target


# -- scale ------------------------------------------------------------------------------------


def seed_many(db: Database, n_workflows: int, n_runs: int) -> None:
    """``n_runs`` runs spread over ``n_workflows`` workflows, written in one transaction."""
    statuses = ("succeeded", "failed", "succeeded", "cancelled", "running")
    start = time.time() - n_runs
    rows = [
        (
            f"run{i:06d}",
            f"run{i:06d}",
            f"wf{i % n_workflows:03d}",
            statuses[i % len(statuses)],
            "normal",
            '{"type": "schedule"}',
            "{}",
            "2026-01-01T00:00:00+00:00",
            0,
            start + i,
            start + i,
            start + i + 0.5,
        )
        for i in range(n_runs)
    ]
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO runs (id, root_id, workflow, status, kind, trigger, params, logical_time,"
            " tasks_open, created_at, started_at, finished_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def test_pages_stay_fast_and_paginate_with_300_workflows_and_5000_runs(
    store_url: str, tmp_path: Path
) -> None:
    flows = [
        Workflow(
            f"wf{i:03d}",
            (Task("only", "shell", "echo"),),
            triggers=(ScheduleTrigger(f"{i % 60} * * * *", "Europe/Paris"),),
        )
        for i in range(300)
    ]
    with make_site(store_url, tmp_path, flows) as site:
        seed_many(site.db, 300, 5000)
        timings: dict[str, float] = {}

        def timed(path: str, **params: Any) -> str:
            began = time.perf_counter()
            html = site.get(path, **params).text
            timings[f"{path} {params}"] = time.perf_counter() - began
            return html

        first = timed("/")
        assert first.count("<tr data-workflow=") == 50 and "page 1 of 6 · 300 in all" in first
        assert 'href="/?page=2"' in first
        last = timed("/", page=6)
        assert last.count("<tr data-workflow=") == 50 and 'data-workflow="wf299"' in last
        assert 'rel="next"' not in last
        assert "never run" not in last  # every workflow has runs, and its last one is shown
        wf7 = re.search(r"<tr data-workflow=\"wf007\">(.*?)</tr>", timed("/"), re.S).group(1)
        assert "run004807" in wf7 and "17 succeeded" in wf7  # its newest: 7 + 300 * 16

        runs = timed("/runs")
        assert runs.count("<tr data-run=") == 50 and "page 1 of 100 · 5000 in all" in runs
        assert runs.index("run004999") < runs.index("run004950")
        page40 = timed("/runs", page=40)
        assert "run003049" in page40 and "run003000" in page40 and "run002999" not in page40
        # run i is of workflow i % 300 and in state i % 5: wf006's 17 runs all failed
        by_wf = timed("/runs", workflow="wf006", status="failed")
        ids = re.findall(r'<tr data-run="run(\d+)"', by_wf)
        assert len(ids) == 17 and all(int(i) % 300 == 6 for i in ids), ids
        assert "page 1 of 1 · 17 in all" in by_wf and 'rel="next"' not in by_wf
        assert "No runs match these filters" in timed("/runs", workflow="wf007", status="failed")
        failed = timed("/runs", status="failed", page=2)
        assert "page 2 of 20 · 1000 in all" in failed
        assert timed("/runs", fragment=1).count("<tr data-run=") == 50
        timed("/workflows/wf007")
        timed("/events")
        slowest = max(timings.values())
        print("UI page timings (s):", {k: round(v, 3) for k, v in timings.items()})
        assert slowest < 1.5, timings


# -- issue 22: lineage, assets, pause, readable runs, local /docs ------------------------------


def test_a_failed_check_shows_its_failing_rows_and_the_trigger_reads_as_words(site: Site) -> None:
    run_id = start(site, "daily")
    sample = [{"order_id": 7, "total": -3}, {"order_id": 9, "total": -1}]
    output = {"checks": [{"name": "no_negative_totals", "passed": False, "sample": sample}]}
    finish_task(site.db, run_id, "models", "failed", output=output, error="ChecksFailed: …")
    finish_run(site.db, run_id, "failed")
    add_event(
        site.db,
        "CheckEvaluated",
        run_id,
        "models",
        {"check": "no_negative_totals", "passed": False, "failing": 12, "severity": "error"},
    )
    html = site.get(f"/runs/{run_id}", notice="started").text
    rows = re.search(r'<details class="failing-rows".*?</details>', html, re.S)
    assert rows, html
    assert "2 failing rows of 12" in rows.group(0)
    assert "<th>order_id</th><th>total</th>" in rows.group(0) and "<td>-3</td>" in rows.group(0)
    facts = re.search(r'<dd class="trigger-info">(.*?)</dd>', html, re.S)
    assert facts and "by hand" in facts.group(1) and "&#34;type&#34;" not in facts.group(1)
    assert "Run started." not in html  # the run has finished: the notice would mislead


def test_a_delivery_links_to_the_runs_it_started(site: Site) -> None:
    with site.db.transaction() as tx:
        tx.execute(
            "INSERT INTO webhook_inbox (connection, delivery_id, topic, received_at, headers,"
            " body, status) VALUES ('shop', 'd-1', 'orders/create', ?, '{}', '{}', 'processed')",
            (time.time(),),
        )
    (entry,) = site.db.read().fetchall("SELECT id FROM webhook_inbox")
    run_id, other = start(site, "daily"), start(site, "daily")
    with site.db.transaction() as tx:
        tx.execute(
            "UPDATE runs SET dedupe_key = ? WHERE id = ?", (f"webhook:{entry[0]}:daily:0", run_id)
        )
        tx.execute(
            "UPDATE runs SET dedupe_key = ? WHERE id = ?", (f"webhook:{entry[0]}0:daily:0", other)
        )
    listed = site.get("/webhooks").text
    assert f'href="/runs/{run_id}"' in listed and f'href="/runs/{other}"' not in listed
    detail = site.get(f"/webhooks/inbox/{entry[0]}").text
    assert "Runs it started" in detail and f'href="/runs/{run_id}"' in detail


def test_pause_and_resume_from_the_page_and_the_api(site: Site) -> None:
    page = site.get("/workflows/daily").text
    assert 'id="pause"' in page and "Next scheduled" in page
    answer = site.http.post("/workflows/daily/pause", data={"csrf_token": site.csrf(page)})
    assert answer.status_code == 303 and answer.headers["location"].endswith("notice=paused")
    page = site.get("/workflows/daily", notice="paused").text
    assert 'id="paused"' in page and 'id="resume"' in page and "Next scheduled" not in page
    assert "Schedules paused" in page
    assert "schedules paused" in site.get("/").text
    token = site.csrf(page)
    again = site.http.post("/api/workflows/daily/pause", headers={"X-CSRF-Token": token})
    assert again.json() == {"workflow": "daily", "paused": True, "changed": False}
    resumed = site.http.post("/api/workflows/daily/resume", headers={"X-CSRF-Token": token})
    assert resumed.json() == {"workflow": "daily", "paused": False, "changed": True}
    assert 'id="pause"' in site.get("/workflows/daily").text
    refused = site.http.post("/api/workflows/evil/pause", headers={"X-CSRF-Token": token})
    assert refused.status_code == 409 and "no schedule trigger" in refused.json()["error"]


def test_lineage_and_asset_pages(site: Site) -> None:
    run_id = start(site, "daily")
    finish_task(site.db, run_id, "extract", "succeeded")
    add_event(
        site.db,
        "AssetUpdated",
        run_id,
        "extract",
        {"asset": "raw_shop.orders", "stats": {"rows": 1200, "inserted": 20}},
    )
    add_event(
        site.db,
        "AssetUpdated",
        run_id,
        "models",
        {
            "asset": "commerce.orders",
            "incomplete": True,
            "stats": {"rows": 900, "late_sources": {"amazon": "2026-11-20T00:00:00+00:00"}},
        },
    )
    html = site.get("/lineage").text
    assert 'data-task="raw_shop.orders"' in html and 'href="/assets/raw_shop.orders"' in html
    assert re.search(
        r'<g class="node kind-model st-incomplete is-incomplete" data-task="commerce.orders"', html
    )
    assert "1,200 rows" in html
    assets = site.get("/assets").text
    assert "1,200" in assets and 'href="/assets/commerce.orders"' in assets
    page = site.get("/assets/commerce.orders").text
    assert "amazon late; complete through 2026-11-20" in page
    assert f'href="/runs/{run_id}"' in page and "900" in page
    missing = site.http.get("/assets/no_such.table")
    assert missing.status_code == 404 and "no asset named" in missing.text


def test_api_docs_load_swagger_ui_from_the_package(site: Site) -> None:
    docs = site.http.get("/docs")
    assert docs.status_code == 200
    assert 'src="/static/swagger-ui-bundle.js"' in docs.text and "cdn" not in docs.text.lower()
    bundle = site.http.get("/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert site.http.get("/static/swagger-ui.css").status_code == 200
