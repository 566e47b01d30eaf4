"""``syncs:`` in podium.yaml: every problem at its line, naming the sync and the key, and
what a sync task needs (its sync, the connection's pool)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from podium.core.workflow import Project
from podium.errors import ProjectError
from podium.project import load_project
from podium.syncs.diff import Mode

CONNECTIONS = """\
warehouse: {type: duckdb}
connections:
  klaviyo: {type: klaviyo, api_key: pk_test_0123456789abcdef}
  fulfilment:
    type: threepl
    base_url: https://api.shipbob.com
    token: pat_secret_3pl_0123
    channel_id: "100001"
  files_in: {type: files, path: inbox, streams: {s: {pattern: "*.csv"}}}
"""
VIP = """\
  vip_to_klaviyo:
    from: marts.vip
    to: klaviyo
    object: list_members
    list: VIP
    key: person_id
    mode: mirror
    fields: {email: email, properties.ltv: ltv}
    guard: {max_changes: 10%}
"""
PUSH = "name: push\ntasks:\n  - {id: push_vip, sync: vip_to_klaviyo}\n"


def project(root: Path, syncs: str, workflow: str = PUSH) -> Project:
    files: Mapping[str, str] = {
        "podium.yaml": CONNECTIONS + "syncs:\n" + syncs,
        "workflows/push.yaml": workflow,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return load_project(root, environ={})


def problems(root: Path, syncs: str, workflow: str = PUSH) -> list[str]:
    with pytest.raises(ProjectError) as info:
        project(root, syncs, workflow)
    return [str(p) for p in info.value.problems]


def test_a_sync_is_read_and_its_task_takes_the_connection_pool(tmp_path: Path) -> None:
    loaded = project(tmp_path, VIP)
    sync = loaded.syncs["vip_to_klaviyo"]
    assert (sync.source, sync.connection, sync.object, sync.key) == (
        "marts.vip", "klaviyo", "list_members", "person_id")  # fmt: skip
    assert sync.mode is Mode.MIRROR and sync.options == {"list": "VIP"}
    assert sync.fields == {"email": "email", "properties.ltv": "ltv"}
    assert sync.guard is not None and sync.guard.percent == 10
    [task] = loaded.workflows["push"].tasks
    assert task.pool == "connection:klaviyo"  # one account budget with its extracts
    assert loaded.pools["connection:fulfilment"] == 1  # a destination-only connection too


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("to: klaviyo", "to: nowhere"),
            "podium.yaml:13: syncs: vip_to_klaviyo: to: no connection 'nowhere' in connections:"
            " (files_in, fulfilment, klaviyo)",
        ),
        (
            ("to: klaviyo", "to: files_in"),
            "podium.yaml:13: syncs: vip_to_klaviyo: to: connection 'files_in' has type 'files',"
            " which podium cannot write to; destination types: klaviyo, shopify, threepl, rest",
        ),
        (
            ("object: list_members", "object: lists"),
            "podium.yaml:14: syncs: vip_to_klaviyo: object: klaviyo (klaviyo) writes profiles,"
            " list_members, not 'lists'",
        ),
        (
            ("mode: mirror", "mode: sideways"),
            "podium.yaml:17: syncs: vip_to_klaviyo: mode must be one of upsert, mirror, insert,"
            " got 'sideways'",
        ),
        (
            ("max_changes: 10%", "max_changes: lots"),
            "podium.yaml:19: syncs: vip_to_klaviyo: guard: max_changes 'lots' is neither a percent",
        ),
        (
            ("    list: VIP\n", "    list: VIP\n    lists: VIP\n"),
            "podium.yaml:16: syncs: vip_to_klaviyo: unknown key 'lists'; did you mean 'list'?",
        ),
        (("    key: person_id\n", ""), "podium.yaml:12: syncs: vip_to_klaviyo: key: required"),
        (
            ("fields: {email: email, properties.ltv: ltv}", "fields: {first_name: name}"),
            "podium.yaml:18: syncs: vip_to_klaviyo: fields: list_members needs an identifier",
        ),
    ],
)
def test_each_problem_is_at_its_line_naming_sync_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    found = problems(tmp_path, VIP.replace(*change))
    assert any(p.startswith(message) for p in found), found
    assert len(found) == 1, found  # the task naming the sync is not told again


def test_a_task_naming_no_sync_and_a_trigger_sync_that_mirrors(tmp_path: Path) -> None:
    trigger = (
        "  orders_to_3pl:\n    from: trigger\n    to: fulfilment\n    object: orders\n"
        "    key: id\n    mode: mirror\n    fields:\n      shipping_method: a.b\n"
        "      recipient.name: c\n      recipient.address.address1: d\n"
        "      recipient.address.city: e\n      recipient.address.country: f\n"
        "      products: 'items[].{reference_id sku}'\n"
    )
    workflow = "name: push\ntasks:\n  - {id: push_vip, sync: vip_to_klaviyos}\n"
    found = problems(tmp_path, VIP + trigger, workflow)
    assert any(
        "mode: mirror removes what is not in the source, but from: trigger is one delivery" in p
        for p in found
    ), found
    assert any("'reference_id sku' in 'items[].{reference_id sku}' is not name: path" in p
               for p in found), found  # fmt: skip
    assert any(
        p.startswith("workflows/push.yaml:3: task 'push_vip': sync 'vip_to_klaviyos' is not in")
        for p in found
    ), found


def test_a_destination_only_connection_is_checked_by_its_type(tmp_path: Path) -> None:
    path = tmp_path / "podium.yaml"
    path.write_text(CONNECTIONS.replace('    channel_id: "100001"\n', ""))
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path, environ={})
    found = [str(p) for p in info.value.problems]
    assert any("connections: fulfilment.channel_id" in p for p in found), found
    assert not any("pat_secret_3pl_0123" in p for p in found)
