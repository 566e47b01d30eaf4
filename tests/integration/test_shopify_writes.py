"""The Shopify simulator accepts reverse-ETL writes as Shopify documents them, over real
sockets: tagsAdd/tagsRemove, customerUpdate, metafieldsSet (userErrors, the 25 cap,
atomicity), the 10-point mutation cost from the shared bucket and THROTTLED, and a bulk
mutation of 2,000 lines end to end (staged upload, run, poll, result JSONL). Later reads
and the sandbox's ``/_sandbox/truth/shopify-writes`` see what was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from graphql import OperationDefinitionNode, parse
from tests.integration.test_shopify_spec import selected

from podium.sandbox.brand import EXAMPLE_START, BrandConfig
from podium.sandbox.service import Sandbox, start_sandbox
from podium.sandbox.shopify import DEMO_CREDENTIALS
from podium.sandbox.shopify.executor import admin_schema

TOKEN = DEMO_CREDENTIALS["access_token"]
TAGS_ADD = (
    "mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) "
    "{ node { id ... on Customer { tags } } userErrors { field message } } }"
)
TAGS_REMOVE = (
    "mutation($id: ID!, $tags: [String!]!) { tagsRemove(id: $id, tags: $tags) "
    "{ node { id } userErrors { field message } } }"
)
UPDATE = (
    "mutation($input: CustomerInput!) { customerUpdate(input: $input) "
    "{ customer { id email phone note tags } userErrors { field message } } }"
)
SET = (
    "mutation($metafields: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $metafields) "
    "{ metafields { key namespace value type } userErrors { field message code elementIndex } } }"
)
READ = (
    "query($id: ID!) { node(id: $id) { ... on Customer { id email tags note updatedAt "
    "metafields(first: 10) { nodes { namespace key type value } } } } }"
)


class Shop:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox, self.url = sandbox, sandbox.url_for("shopify")
        self.sim = sandbox.simulator("shopify")
        now = sandbox.clock.now()
        self.customers = [c for c in sandbox.brand.customers if c.created_at <= now]

    def gid(self, index: int) -> str:
        return f"gid://shopify/Customer/{self.customers[index].id}"

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer, checked to hold exactly what was asked (the request is validated
        against Shopify's SDL by the simulator; errors would show)."""
        response = httpx.post(
            f"{self.url}/admin/api/2022-07/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": TOKEN},
            timeout=30,
        )
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        if "data" in body and body["data"] is not None and "errors" not in body:
            definition = parse(query).definitions[0]
            assert isinstance(definition, OperationDefinitionNode)
            selected(definition.selection_set, body["data"])
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables)
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]
        return found

    def read(self, index: int) -> dict[str, Any]:
        node: dict[str, Any] = self.data(READ, {"id": self.gid(index)})["node"]
        return node

    def truth(self) -> dict[str, Any]:
        held: dict[str, Any] = httpx.get(self.sandbox.url + "/_sandbox/truth/shopify-writes").json()
        return held["customers"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = BrandConfig(start=EXAMPLE_START, days=3, customers=2_400, dtc_orders_per_day=5)
    options = {"shopify": {"restore_rate": 100_000.0, "bulk_polls": 2}}
    with start_sandbox(config=config, apis=["shopify"], options=options) as running:
        yield running


@pytest.fixture
def shop(sandbox: Sandbox) -> Shop:
    return Shop(sandbox)


def test_the_mutations_podium_needs_are_in_the_sdl() -> None:
    mutation = admin_schema().mutation_type
    assert mutation is not None
    for name in ("tagsAdd", "tagsRemove", "customerUpdate", "metafieldsSet"):
        assert name in mutation.fields
    assert {"stagedUploadsCreate", "bulkOperationRunMutation"} <= set(mutation.fields)


def test_tags_add_is_idempotent_and_remove_takes_them_away(shop: Shop) -> None:
    target = shop.gid(0)
    added = shop.data(TAGS_ADD, {"id": target, "tags": ["vip", "ltv-high"]})["tagsAdd"]
    assert added == {"node": {"id": target, "tags": ["ltv-high", "vip"]}, "userErrors": []}
    first = shop.read(0)
    again = shop.data(TAGS_ADD, {"id": target, "tags": "vip, ltv-high"})["tagsAdd"]
    assert again["userErrors"] == [] and again["node"]["tags"] == ["ltv-high", "vip"]
    assert shop.read(0) == first  # nothing changed, updatedAt included
    removed = shop.data(TAGS_REMOVE, {"id": target, "tags": ["vip", "never-there"]})
    assert removed["tagsRemove"] == {"node": {"id": target}, "userErrors": []}
    assert shop.read(0)["tags"] == ["ltv-high"]
    assert shop.truth()[target]["tags"] == ["ltv-high"]


def test_tags_on_a_missing_customer_are_a_user_error(shop: Shop) -> None:
    missing = shop.data(TAGS_ADD, {"id": "gid://shopify/Customer/999999999", "tags": ["x"]})
    assert missing["tagsAdd"] == {
        "node": None,
        "userErrors": [{"field": ["id"], "message": "Resource not found"}],
    }


def test_customer_update_replaces_tags_and_refuses_a_taken_email(shop: Shop) -> None:
    target = shop.gid(1)
    shop.data(TAGS_ADD, {"id": target, "tags": ["old"]})
    values = {"id": target, "tags": ["new"], "note": "from the warehouse", "phone": "+15550001"}
    updated = shop.data(UPDATE, {"input": values})["customerUpdate"]
    assert updated["userErrors"] == []
    assert updated["customer"]["tags"] == ["new"] and updated["customer"]["phone"] == "+15550001"
    read = shop.read(1)
    assert read["tags"] == ["new"] and read["note"] == "from the warehouse"
    taken = shop.customers[2].email
    refused = shop.data(UPDATE, {"input": {"id": target, "email": taken}})["customerUpdate"]
    assert refused == {
        "customer": None,
        "userErrors": [{"field": ["email"], "message": "Email has already been taken"}],
    }
    assert shop.read(1)["email"] == shop.customers[1].email


def test_metafields_set_saves_and_later_reads_see_them(shop: Shop) -> None:
    target = shop.gid(3)
    fields = [
        {
            "ownerId": target,
            "namespace": "warehouse",
            "key": "ltv",
            "type": "number_decimal",
            "value": "1234.50",
        },
        {
            "ownerId": target,
            "namespace": "warehouse",
            "key": "scores",
            "type": "json",
            "value": '{"churn":0.12}',
        },
    ]
    saved = shop.data(SET, {"metafields": fields})["metafieldsSet"]
    assert saved["userErrors"] == [] and [m["key"] for m in saved["metafields"]] == [
        "ltv",
        "scores",
    ]
    fields[0]["value"] = "99.00"  # the same namespace and key: an update
    shop.data(SET, {"metafields": fields[:1]})
    nodes = shop.read(3)["metafields"]["nodes"]
    assert {(n["key"], n["value"]) for n in nodes} == {
        ("ltv", "99.00"),
        ("scores", '{"churn":0.12}'),
    }
    held = shop.truth()[target]["metafields"]
    assert held["warehouse.ltv"] == {"type": "number_decimal", "value": "99.00"}
    one = 'query($id: ID!) { node(id: $id) { ... on Customer { metafield(namespace: "warehouse", key: "ltv") { value } } } }'
    assert shop.data(one, {"id": target})["node"]["metafield"] == {"value": "99.00"}


def test_customer_update_sets_metafields_and_refuses_what_it_does_not_model(shop: Shop) -> None:
    target = shop.gid(8)
    field = {"namespace": "warehouse", "key": "segment", "type": "single_line_text_field"}
    values = {"id": target, "metafields": [{**field, "value": "vip"}]}
    assert shop.data(UPDATE, {"input": values})["customerUpdate"]["userErrors"] == []
    assert shop.truth()[target]["metafields"]["warehouse.segment"]["value"] == "vip"
    bad = {"id": target, "note": "n", "metafields": [{**field, "value": "a\nb"}]}
    refused = shop.data(UPDATE, {"input": bad})["customerUpdate"]
    assert refused["userErrors"] == [  # a UserError: no code
        {
            "field": ["metafields", "0", "value"],
            "message": "Value is invalid for type single_line_text_field.",
        }
    ]
    assert shop.read(8)["note"] is None  # nothing of the refused update was applied
    taxed = shop.data(UPDATE, {"input": {"id": target, "taxExempt": True}})["customerUpdate"]
    assert taxed["userErrors"] == [
        {"field": ["taxExempt"], "message": "the simulator does not update taxExempt"}
    ]


def test_metafields_set_is_atomic_and_names_each_bad_element(shop: Shop) -> None:
    target = shop.gid(4)
    fields = [
        {
            "ownerId": target,
            "namespace": "warehouse",
            "key": "ok",
            "type": "boolean",
            "value": "true",
        },
        {
            "ownerId": target,
            "namespace": "warehouse",
            "key": "n",
            "type": "number_integer",
            "value": "1.5",
        },
        {
            "ownerId": "gid://shopify/Customer/999999999",
            "namespace": "warehouse",
            "key": "ltv",
            "type": "number_decimal",
            "value": "abc",
        },
    ]
    refused = shop.data(SET, {"metafields": fields})["metafieldsSet"]
    codes = [(e["elementIndex"], e["field"][-1], e["code"]) for e in refused["userErrors"]]
    assert codes == [
        (1, "key", "TOO_SHORT"),
        (1, "value", "INVALID_VALUE"),
        (2, "ownerId", "INVALID_VALUE"),
        (2, "value", "INVALID_VALUE"),
    ]
    assert refused["userErrors"][0]["field"] == ["metafields", "1", "key"]
    assert shop.read(4)["metafields"]["nodes"] == []  # nothing saved, not even element 0


def test_metafields_set_refuses_more_than_25(shop: Shop) -> None:
    one = {
        "ownerId": shop.gid(5),
        "namespace": "warehouse",
        "type": "single_line_text_field",
        "value": "v",
    }
    fields = [{**one, "key": f"key{i}"} for i in range(26)]
    refused = shop.data(SET, {"metafields": fields})["metafieldsSet"]
    assert refused["metafields"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["LESS_THAN_OR_EQUAL_TO"]
    assert shop.read(5)["metafields"]["nodes"] == []
    assert shop.data(SET, {"metafields": fields[:25]})["metafieldsSet"]["userErrors"] == []


def test_a_mutation_costs_10_points_from_the_shared_bucket(shop: Shop) -> None:
    body = shop.post(TAGS_ADD, {"id": shop.gid(6), "tags": ["a"]})
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 and cost["actualQueryCost"] == 10
    sim = shop.sim
    sim.restore_rate, sim._available = 0.0, 15.0  # noqa: SLF001 - an emptying bucket
    try:
        assert "errors" not in shop.post(TAGS_ADD, {"id": shop.gid(6), "tags": ["b"]})
        throttled = shop.post(TAGS_ADD, {"id": shop.gid(6), "tags": ["c"]})
        assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert "data" not in throttled
        assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 5
        read = shop.post(READ, {"id": shop.gid(6)})  # queries draw on the same bucket
        assert read["errors"][0]["extensions"]["code"] == "THROTTLED"
    finally:
        sim.restore_rate = 100_000.0
    assert shop.read(6)["tags"] == ["a", "b"]  # the throttled one was not applied


STAGE = (
    "mutation($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { "
    "stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }"
)
RUN = (
    "mutation($mutation: String!, $path: String!) { bulkOperationRunMutation("
    "mutation: $mutation, stagedUploadPath: $path) { bulkOperation { id status } "
    "userErrors { field message code } } }"
)
POLL = "{ currentBulkOperation(type: MUTATION) { id status errorCode objectCount url type } }"


def stage(shop: Shop, lines: list[dict[str, Any]]) -> str:
    """Stages a JSONL file of ``lines`` as Shopify's CLI does; its stagedUploadPath."""
    given = {
        "resource": "BULK_MUTATION_VARIABLES",
        "filename": "vars.jsonl",
        "mimeType": "text/jsonl",
        "httpMethod": "POST",
    }
    staged = shop.data(STAGE, {"input": [given]})["stagedUploadsCreate"]
    assert staged["userErrors"] == []
    (target,) = staged["stagedTargets"]
    form = {p["name"]: p["value"] for p in target["parameters"]}
    body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
    uploaded = httpx.post(target["url"], data=form, files={"file": ("vars.jsonl", body)})
    assert uploaded.status_code == 201, uploaded.text
    return form["key"]


def test_a_bulk_mutation_of_2000_lines_changes_exactly_those_customers(shop: Shop) -> None:
    chosen = list(range(100, 2_100))
    lines = [{"id": shop.gid(i), "tags": ["bulk-synced"]} for i in chosen]
    lines[7] = {"id": "gid://shopify/Customer/999999999", "tags": ["bulk-synced"]}
    path = stage(shop, lines)
    run = shop.data(RUN, {"mutation": TAGS_ADD, "path": path})["bulkOperationRunMutation"]
    assert run["userErrors"] == [] and run["bulkOperation"]["status"] == "CREATED"
    second = shop.data(RUN, {"mutation": TAGS_ADD, "path": path})["bulkOperationRunMutation"]
    assert second["bulkOperation"] is None
    assert [e["code"] for e in second["userErrors"]] == ["OPERATION_IN_PROGRESS"]
    by_node = "query($id: ID!) { node(id: $id) { ... on BulkOperation { id status } } }"
    assert shop.data(by_node, {"id": run["bulkOperation"]["id"]})["node"]["status"] == "RUNNING"
    job = shop.data(POLL)["currentBulkOperation"]
    assert job["status"] == "COMPLETED" and job["type"] == "MUTATION"
    assert job["objectCount"] == "2000"
    results = [orjson.loads(line) for line in httpx.get(job["url"]).content.splitlines()]
    assert [r["__lineNumber"] for r in results] == list(range(2_000))
    failed = [r for r in results if r["data"]["tagsAdd"]["userErrors"]]
    assert [r["__lineNumber"] for r in failed] == [7]
    tagged = {g for g, held in shop.truth().items() if "bulk-synced" in held["tags"]}
    assert tagged == {shop.gid(i) for i in chosen if i != 107}
    assert "bulk-synced" in shop.read(100)["tags"] and shop.read(99)["tags"] == []


def test_a_bulk_mutation_refuses_other_mutations_and_missing_files(shop: Shop) -> None:
    path = stage(shop, [{"id": shop.gid(0), "tags": ["x"]}])
    query = (
        'mutation { bulkOperationRunQuery(query: "{ shop { id } }") { userErrors { message } } }'
    )
    wrong = shop.data(RUN, {"mutation": query, "path": path})["bulkOperationRunMutation"]
    assert [e["code"] for e in wrong["userErrors"]] == ["INVALID_MUTATION"]
    missing = shop.data(RUN, {"mutation": TAGS_ADD, "path": "tmp/nowhere"})
    assert [e["code"] for e in missing["bulkOperationRunMutation"]["userErrors"]] == [
        "NO_SUCH_FILE"
    ]


def test_a_bulk_line_with_bad_variables_gets_errors_and_the_rest_run(shop: Shop) -> None:
    path = stage(shop, [{"tags": ["no-id"]}, {"id": shop.gid(9), "tags": ["line-1"]}])
    run = shop.data(RUN, {"mutation": TAGS_ADD, "path": path})["bulkOperationRunMutation"]
    assert run["userErrors"] == []
    while (job := shop.data(POLL)["currentBulkOperation"])["status"] != "COMPLETED":
        assert job["status"] == "RUNNING"
    first, second = [orjson.loads(line) for line in httpx.get(job["url"]).content.splitlines()]
    assert "data" not in first and first["__lineNumber"] == 0
    assert "$id" in first["errors"][0]["message"]
    assert second["data"]["tagsAdd"]["userErrors"] == [] and second["__lineNumber"] == 1
    assert shop.truth()[shop.gid(9)]["tags"] == ["line-1"]
