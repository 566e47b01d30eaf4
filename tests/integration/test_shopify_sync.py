"""Syncs to the ``shopify`` destination over real sockets against the Shopify simulator,
from a real DuckDB warehouse: customer tags and customer metafields end exactly as the
model says (other apps' tags untouched), a 1% change takes only the requests it needs,
faults lose and double nothing, Shopify's userErrors reject just their record, and a
large batch goes as one bulk mutation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.sandbox import Faults, When
from podium.sandbox.brand import EXAMPLE_START, BrandConfig
from podium.sandbox.service import Sandbox, start_sandbox
from podium.sandbox.shopify import DEMO_CREDENTIALS
from podium.syncs import Mode, SyncSpec
from podium.syncs.destination import SyncTarget, WriterEnv, destination_type
from podium.syncs.destinations.shopify import BULK_THRESHOLD, DESTINATION
from podium.syncs.run import SyncReport, run_sync
from podium.transforms.warehouse_sql import WarehouseSql, open_warehouse_sql

NOW = datetime(2026, 12, 7, 6, tzinfo=UTC)
MODEL = 500  # customers in a model; a 1% change is 5 records
OTHER_APP = "from-another-app"
TAGS_ADD = (
    "mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) "
    "{ userErrors { field message } } }"
)
MISSING = "gid://shopify/Customer/999999999"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = BrandConfig(start=EXAMPLE_START, days=3, customers=2_400, dtc_orders_per_day=5)
    options = {"shopify": {"restore_rate": 50_000.0, "bulk_polls": 2}}
    with start_sandbox(config=config, apis=["shopify"], options=options) as running:
        yield running


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[WarehouseSql]:
    with open_warehouse_sql(
        {"type": "duckdb", "path": str(tmp_path / "w.duckdb")}, tmp_path
    ) as sql:
        sql.ensure_schema("marts")
        yield sql


class Shop:
    """The simulated shop as a test sees it: its customers, truth and request log."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox, self.sim = sandbox, sandbox.simulator("shopify")
        now = sandbox.clock.now()
        self.ids = [c.id for c in sandbox.brand.customers if c.created_at <= now]
        self.settings = {
            **sandbox.connection("shopify"),
            "bulk_poll_interval": "10ms",
            "retries": 8,
        }

    def truth(self) -> dict[str, Any]:
        url = self.sandbox.url + "/_sandbox/truth/shopify-writes"
        held: dict[str, Any] = httpx.get(url).json()["customers"]
        return held

    def tagged(self, tag: str) -> set[str]:
        return {g for g, held in self.truth().items() if tag in held["tags"]}

    def tag_as_another_app(self, ids: Sequence[int]) -> None:
        url = self.sandbox.url_for("shopify") + "/admin/api/2025-10/graphql.json"
        token = {"X-Shopify-Access-Token": DEMO_CREDENTIALS["access_token"]}
        for number in ids:
            variables = {"id": gid(number), "tags": [OTHER_APP]}
            body = httpx.post(url, json={"query": TAGS_ADD, "variables": variables}, headers=token)
            assert body.json()["data"]["tagsAdd"]["userErrors"] == []

    def sync(
        self,
        sql: WarehouseSql,
        name: str,
        object_: str,
        fields: dict[str, str],
        options: dict[str, Any],
        mode: Mode,
    ) -> tuple[SyncReport, dict[str, int]]:
        spec = SyncSpec(name, "marts.model", "k", fields, mode)
        env = WriterEnv()
        target = SyncTarget(name, "shop", object_, mode, "k", tuple(fields), options)
        writer = DESTINATION.open("shop", self.settings, target, env)
        try:
            report = run_sync(sql, spec, writer, now=lambda: NOW, counters=env.counters)
        finally:
            writer.close()
        return report, env.counters


@pytest.fixture
def shop(sandbox: Sandbox) -> Iterator[Shop]:
    yield Shop(sandbox)
    sandbox.server.set_faults("shopify", None)


def gid(number: int | str) -> str:
    return f"gid://shopify/Customer/{number}"


def model(sql: WarehouseSql) -> str:
    return f'"{sql.schema_prefix}marts".model'


# -- customer_tags ---------------------------------------------------------------------------
def tag_model(sql: WarehouseSql, rows: dict[str, str]) -> None:
    """``marts.model``: one row per member ``k``, its customer ``customer`` (an id)."""
    sql.execute(f"CREATE OR REPLACE TABLE {model(sql)} (k VARCHAR, customer VARCHAR)")
    sql.execute(
        f"INSERT INTO {model(sql)} VALUES " + ", ".join("(?, ?)" for _ in rows),
        [v for item in rows.items() for v in item],
    )


def tag_rows(ids: Sequence[int]) -> dict[str, str]:
    """Member keys ``m0000`` …; half the ids numeric, half GIDs (both accepted)."""
    return {f"m{i:04d}": (str(n) if i % 2 else gid(n)) for i, n in enumerate(ids)}


def change_one_percent(rows: dict[str, str], spare: Sequence[int]) -> dict[str, str]:
    """2 members leave, 2 join, 1 moves to another customer: 5 of 500."""
    changed = dict(rows)
    for key in list(changed)[10:12]:
        del changed[key]
    changed["m9000"], changed["m9001"] = str(spare[0]), gid(spare[1])
    changed[list(changed)[20]] = str(spare[2])
    return changed


def assert_tags_match(shop: Shop, tag: str, rows: dict[str, str], others: Sequence[int]) -> None:
    wanted = {v if v.startswith("gid:") else gid(v) for v in rows.values()}
    assert shop.tagged(tag) == wanted
    assert shop.tagged(OTHER_APP) >= {gid(n) for n in others}  # never touched


def run_tags_twice(
    shop: Shop,
    sql: WarehouseSql,
    tag: str,
    ids: Sequence[int],
    faults: Callable[[], None] = lambda: None,
) -> list[Any]:
    """First sync of ``MODEL`` customers, a 1% change, the second sync (``faults`` set
    once another app has tagged some customers); the counters of each."""
    others = [ids[0], ids[1], ids[-1]]
    shop.tag_as_another_app(others)
    faults()
    rows = tag_rows(ids[:MODEL])
    tag_model(sql, rows)
    options = {"tags": [tag, f"{tag}-2"]}
    first, first_counts = shop.sync(
        sql, tag, "customer_tags", {"id": "customer"}, options, Mode.MIRROR
    )
    assert first.landed["add"] == MODEL and first.rejected == 0
    assert_tags_match(shop, tag, rows, others)
    rows = change_one_percent(rows, ids[MODEL:])
    tag_model(sql, rows)
    second, second_counts = shop.sync(
        sql, tag, "customer_tags", {"id": "customer"}, options, Mode.MIRROR
    )
    assert (second.landed["add"], second.landed["update"], second.landed["remove"]) == (2, 1, 2)
    assert second.rejected == 0
    assert_tags_match(shop, tag, rows, others)
    assert shop.tagged(f"{tag}-2") == shop.tagged(tag)
    return [first_counts, second_counts]


def test_customer_tags_follow_the_model_and_a_1pct_change_takes_two_requests(
    shop: Shop, wh: WarehouseSql
) -> None:
    first, second = run_tags_twice(shop, wh, "vip", shop.ids[:600])
    assert first == {"requests": 10}  # 500 tagsAdd, 50 to a request
    # removals (2 tagsRemove) in their own batch, then 2 adds + 1 moved customer
    # (tagsAdd on the new one, tagsRemove on the old) together: 2 requests
    assert second == {"requests": 2}


def test_customer_tags_survive_throttling_5xx_and_a_cut_answer(
    shop: Shop, wh: WarehouseSql
) -> None:
    def faults() -> None:
        shop.sim.throttle_storm(4)
        shop.sim.internal_errors(2)
        shop.sandbox.server.set_faults(
            "shopify", Faults(errors=When.at(3, 14), error_burst=2, truncate=When.at(6, 16))
        )

    before = shop.sandbox.server.requests("shopify") + 3  # after another app's 3
    first, second = run_tags_twice(shop, wh, "faulty", shop.ids[600:1200], faults)
    total = {k: first.get(k, 0) + second.get(k, 0) for k in {*first, *second}}
    assert total["requests"] == shop.sandbox.server.requests("shopify") - before
    assert total["throttled"] >= 3  # a cut answer may hide one (counted as a retry)
    assert total["retries"] >= 4 + 2 + 2  # 5xx, cut bodies, the storm and errors
    assert total["requests"] == 12 + total["retries"]  # 10 + 2 without faults


def test_a_customer_shopify_does_not_know_is_rejected_and_retried(
    shop: Shop, wh: WarehouseSql
) -> None:
    rows = tag_rows(shop.ids[1200:1210])
    rows["m0003"] = MISSING
    rows["m0005"] = "not-a-customer"
    tag_model(wh, rows)
    report, _ = shop.sync(
        wh, "check", "customer_tags", {"id": "customer"}, {"tags": ["chk"]}, Mode.UPSERT
    )
    assert report.landed["add"] == 8 and report.rejected == 2
    reasons = dict(report.rejected_samples)
    assert reasons["m0003"] == "Shopify: id: Resource not found"
    assert "'not-a-customer' is neither a number nor gid://shopify/Customer/N" in reasons["m0005"]
    good = {
        v if v.startswith("gid:") else gid(v)
        for k, v in rows.items()
        if k not in ("m0003", "m0005")
    }
    assert shop.tagged("chk") == good
    again, counts = shop.sync(
        wh, "check", "customer_tags", {"id": "customer"}, {"tags": ["chk"]}, Mode.UPSERT
    )
    assert again.plan.retries == 2 and again.rejected == 2 and counts == {"requests": 1}
    state = wh.query(
        f'SELECT record_key, attempts, remote_id FROM "{wh.schema_prefix}_podium".sync_state'
        " WHERE sync = 'check' AND status = 'rejected' ORDER BY record_key"
    )
    assert [(r[0], r[1]) for r in state] == [("m0003", 2), ("m0005", 2)]


def test_a_large_batch_goes_as_one_bulk_mutation(shop: Shop, wh: WarehouseSql) -> None:
    ids = shop.ids[:1_200]
    rows = {str(n): str(n) for n in ids}
    rows["0-missing"] = MISSING
    tag_model(wh, rows)
    assert len(rows) > BULK_THRESHOLD
    report, counts = shop.sync(
        wh, "bulk", "customer_tags", {"id": "customer"}, {"tags": ["bulky"]}, Mode.MIRROR
    )
    assert counts["bulk_operations"] == 1
    # stage, upload, run, polls (the simulator finishes on the 2nd), download
    assert counts["requests"] <= 7
    assert report.landed["add"] == 1_200 and report.rejected == 1
    assert dict(report.rejected_samples) == {"0-missing": "Shopify: id: Resource not found"}
    assert shop.tagged("bulky") == {gid(n) for n in ids}


# -- customer_metafields ---------------------------------------------------------------------
METAFIELDS = {"ltv": "ltv", "segment": "segment", "scores": "scores"}
TYPES = {"ltv": "number_decimal", "scores": "json"}


def metafield_model(sql: WarehouseSql, ids: Sequence[int], changed: Sequence[int] = ()) -> None:
    """``marts.model``: a customer id ``k`` and its ltv, segment and scores (derived from
    the id; the ``changed`` customers' ltv a cent higher)."""
    sql.execute(
        f"CREATE OR REPLACE TABLE {model(sql)}"
        " (k VARCHAR, ltv DECIMAL(12,2), segment VARCHAR, scores VARCHAR)"
    )
    values = [
        (str(n), f"{n % 1000}.5{int(n in changed)}", f"seg-{n % 7}", json.dumps({"c": n % 97}))
        for n in ids
    ]
    marks = ", ".join("(?, CAST(? AS DECIMAL(12,2)), ?, ?)" for _ in values)
    sql.execute(f"INSERT INTO {model(sql)} VALUES {marks}", [v for row in values for v in row])


def metafields_held(shop: Shop, namespace: str) -> dict[str, dict[str, str]]:
    return {
        g.rsplit("/", 1)[-1]: {
            k.split(".", 1)[1]: m["value"]
            for k, m in held["metafields"].items()
            if k.startswith(namespace + ".")
        }
        for g, held in shop.truth().items()
        if any(k.startswith(namespace + ".") for k in held["metafields"])
    }


def metafields_wanted(sql: WarehouseSql) -> dict[str, dict[str, str]]:
    rows = sql.query(f"SELECT k, CAST(ltv AS VARCHAR), segment, scores FROM {model(sql)}")
    return {r[0]: {"ltv": r[1], "segment": r[2], "scores": r[3]} for r in rows}


def test_customer_metafields_follow_the_model_and_a_1pct_change_takes_one_request(
    shop: Shop, wh: WarehouseSql
) -> None:
    ids = shop.ids[1300:1805]
    options = {"namespace": "warehouse", "types": TYPES}
    metafield_model(wh, ids[:MODEL])
    first, counts = shop.sync(wh, "mf", "customer_metafields", METAFIELDS, options, Mode.UPSERT)
    assert first.landed["add"] == MODEL and first.rejected == 0
    assert counts == {"requests": 2}  # 8 customers (24 metafields) a call, 50 calls a request
    assert metafields_held(shop, "warehouse") == metafields_wanted(wh)
    metafield_model(wh, ids[2 : MODEL + 2], ids[100:103])  # 2 new, 3 changed (2 left)
    second, counts = shop.sync(wh, "mf", "customer_metafields", METAFIELDS, options, Mode.UPSERT)
    assert (second.landed["add"], second.landed["update"]) == (2, 3)
    assert counts == {"requests": 1}  # 5 customers, 15 metafields: one metafieldsSet call
    held, wanted = metafields_held(shop, "warehouse"), metafields_wanted(wh)
    assert {k: held[k] for k in wanted} == wanted
    assert set(held) - set(wanted) == {str(ids[0]), str(ids[1])}  # upsert: they keep theirs


def test_customer_metafields_survive_throttling_5xx_and_a_cut_answer(
    shop: Shop, wh: WarehouseSql
) -> None:
    ids = shop.ids[1900:2400]
    shop.sim.throttle_storm(3)
    shop.sim.internal_errors(1)
    shop.sandbox.server.set_faults("shopify", Faults(errors=When.at(2), truncate=When.at(5)))
    options = {"namespace": "faulty", "types": TYPES}
    metafield_model(wh, ids[:400])
    first, counts = shop.sync(wh, "mff", "customer_metafields", METAFIELDS, options, Mode.UPSERT)
    assert first.landed["add"] == 400 and first.rejected == 0
    assert counts["requests"] == 1 + counts["retries"]  # 50 calls of 8 customers: 1 request
    assert counts["retries"] >= 3 + 1 + 1  # the storm, the internal error, the 503
    metafield_model(wh, ids[:400], ids[396:400])
    second, counts = shop.sync(wh, "mff", "customer_metafields", METAFIELDS, options, Mode.UPSERT)
    assert second.landed["update"] == 4 and second.rejected == 0
    assert counts == {"requests": 1}
    assert metafields_held(shop, "faulty") == metafields_wanted(wh)


def test_a_bad_metafield_rejects_its_customer_only(shop: Shop, wh: WarehouseSql) -> None:
    ids = shop.ids[2300:2320]
    wh.execute(f"CREATE OR REPLACE TABLE {model(wh)} (k VARCHAR, num VARCHAR, txt VARCHAR)")
    rows = [(str(n), str(i), f"s{i}") for i, n in enumerate(ids)]
    rows[4] = (rows[4][0], "1.5", "s4")  # not a number_integer
    rows[9] = (MISSING, "9", "s9")
    wh.execute(
        f"INSERT INTO {model(wh)} VALUES " + ", ".join("(?, ?, ?)" for _ in rows),
        [v for row in rows for v in row],
    )
    options = {"namespace": "checks", "types": {"num": "number_integer"}}
    fields = {"num": "num", "txt": "txt"}
    report, counts = shop.sync(wh, "bad", "customer_metafields", fields, options, Mode.UPSERT)
    assert report.landed["add"] == 18 and report.rejected == 2, str(report.to_output())
    assert dict(report.rejected_samples) == {
        str(
            ids[4]
        ): "Shopify: metafield checks.num (value): Value is invalid for type number_integer.",
        MISSING: "Shopify: metafield checks.num (ownerId): Owner does not exist.;"
        " metafield checks.txt (ownerId): Owner does not exist.",
    }
    assert counts == {"requests": 2}  # the atomic call refused, the good ones sent again
    held = metafields_held(shop, "checks")
    assert set(held) == {r[0] for i, r in enumerate(rows) if i not in (4, 9)}
    wh.execute(f"UPDATE {model(wh)} SET num = '4' WHERE num = '1.5'")
    again, _ = shop.sync(wh, "bad", "customer_metafields", fields, options, Mode.UPSERT)
    assert again.plan.retries == 2 and again.rejected == 1
    assert metafields_held(shop, "checks")[str(ids[4])] == {"num": "4", "txt": "s4"}


def test_a_large_metafields_batch_goes_in_bulk_a_line_per_customer(
    shop: Shop, wh: WarehouseSql
) -> None:
    ids = shop.ids[1000:2100]
    metafield_model(wh, ids)
    wh.execute(
        f"UPDATE {model(wh)} SET segment = 'two' || chr(10) || 'lines' WHERE k = ?", [str(ids[7])]
    )
    options = {"namespace": "bulkmf", "types": TYPES}
    report, counts = shop.sync(wh, "mfb", "customer_metafields", METAFIELDS, options, Mode.UPSERT)
    assert counts["bulk_operations"] == 1 and counts["requests"] <= 7
    assert report.landed["add"] == 1_099
    assert dict(report.rejected_samples) == {
        str(ids[7]): "Shopify: metafield bulkmf.segment (value):"
        " Value is invalid for type single_line_text_field."
    }
    held, wanted = metafields_held(shop, "bulkmf"), metafields_wanted(wh)
    del wanted[str(ids[7])]
    assert held == wanted


def test_the_destination_is_found_by_type_and_checks_its_options() -> None:
    assert destination_type("shopify") is DESTINATION
    tags = DESTINATION.objects["customer_tags"]
    assert tags.check({}, {"tags": ["vip"]}) == []
    assert tags.check({"email": "email"}, {"tags": ["a,b", ""]})[0].startswith("tags: 'a,b'")
    assert any(p.startswith("fields: ") for p in tags.check({"email": "e"}, {"tags": ["x"]}))
    metafields = DESTINATION.objects["customer_metafields"]
    assert Mode.MIRROR not in metafields.modes
    problems = metafields.check({"x": "c"}, {"namespace": "ns", "types": {"y": "money2"}})
    assert [p.split(":")[0] for p in problems] == ["namespace", "fields", "types", "types"]
    assert DESTINATION.problems({"type": "shopify", "shop": "acme"})[0].startswith("access_token")
