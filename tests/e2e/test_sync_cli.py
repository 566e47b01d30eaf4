"""A sync as a user drives it, through the CLI against the Klaviyo simulator: a workflow
that builds a model and mirrors it into the VIP list; ``podium sync preview`` before a
change; a guard that trips (nothing sent, the run fails saying why); a dry run; the guard
overridden once; a record Klaviyo rejects, reported with its reason and retried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from e2e.conftest import MakeProject, Project
from podium.sandbox.klaviyo import DEMO_API_KEY
from podium.sandbox.service import Sandbox, start_sandbox


@pytest.fixture
def klaviyo() -> Iterator[Sandbox]:
    with start_sandbox(apis=["klaviyo"]) as sandbox:
        yield sandbox


def model_sql(first: int, last: int, bad: int | None = None) -> str:
    email = (
        f"CASE WHEN i = {bad} THEN 'not-an-email' ELSE 'vip' || i || '@example.com' END"
        if bad is not None
        else "'vip' || i || '@example.com'"
    )
    return (
        f"select 'p' || i as person_id, {email} as email, 'Ada' || i as first_name,"
        f" i * 10 as ltv from range({first}, {last}) t(i)"
    )


def files(klaviyo: Sandbox) -> dict[str, str]:
    return {
        "podium.yaml": f"""
            warehouse: {{type: duckdb, path: .podium/warehouse.duckdb}}
            connections:
              klaviyo:
                type: klaviyo
                base_url: {klaviyo.url_for("klaviyo")}
                api_key: {DEMO_API_KEY}
            syncs:
              vip_to_klaviyo:
                from: marts.vip
                to: klaviyo
                object: list_members
                list: VIP
                key: person_id
                mode: mirror
                fields: {{email: email, first_name: first_name, properties.ltv: ltv}}
                guard: {{max_changes: 10%}}
        """,
        "models/marts/vip.sql": model_sql(0, 200),
        "workflows/push.yaml": """
            name: push
            tasks:
              - id: models
                transform: marts
              - id: push_vip
                sync: vip_to_klaviyo
                depends_on: [models]
        """,
    }


def members(klaviyo: Sandbox) -> set[str]:
    """The emails in Klaviyo's VIP list that a sync put there."""
    state: dict[str, Any] = httpx.get(klaviyo.url + "/_sandbox/truth/klaviyo-writes").json()
    vip = next(lid for lid, name in state["list_names"].items() if name == "VIP")
    emails = {state["profiles"][pid].get("email") for pid in state["lists"][vip]}
    return {e for e in emails if e and e.startswith("vip")}


def wanted(first: int, last: int) -> set[str]:
    return {f"vip{i}@example.com" for i in range(first, last)}


def push_output(project: Project, run_id: str) -> dict[str, Any]:
    run = project.show(run_id)
    [task] = [t for t in run["tasks"] if t["id"] == "push_vip"]
    return dict(task["output"] or {}, status=task["status"], error=task["error"])


def test_preview_guard_dry_run_override_and_rejections(
    make_project: MakeProject, klaviyo: Sandbox
) -> None:
    project = make_project(files(klaviyo))
    first = project.ok("run", "push", "--json").json()
    out = push_output(project, first["run_id"])
    assert (out["planned"], out["rejected"]) == ({"add": 200, "update": 0, "remove": 0}, 0)
    assert members(klaviyo) == wanted(0, 200)

    # 1%: two people leave, two join, one changes
    project.write(
        {
            "models/marts/vip.sql": model_sql(2, 202).replace(
                "i * 10", "i * 10 + CAST(i = 50 AS INTEGER)"
            )
        }
    )
    project.ok("models", "run", "marts")
    preview = project.ok("sync", "preview", "vip_to_klaviyo").out
    assert "2 adds, 1 updates, 2 removes" in preview and "guard: passes" in preview, preview
    assert "remove p0" in preview and "add p200" in preview and "nothing was sent" in preview
    assert members(klaviyo) == wanted(0, 200)  # a preview sends nothing
    as_json = project.ok("sync", "preview", "vip_to_klaviyo", "--json").json()
    assert (as_json["add"], as_json["update"], as_json["remove"]) == (2, 1, 2)
    second = project.ok("run", "push", "--json").json()
    assert push_output(project, second["run_id"])["requests"]["requests"] <= 8
    assert members(klaviyo) == wanted(2, 202)

    # half the audience replaced: the guard refuses it, and says why
    project.write({"models/marts/vip.sql": model_sql(100, 300)})
    project.ok("models", "run", "marts")
    preview = project.ok("sync", "preview", "vip_to_klaviyo").out
    assert "guard: sync vip_to_klaviyo: guard max_changes 10% tripped" in preview, preview
    refused = project.podium("run", "push", "--json")
    assert refused.code == 1, refused
    out = push_output(project, refused.json()["run_id"])
    assert out["status"] == "failed" and "guard max_changes 10% tripped" in out["error"]
    assert "nothing was sent" in out["error"]
    assert members(klaviyo) == wanted(2, 202)
    dry = project.ok("sync", "run", "vip_to_klaviyo", "--dry-run").out
    assert dry.startswith("dry run, nothing sent") and "the guard would refuse it" in dry, dry
    assert members(klaviyo) == wanted(2, 202)
    forced = project.ok("sync", "run", "vip_to_klaviyo", "--override-guard").out
    assert "98 added, 0 updated, 98 removed" in forced, forced
    assert members(klaviyo) == wanted(100, 300)

    # one record Klaviyo refuses: reported with its reason, the rest land, retried later
    project.write({"models/marts/vip.sql": model_sql(100, 301, bad=300)})
    third = project.ok("run", "push", "--json").json()
    out = push_output(project, third["run_id"])
    assert out["rejected"] == 1 and out["rejected_samples"][0]["key"] == "p300"
    reason = out["rejected_samples"][0]["reason"]
    assert "email" in reason.lower(), reason
    run = project.show(third["run_id"])
    assert run["status"] == "succeeded"
    # … and said as a failed warn check: what the run's summary and alerts show
    [(payload,)] = project.query(
        "SELECT payload FROM events WHERE type = 'CheckEvaluated' AND run_id = ?",
        (third["run_id"],),
    )
    check = json.loads(payload)
    assert check["check"] == "sync vip_to_klaviyo: records rejected" and not check["passed"]
    assert check["severity"] == "warn" and check["failing"] == 1
    assert "1 rejected" in check["message"] and reason in check["message"]
    preview = project.ok("sync", "preview", "vip_to_klaviyo").out
    assert f"retry p300: rejected before: {reason}" in preview, preview
    listed = json.dumps(project.ok("sync", "list", "--json").json())
    assert "vip_to_klaviyo" in listed and DEMO_API_KEY not in listed
