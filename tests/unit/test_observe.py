"""podium.yaml's ``lineage:`` as the reader checks it, and the observers' own thread."""

from __future__ import annotations

import threading
from pathlib import Path

from test_project_config import problems, project

from podium.core.events import AttemptStarted, Event
from podium.observe import worker
from podium.observe.lineage import connection_namespace, warehouse_namespace
from podium.observe.logs import JsonFormatter
from podium.observe.worker import EventWorker


def test_lineage_takes_a_url_or_a_file(tmp_path: Path) -> None:
    config = "lineage: {url: 'http://marquez:5000', api_key: '${OL_KEY}', timeout: 2s}\n"
    loaded = project(tmp_path, config, {"OL_KEY": "ol-secret-123"})
    assert loaded.lineage == {
        "url": "http://marquez:5000",
        "api_key": "ol-secret-123",
        "timeout": 2.0,
    }
    assert "ol-secret-123" in loaded.secrets
    assert project(tmp_path, "lineage: {file: lineage.jsonl}\n").lineage == {
        "file": "lineage.jsonl"
    }
    assert project(tmp_path, "store: sqlite:///.podium/state.db\n").lineage == {}


def test_lineage_mistakes_name_the_line_and_say_what_to_do(tmp_path: Path) -> None:
    both = problems(tmp_path, "lineage: {url: 'http://x:5000', file: a.jsonl}\n")
    assert any("podium.yaml:1" in p and "set one of url" in p and "both" in p for p in both), both
    neither = problems(tmp_path, "lineage: {namespace: acme}\n")
    assert any("neither is set" in p for p in neither), neither
    scheme = problems(tmp_path, "lineage: {url: 'ftp://x'}\n")
    assert any("lineage: url" in p for p in scheme), scheme
    typo = problems(tmp_path, "lineage:\n  file: a.jsonl\n  namspace: acme\n")
    assert any("podium.yaml:3" in p and "namespace" in p for p in typo), typo
    stray = problems(tmp_path, "lineage: {file: a.jsonl, api_key: k}\n")
    assert any("go with url" in p for p in stray), stray


def test_dataset_namespaces_never_carry_credentials(tmp_path: Path) -> None:
    url = "postgresql://loader:hunter2@db.example:6543/brand"
    assert warehouse_namespace({"type": "postgres", "url": url}, tmp_path) == (
        "postgres://db.example:6543/brand"
    )
    assert warehouse_namespace({}, tmp_path) == (
        f"duckdb://{(tmp_path / '.podium/warehouse.duckdb').resolve()}"
    )
    shop = {"type": "shopify", "base_url": "https://user:pw@acme.myshopify.com/admin"}
    assert connection_namespace("shop", shop) == "shopify://acme.myshopify.com"
    assert connection_namespace("inbox", {"type": "files"}) == "files://inbox"


def test_a_failing_handler_is_reported_once_and_the_worker_goes_on() -> None:
    told: list[str] = []
    seen: list[int] = []

    def handle(events: list[Event], at: float) -> None:
        seen.append(len(events))
        raise ValueError("endpoint said no")

    w = EventWorker("lineage", handle, clock=lambda: 5.0, report=told.append)
    started = AttemptStarted("r1", "t", 1, "me")
    for _ in range(3):
        w.on_events([started])
    assert w.flush()
    assert seen == [1, 1, 1] and w.failures == 3
    assert len(told) == 1 and "lineage: ValueError: endpoint said no" in told[0]
    w.stop()


def test_a_worker_that_falls_behind_drops_batches_instead_of_blocking(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(worker, "MAX_WAITING", 2)
    gate, told = threading.Event(), []
    w = EventWorker("slow", lambda events, at: gate.wait(10), report=told.append)
    for _ in range(6):  # one taken by the thread, two waiting, the rest dropped
        w.on_events([])
    assert w.dropped >= 3 and len(told) == 1 and "dropping" in told[0]
    gate.set()
    assert w.flush()
    w.stop()


def test_json_log_lines_carry_run_and_task_and_pass_the_mask() -> None:
    import json
    import logging

    record = logging.LogRecord(
        "podium.engine", logging.INFO, __file__, 1, "token %s", ("s3cr3t",), None
    )
    record.run_id, record.task_id = "r1", "load"
    line = json.loads(JsonFormatter(lambda text: text.replace("s3cr3t", "***")).format(record))
    assert line["message"] == "token ***" and line["level"] == "info"
    assert (
        line["logger"] == "podium.engine" and line["run_id"] == "r1" and line["task_id"] == "load"
    )
    assert line["ts"].endswith("+00:00")
