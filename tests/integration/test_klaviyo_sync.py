"""Syncing a DuckDB model to the Klaviyo simulator over real sockets, with ``run_sync``.

For profiles and list members: a first sync of 2,000 rows, then a 1 % change, after which
the simulator's ground truth (``/_sandbox/truth/klaviyo-writes``) equals the model exactly
and the second sync sent only the requests the change needs. Then the same under a 429
storm (with and without ``Retry-After``), a 5xx burst and truncated answers: nothing lost,
nothing doubled. A record Klaviyo rejects comes back with Klaviyo's reason, the rest
land, and the next run retries it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.connectors.sources.klaviyo.endpoints import Limit, write_limit
from podium.errors import TerminalTaskError
from podium.sandbox.brand import EXAMPLE_START, BrandConfig
from podium.sandbox.faults import Faults, When
from podium.sandbox.service import Sandbox, start_sandbox
from podium.syncs import Mode, SyncSpec, plan
from podium.syncs.destination import SyncTarget, WriterEnv
from podium.syncs.destinations.klaviyo import KlaviyoDestination
from podium.syncs.destinations.klaviyo_writer import Poll
from podium.syncs.run import SyncReport, run_sync
from podium.transforms.warehouse_sql import WarehouseSql, open_warehouse_sql

NOW = datetime(2026, 12, 7, 6, tzinfo=UTC)
WINDOWS = (0.1, 6.0)  # Klaviyo's 1 s and 60 s windows, shrunk alike on both sides
DESTINATION = KlaviyoDestination(windows=WINDOWS, poll=Poll(first=0.0))
SOURCE = "marts.customers"
PROFILE_FIELDS = {
    "external_id": "ext",
    "email": "email",
    "first_name": "first_name",
    "properties.lifetime_value": "ltv",
}
MEMBER_FIELDS = {"external_id": "ext", "email": "email", "first_name": "first_name"}
N = 2000


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    config = BrandConfig(start=EXAMPLE_START, days=10, customers=40, dtc_orders_per_day=3)
    options = {"klaviyo": {"windows": WINDOWS}}
    with start_sandbox(config=config, apis=["klaviyo"], options=options) as box:
        yield box


@pytest.fixture
def sql(tmp_path: Path) -> Iterator[WarehouseSql]:
    with open_warehouse_sql({"type": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path) as s:
        s.ensure_schema("marts")
        s.execute(
            f"CREATE TABLE {_table(s)} (id INTEGER, ext TEXT, email TEXT, first_name TEXT,"
            " ltv DECIMAL(12,2))"
        )
        yield s


def _table(sql: WarehouseSql) -> str:
    return f'"{sql.schema_prefix}marts".customers'


def seed(sql: WarehouseSql, first: int, last: int) -> None:
    sql.execute(
        f"INSERT INTO {_table(sql)} SELECT i, 'cust-' || CAST(i AS VARCHAR),"
        " 'p' || CAST(i AS VARCHAR) || '@sync.example', 'Ada' || CAST(i AS VARCHAR),"
        f" CAST(i AS DECIMAL(12,2)) / 4 FROM generate_series({first}, {last}) AS g(i)"
    )


def change_one_percent(sql: WarehouseSql, n: int) -> tuple[int, int, int]:
    """Updates, adds and removes a third of 1 % of ``n`` rows each."""
    k = max(1, n // 300)
    sql.execute(f"UPDATE {_table(sql)} SET first_name = 'Grace', ltv = ltv + 1 WHERE id <= {k}")
    sql.execute(f"DELETE FROM {_table(sql)} WHERE id > {n - k}")
    seed(sql, n + 1, n + k)
    return k, k, k


def sync(
    sandbox: Sandbox, sql: WarehouseSql, obj: str, mode: Mode, **options: Any
) -> tuple[SyncReport, int]:
    """One run of the sync; its report and the requests the simulator saw."""
    fields = MEMBER_FIELDS if obj == "list_members" else PROFILE_FIELDS
    spec = SyncSpec(obj, SOURCE, "id", fields, mode)
    target = SyncTarget(obj, "klaviyo", obj, mode, "id", tuple(fields), options)
    env = WriterEnv()
    before = sandbox.server.requests("klaviyo")
    writer = DESTINATION.open("klaviyo", sandbox.connection("klaviyo"), target, env)
    try:
        report = run_sync(sql, spec, writer, now=lambda: NOW, counters=env.counters)
    finally:
        writer.close()
    return report, sandbox.server.requests("klaviyo") - before


def truth(sandbox: Sandbox) -> dict[str, Any]:
    answer = httpx.get(f"{sandbox.url_for('_sandbox')}/truth/klaviyo-writes", timeout=10)
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def model(sql: WarehouseSql) -> dict[str, tuple[str, str, str]]:
    rows = sql.query(f"SELECT ext, email, first_name, ltv FROM {_table(sql)}")
    return {r[0]: (r[1], r[2], float(r[3])) for r in rows}  # type: ignore[misc]


def synced_profiles(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """external_id → every profile carrying it (a record applied twice shows as two)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for pid, attributes in state["profiles"].items():
        ext = attributes.get("external_id") or ""
        if ext.startswith("cust-"):
            found.setdefault(ext, []).append({"id": pid, **attributes})
    return found


def assert_profiles_equal(sandbox: Sandbox, sql: WarehouseSql) -> None:
    wanted = model(sql)
    held = synced_profiles(truth(sandbox))
    assert all(len(p) == 1 for p in held.values()), "a record was applied twice"
    for ext, (email, first_name, ltv) in wanted.items():
        p = held[ext][0]
        assert (p["email"], p["first_name"], p["properties"]["lifetime_value"]) == (
            email,
            first_name,
            ltv,
        ), ext


def assert_members_equal(sandbox: Sandbox, sql: WarehouseSql) -> None:
    state = truth(sandbox)
    vip = next(lid for lid, name in state["list_names"].items() if name == "VIP")
    held = synced_profiles(state)
    assert all(len(p) == 1 for p in held.values()), "a record was applied twice"
    members = {held[ext][0]["id"] for ext in model(sql)}
    assert set(state["lists"][vip]) == members


def test_profiles_first_sync_then_one_percent_change(sandbox: Sandbox, sql: WarehouseSql) -> None:
    seed(sql, 1, N)
    first, requests = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert first.landed["add"] == N and first.rejected == 0
    assert requests == 3  # one bulk import job: created, found processing, then complete
    assert first.counters["requests"] == 3
    assert_profiles_equal(sandbox, sql)

    updates, adds, _ = change_one_percent(sql, N)
    second, requests = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert (second.landed["update"], second.landed["add"]) == (updates, adds)
    assert requests == 3  # the change fits one job
    assert_profiles_equal(sandbox, sql)  # removed rows stay in Klaviyo (upsert)

    third, requests = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert (third.sent, requests) == (0, 0)


def test_list_members_mirror_sync_then_one_percent_change(
    sandbox: Sandbox, sql: WarehouseSql
) -> None:
    seed(sql, 1, N)
    first, requests = sync(sandbox, sql, "list_members", Mode.MIRROR, list="VIP")
    assert first.landed["add"] == N and first.rejected == 0
    assert requests == 4  # the list looked up by name, one job: created and polled twice
    assert_members_equal(sandbox, sql)

    updates, adds, removes = change_one_percent(sql, N)
    second, requests = sync(sandbox, sql, "list_members", Mode.MIRROR, list="VIP")
    assert dict(second.landed) == {"update": updates, "add": adds, "remove": removes}
    # list lookup 1; removals: ids looked up 1, DELETE 1; adds+updates: a job, 3
    assert requests == 6
    assert_members_equal(sandbox, sql)


FAULTS = {
    "429 storm": Faults(throttle=When.at(2, 9), throttle_burst=4, retry_after=0.05),
    "429 without Retry-After": Faults(status=429, status_when=When.at(2, 5)),
    "5xx burst": Faults(errors=When.at(2, 9), error_burst=2),
    "truncated answers": Faults(truncate=When.at(2, 5, 8, 11)),
}


@pytest.mark.parametrize("obj", ["list_members", "profiles"])
@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
def test_faults_lose_nothing_and_double_nothing(
    sandbox: Sandbox, sql: WarehouseSql, faults: Faults, obj: str
) -> None:
    # profiles: 300 rows, so the change (1 add, 1 update) goes by profile-import
    n, mode = (600, Mode.MIRROR) if obj == "list_members" else (300, Mode.UPSERT)
    options = {"list": "VIP"} if obj == "list_members" else {}
    seed(sql, 1, n)
    sandbox.server.set_faults("klaviyo", faults)
    first, _ = sync(sandbox, sql, obj, mode, **options)
    assert first.landed["add"] == n and first.rejected == 0
    change_one_percent(sql, n)
    second, _ = sync(sandbox, sql, obj, mode, **options)
    assert second.rejected == 0 and second.sent > 0
    sandbox.server.set_faults("klaviyo", None)
    if obj == "list_members":
        assert_members_equal(sandbox, sql)
    else:
        assert_profiles_equal(sandbox, sql)
    assert first.counters.get("retries", 0) + second.counters.get("retries", 0) > 0
    if faults.truncate.numbers and obj == "list_members":  # the 2nd request: a job's creation
        assert len(sandbox.simulator("klaviyo").writes.jobs) > 2  # its answer lost, sent again
    again, requests = sync(sandbox, sql, obj, mode, **options)
    assert (again.sent, requests) == (0, 0)


def test_a_rejected_record_comes_back_with_klaviyos_reason_and_is_retried(
    sandbox: Sandbox, sql: WarehouseSql
) -> None:
    seed(sql, 1, 50)
    sql.execute(f"UPDATE {_table(sql)} SET email = 'not-an-email' WHERE id = 7")
    first, _ = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert first.landed["add"] == 49 and first.rejected == 1
    ((key, reason),) = first.rejected_samples
    assert key == "7"
    assert "Invalid email address: 'not-an-email'" in reason and "at email" in reason

    planned = plan(sql, "profiles", SOURCE, "id", PROFILE_FIELDS, Mode.UPSERT)
    assert (planned.adds, planned.retries) == (1, 1)
    second, requests = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert (second.rejected, requests) == (1, 1)  # retried alone, by profile-import
    assert "Invalid email address" in second.rejected_samples[0][1]

    sql.execute(f"UPDATE {_table(sql)} SET email = 'p7@sync.example' WHERE id = 7")
    third, _ = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert (third.landed["add"], third.rejected) == (1, 0)
    assert_profiles_equal(sandbox, sql)


def test_identifiers_of_two_profiles_are_rejected_after_patching_the_holder_fails(
    sandbox: Sandbox, sql: WarehouseSql
) -> None:
    seed(sql, 1, 10)
    sync(sandbox, sql, "profiles", Mode.UPSERT)
    # row 2 takes row 1's email: its external_id and email now name two profiles
    sql.execute(f"UPDATE {_table(sql)} SET email = 'p1@sync.example' WHERE id = 2")
    report, requests = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert report.rejected == 1 and requests == 2  # profile-import 409, then the PATCH
    reason = report.rejected_samples[0][1]
    assert "duplicate_profile" in reason and "merge them in Klaviyo" in reason


def test_a_null_attribute_in_an_update_clears_it(sandbox: Sandbox, sql: WarehouseSql) -> None:
    seed(sql, 1, 10)
    sync(sandbox, sql, "profiles", Mode.UPSERT)
    sql.execute(f"UPDATE {_table(sql)} SET first_name = NULL, ltv = NULL WHERE id <= 5")
    report, requests = sync(sandbox, sql, "profiles", Mode.UPSERT)
    assert (report.landed["update"], requests) == (5, 5)  # profile-import clears; bulk cannot
    held = synced_profiles(truth(sandbox))
    for i in range(1, 6):
        p = held[f"cust-{i}"][0]
        assert "first_name" not in p and "lifetime_value" not in p["properties"]


def test_check_names_the_key() -> None:
    profiles, members = DESTINATION.objects["profiles"], DESTINATION.objects["list_members"]
    assert profiles.check({"first_name": "f"}, {}) == [
        "fields: profiles needs an identifier field: email, phone_number or external_id"
    ]
    assert members.check({"email": "e"}, {})[0].startswith("list: list_members needs list")
    problems = profiles.check({"email": "e", "subscriptions.email": "s", "nickname": "n"}, {})
    assert problems[0].startswith("fields.subscriptions.email: a sync never sets consent")
    assert problems[1].startswith("fields.nickname: not a Klaviyo profile attribute")
    assert Mode.MIRROR not in profiles.modes


def test_write_endpoints_have_klaviyos_limits_and_take_overrides() -> None:
    assert write_limit("profile_import", "2026-07-15") == Limit(75, 750)
    assert write_limit("profile_import", "2026-04-15") == Limit(75, 700)
    assert write_limit("profile_bulk_import_jobs", "2025-10-15") == Limit(10, 150)
    settings = {"api_key": "pk_test", "rate_limits": {"profile_import": {"burst": 5, "steady": 60}}}
    assert DESTINATION.problems(settings) == []
    wrong = DESTINATION.problems({"api_key": "pk_test", "rate_limits": {"bulk": {}}})
    assert wrong[0].startswith("rate_limits.bulk: unknown endpoint")


def test_a_list_given_by_id_takes_one_lookup_and_an_unknown_one_is_named(
    sandbox: Sandbox, sql: WarehouseSql
) -> None:
    seed(sql, 1, 20)
    vip = next(lid for lid, name in truth(sandbox)["list_names"].items() if name == "VIP")
    report, requests = sync(sandbox, sql, "list_members", Mode.UPSERT, list=vip)
    assert (report.landed["add"], requests) == (20, 4)
    assert_members_equal(sandbox, sql)
    seed(sql, 21, 30)
    with pytest.raises(
        TerminalTaskError, match="list: Klaviyo has no list named or with id 'Gold'"
    ):
        sync(sandbox, sql, "list_members", Mode.UPSERT, list="Gold")
