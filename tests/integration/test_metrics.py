"""``/metrics`` over real HTTP: the engine and the app in this process (as ``podium up`` runs
them), runs started by the API, an event and a signed webhook; the scraped figures, parsed
by prometheus_client's own parser, equal what the store says. On PostgreSQL a second
server on the same store answers the same store figures."""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration.conftest import wait_until
from integration.live_app import make_user, serve
from podium import clock
from podium.core.workflow import Project
from podium.engine import queries
from podium.engine.loop import Engine
from podium.observe.wiring import Observers
from podium.project import load_project
from podium.server.api import create_app
from podium.store.database import Database, open_database
from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

SECRET = "whsec-metrics-0123456789"
FILES = {
    "podium.yaml": f"""
        connections:
          erp:
            type: webhook
            webhooks:
              verify: hmac
              header: X-Signature
              algorithm: sha256
              encoding: hex
              secret: {SECRET}
              id_header: X-Delivery-Id
        """,
    "workflows/hello.yaml": """
        name: hello
        tasks:
          - id: greet
            run: tasks:greet
          - id: after
            run: tasks:greet
            depends_on: [greet]
        """,
    "workflows/broken.yaml": """
        name: broken
        tasks:
          - id: boom
            run: tasks:boom
        """,
    "workflows/evented.yaml": """
        name: evented
        triggers:
          - event: orders_dropped
        tasks:
          - id: greet
            run: tasks:greet
        """,
    "workflows/hooked.yaml": """
        name: hooked
        triggers:
          - webhook: erp
        tasks:
          - id: greet
            run: tasks:greet
        """,
    "tasks.py": """
        def greet(ctx):
            return "hi"


        def boom(ctx):
            raise RuntimeError("boom")
        """,
}


@dataclass
class Served:
    project: Project
    db: Database
    url: str
    observers: Observers
    owner: str

    def scrape(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/metrics", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return samples(response.text)


def samples(text: str) -> dict[str, Any]:
    """{metric name: {labels as a sorted tuple: value}} of every sample on the page."""
    found: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def write(root: Path) -> None:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"))


@contextmanager
def podium_up(root: Path, store_url: str) -> Iterator[Served]:
    """What ``podium up`` assembles, in this process: engine, observers, app."""
    project = load_project(root, environ={"PODIUM_STORE_URL": store_url})
    db = open_database(project.store_url)
    engine = Engine(project, db)
    engine.start()
    observers = Observers(project, db)
    engine.on_events = observers.on_events
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop.is_set,), daemon=True)
    thread.start()
    app = create_app(project, db, engine.poke, metrics=observers.metrics)
    try:
        with serve(app) as url:
            yield Served(project, db, url, observers, engine.owner)
    finally:
        stop.set()
        engine.poke()
        thread.join(timeout=10)
        engine.close()
        observers.close()
        db.close()


def store_counts(db: Database, table: str) -> dict[str, int]:
    rows = db.read().fetchall(f"SELECT status, COUNT(*) FROM {table} GROUP BY status")
    return {str(status): int(n) for status, n in rows}


def by_status(found: dict[str, Any], name: str) -> dict[str, int]:
    return {dict(labels)["status"]: int(v) for labels, v in found[name].items() if v}


def all_ended(db: Database, count: int) -> bool:
    runs = queries.list_runs(db, limit=100)
    return len(runs) >= count and all(r["status"] in ("succeeded", "failed") for r in runs)


def signed(body: bytes, delivery: str) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature": mac, "X-Delivery-Id": delivery, "Content-Type": "application/json"}


def test_scraped_counts_equal_the_store_and_latencies_are_observed(
    tmp_path: Path, store_url: str
) -> None:
    write(tmp_path)
    with podium_up(tmp_path, store_url) as up, httpx.Client(base_url=up.url, timeout=10) as http:
        for _ in range(3):
            assert http.post("/api/workflows/hello/runs", json={}).status_code == 201
        assert http.post("/api/workflows/broken/runs", json={}).status_code == 201
        assert http.post("/api/events", json={"name": "orders_dropped"}).status_code == 202
        body = json.dumps({"id": 1}).encode()
        assert http.post("/webhooks/erp", content=body, headers=signed(body, "d-1")).is_success
        wait_until(lambda: all_ended(up.db, 6), 30, message="six runs to end")
        assert up.observers.flush()
        found = up.scrape()

    assert by_status(found, "podium_runs") == store_counts(up.db, "runs")
    assert by_status(found, "podium_runs") == {"succeeded": 5, "failed": 1}
    assert by_status(found, "podium_attempts") == store_counts(up.db, "attempts")
    every = {dict(labels)["status"] for labels in found["podium_runs"]}
    assert every >= {"queued", "running", "succeeded", "failed", "cancelled"}  # zeros too
    assert found["podium_store_up"] == {(): 1.0}
    assert found["podium_tasks_ready"] == {(): 0.0}
    assert found["podium_claim_lag_seconds"] == {(): 0.0}
    beats = found["podium_engine_heartbeat_timestamp_seconds"]
    assert list(beats) == [(("engine", up.owner),)] and beats[(("engine", up.owner),)] > 0

    durations = found["podium_task_duration_seconds_count"]
    assert durations[(("kind", "run"), ("status", "succeeded"), ("workflow", "hello"))] == 6
    assert durations[(("kind", "run"), ("status", "failed"), ("workflow", "broken"))] == 1
    attempts = sum(store_counts(up.db, "attempts").values())
    assert sum(found["podium_claim_wait_seconds_count"].values()) == attempts
    starts = found["podium_event_to_start_seconds_count"]
    assert starts == {
        (("trigger", "event"), ("workflow", "evented")): 1.0,
        (("trigger", "webhook"), ("workflow", "hooked")): 1.0,
    }
    assert (
        0
        < found["podium_event_to_start_seconds_sum"][
            (("trigger", "webhook"), ("workflow", "hooked"))
        ]
        < 30
    )
    assert found["podium_webhook_ack_seconds_count"] == {(("connection", "erp"),): 1.0}


@pytest.fixture
def postgres_store() -> Iterator[str]:
    """A PostgreSQL store of its own (several engines share a store only there)."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    url, schema = postgres_url_with_schema()
    yield url
    drop_schema(schema)


def test_a_second_server_on_the_same_postgresql_store_shows_the_same_counts(
    tmp_path: Path, postgres_store: str
) -> None:
    store_url = postgres_store
    write(tmp_path)
    with podium_up(tmp_path, store_url) as one, podium_up(tmp_path, store_url) as two:
        for _ in range(4):
            httpx.post(f"{one.url}/api/workflows/hello/runs", json={}, timeout=10)
        wait_until(lambda: all_ended(one.db, 4), 30, message="four runs to end")
        first, second = one.scrape(), two.scrape()
        for name in ("podium_runs", "podium_attempts", "podium_tasks_queued"):
            assert first[name] == second[name], name
        engines = {dict(k)["engine"] for k in first["podium_engine_heartbeat_timestamp_seconds"]}
        assert engines == {one.owner, two.owner}


def test_with_users_a_scrape_needs_a_viewer_token(tmp_path: Path, store_url: str) -> None:
    write(tmp_path)
    with podium_up(tmp_path, store_url) as up:
        token = make_user(up.db, "prom", "viewer")
        anonymous = httpx.get(f"{up.url}/metrics", timeout=10)
        assert anonymous.status_code == 401
        assert "Bearer" in anonymous.headers["www-authenticate"]
        assert "error" in anonymous.json()
        found = up.scrape({"Authorization": f"Bearer {token}"})
        assert found["podium_store_up"] == {(): 1.0}


def test_paced_requests_are_counted_per_connection(tmp_path: Path, store_url: str) -> None:
    """A limiter of 5 requests a second and no burst holds 5 requests back ~4 × 200 ms, less
    the time each request took."""
    from podium.connectors.http import HttpClient
    from podium.connectors.ratelimit import TokenBucket

    write(tmp_path)
    with podium_up(tmp_path, store_url) as up:
        with HttpClient(up.url, limiter=TokenBucket(5, burst=1), name="erp_api") as client:
            for _ in range(5):
                client.get("/api/health")
        found = up.scrape()
    assert found["podium_api_requests_total"] == {(("connection", "erp_api"),): 5.0}
    waited = found["podium_api_wait_seconds_total"][(("connection", "erp_api"),)]
    assert 0.2 < waited < 3


def test_shared_api_budgets_show_what_every_process_spent(tmp_path: Path, store_url: str) -> None:
    """A budget row of the store (as any engine or worker spends it): 30 of 40 taken."""
    from podium.store.budgets import RateBudgets, Shape

    write(tmp_path)
    with podium_up(tmp_path, store_url) as up:
        budgets = RateBudgets(up.db)
        now = clock.time()
        budgets.take("shopify:shop.example:app=ab12:rest", 30, Shape(40, 0.000001), now)
        found = up.scrape()
    key = (("budget", "shopify:shop.example:app=ab12:rest"),)
    assert found["podium_api_budget_capacity"] == {key: 40.0}
    assert found["podium_api_budget_used_ratio"][key] == pytest.approx(0.75, abs=0.01)
