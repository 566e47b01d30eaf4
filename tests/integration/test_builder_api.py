"""The workflow builder's API over real HTTP: the kinds' settings, the project's pickers,
validation placed on tasks and keys, the diff, saving (round trip, conflict, audit) and
who may save."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.live_app import make_user, serve
from podium.errors import ProjectError
from podium.kinds.registry import written_kinds
from podium.project import load_project
from podium.project.workflow_edit import digest
from podium.server.api import create_app
from podium.store.database import Database, open_database

HAND_WRITTEN = """\
# Nightly: land the shop, then report. Written by hand.
name: nightly
description: Land the shop and report   # kept as written

triggers:
  - schedule: "0 5 * * *"   # 05:00 in New York
    timezone: America/New_York

tasks:
  # the shop first
  - id: land
    shell: "echo landing"
    retries: 2          # the shop's API flakes at night
    pool: shop
  - id: report
    shell: 'echo report'
    depends_on: [land]
"""
PODIUM_YAML = """\
store: sqlite:///.podium/state.db
pools: {shop: 2}
connections:
  shop:
    type: files
    path: inbox
    streams:
      orders: {pattern: "*.csv", primary_key: [id]}
"""


@dataclass
class Builder:
    root: Path
    db: Database
    operator: httpx.Client
    viewer: httpx.Client


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builder]:
    root = tmp_path_factory.mktemp("builder")
    (root / "workflows").mkdir()
    (root / "inbox").mkdir()
    (root / "podium.yaml").write_text(PODIUM_YAML)
    (root / "workflows" / "nightly.yaml").write_text(HAND_WRITTEN)
    project = load_project(root, environ={})
    db = open_database(project.store_url)
    operator = make_user(db, "otto", "operator")
    viewer = make_user(db, "vera", "viewer")
    with serve(create_app(project, db, lambda: None)) as url:

        def client(token: str) -> httpx.Client:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.Client(base_url=url, headers=headers, timeout=20)

        with client(operator) as otto, client(viewer) as vera:
            yield Builder(root, db, otto, vera)
    db.close()


def opened(b: Builder, name: str = "nightly") -> dict[str, Any]:
    response = b.operator.get(f"/api/builder/files/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_each_kind_comes_with_the_settings_it_describes(builder: Builder) -> None:
    schema = builder.viewer.get("/api/builder/schema").json()
    kinds = {k["name"]: k for k in schema["kinds"]}
    assert set(kinds) == {k.name for k in written_kinds()}
    for kind in written_kinds():
        assert kinds[kind.name]["options"] == kind.options.json_schema()
    assert kinds["extract"]["picks"] == {"target": "sources", "streams": "streams"}
    assert "retries" in schema["task_options"]["properties"]
    assert {"schedule", "event", "webhook", "asset"} <= set(schema["triggers"])
    assert "all_of" in str(schema["triggers"]["asset"])


def test_pickers_are_filled_from_the_project(builder: Builder) -> None:
    pickers = builder.viewer.get("/api/builder/pickers").json()
    assert pickers["sources"] == ["shop"]
    assert pickers["connections"]["shop"]["streams"] == ["orders"]
    assert "shop" in pickers["pools"]
    assert "nightly" in pickers["workflows"]


def test_a_file_opens_with_its_data_and_fingerprint(builder: Builder) -> None:
    file = opened(builder)
    assert file["sha256"] == digest(HAND_WRITTEN) and file["text"] == HAND_WRITTEN
    assert file["document"]["tasks"][0] == {
        "id": "land",
        "shell": "echo landing",
        "retries": 2,
        "pool": "shop",
    }
    assert builder.viewer.get("/api/builder/files/new_one").json()["exists"] is False
    refused = builder.viewer.get("/api/builder/files/..%2Fpodium.yaml")
    assert refused.status_code in (400, 404)


def test_problems_are_those_of_validate_on_their_task_and_key(builder: Builder) -> None:
    document = opened(builder)["document"]
    document["tasks"][0]["pool"] = "shpo"
    document["tasks"][1]["depends_on"] = ["lnad"]
    body = {"file": "workflows/nightly.yaml", "document": document}
    problems = builder.viewer.post("/api/builder/validate", json=body).json()["problems"]
    placed = {(p["task"], p["field"]): p["message"] for p in problems}
    assert "unknown pool 'shpo'" in placed[("land", "pool")]
    assert "did you mean 'shop'" in placed[("land", "pool")]
    assert "lnad" in placed[("report", "depends_on")]
    assert all(p["file"] == "workflows/nightly.yaml" and p["line"] > 0 for p in problems)
    # the same words as `podium validate` on that file
    text = builder.viewer.post("/api/builder/validate", json=body).json()["text"]
    with pytest.raises(ProjectError) as raised:
        load_project(builder.root, environ={}, overlay={"workflows/nightly.yaml": text})
    for message in placed.values():
        assert message in str(raised.value)


def test_a_hand_written_file_keeps_everything_but_the_changed_retry(builder: Builder) -> None:
    file = opened(builder)
    document = file["document"]
    document["tasks"][0]["retries"] = 3
    body = {"file": "workflows/nightly.yaml", "document": document, "sha256": file["sha256"]}
    diff = builder.viewer.post("/api/builder/diff", json=body).json()["diff"]
    changed = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-    retries: 2          # the shop's API flakes at night",
        "+    retries: 3          # the shop's API flakes at night",
    ]
    saved = builder.operator.post("/api/builder/save", json=body)
    assert saved.status_code == 200, saved.text
    after = (builder.root / "workflows" / "nightly.yaml").read_text()
    assert after == HAND_WRITTEN.replace("retries: 2 ", "retries: 3 ")
    assert saved.json()["sha256"] == digest(after)
    last = builder.viewer.get("/api/builder/saves").json()[0]
    assert (last["user"], last["file"], last["sha256"]) == (
        "otto",
        "workflows/nightly.yaml",
        digest(after),
    )
    # unchanged data writes the same bytes
    again = {**body, "document": opened(builder)["document"], "sha256": digest(after)}
    assert builder.operator.post("/api/builder/save", json=again).status_code == 200
    assert (builder.root / "workflows" / "nightly.yaml").read_text() == after


def test_a_save_over_a_file_changed_on_disk_is_refused(builder: Builder) -> None:
    file = opened(builder)
    path = builder.root / "workflows" / "nightly.yaml"
    path.write_text(file["text"].replace("echo report", "echo the report"))
    document = file["document"]
    document["tasks"][0]["retries"] = 5
    body = {"file": "workflows/nightly.yaml", "document": document, "sha256": file["sha256"]}
    refused = builder.operator.post("/api/builder/save", json=body)
    assert refused.status_code == 409
    assert "changed on disk since you opened it" in refused.json()["error"]
    assert "echo the report" in path.read_text() and "retries: 5" not in path.read_text()
    # a new file whose name was taken in the meantime
    taken = {"file": "workflows/nightly.yaml", "document": document, "sha256": None}
    assert builder.operator.post("/api/builder/save", json=taken).status_code == 409


def test_a_viewer_cannot_save(builder: Builder) -> None:
    file = opened(builder)
    body = {
        "file": "workflows/nightly.yaml",
        "document": file["document"],
        "sha256": file["sha256"],
    }
    refused = builder.viewer.post("/api/builder/save", json=body)
    assert refused.status_code == 403
    assert (builder.root / "workflows" / "nightly.yaml").read_text() == file["text"]


def test_a_new_workflow_is_written_and_one_with_problems_is_not(builder: Builder) -> None:
    document = {
        "name": "fresh",
        "triggers": [{"schedule": "0 6 * * *", "timezone": "Europe/Paris"}],
        "tasks": [
            {"id": "land", "extract": "shop", "retries": 2},
            {"id": "after", "shell": "echo done", "depends_on": ["land"]},
        ],
    }
    bad = {"file": "workflows/fresh.yaml", "document": {**document, "tasks": [{"id": "x"}]}}
    refused = builder.operator.post("/api/builder/save", json=bad)
    assert refused.status_code == 409 and "not saved" in refused.json()["error"]
    assert not (builder.root / "workflows" / "fresh.yaml").exists()
    saved = builder.operator.post(
        "/api/builder/save", json={"file": "workflows/fresh.yaml", "document": document}
    )
    assert saved.status_code == 200, saved.text
    text = (builder.root / "workflows" / "fresh.yaml").read_text()
    assert "depends_on: [land]" in text
    assert load_project(builder.root, environ={}).workflows["fresh"].tasks[0].retry.retries == 2
    assert builder.viewer.get("/api/builder/saves").json()[0]["created"] is True


def test_a_schedule_shows_its_next_five_times_in_its_zone(builder: Builder) -> None:
    answer = builder.viewer.post(
        "/api/builder/next-times", json={"schedule": "0 6 * * *", "timezone": "America/New_York"}
    ).json()
    assert len(answer["times"]) == 5
    assert all(t[11:19] == "06:00:00" and t[-6:] in ("-05:00", "-04:00") for t in answer["times"])
    bad = builder.viewer.post("/api/builder/next-times", json={"schedule": "61 * * * *"})
    assert bad.status_code == 200 and bad.json()["times"] == []
    assert "schedule '61 * * * *'" in bad.json()["problem"]


def test_the_pages_open_for_a_viewer_read_only(builder: Builder) -> None:
    page = builder.viewer.get("/builder/nightly")
    assert page.status_code == 200 and 'data-may-save="no"' in page.text
    assert 'data-may-save="yes"' in builder.operator.get("/builder/nightly").text
    listing = builder.viewer.get("/builder")
    assert "workflows/nightly.yaml" in listing.text
    assert builder.viewer.get("/static/builder.js").status_code == 200
