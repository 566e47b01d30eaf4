"""The API says what it takes and answers what it says: ``/openapi.json`` documents every
route's errors, and bad input gets a 4xx naming the field, never a 500.

(The live fuzzing of all of it is ``tests/e2e/test_api_fuzz.py``; these are the cases,
spelled out, that the fuzzers found.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.live_app import make_user, serve
from podium.core.workflow import EngineSettings, Project, Task, Workflow
from podium.engine import services
from podium.server.api import create_app
from podium.store.database import Database, open_database
from podium.webhooks import inbox

SECRET = "whsec-contract-0123456789"


@dataclass
class Api:
    url: str
    db: Database
    project: Project
    http: httpx.Client
    schema: dict[str, Any]
    guarded: set[tuple[str, str]]  # (path, method) of each route behind access control


def contract_project(root: Path) -> Project:
    hello = Workflow("hello", (Task("greet", "shell", "echo hi"),), params={"days": 1})
    return Project(
        root=str(root),
        store_url=f"sqlite:///{root}/state.db",
        pools={},
        engine=EngineSettings(),
        workflows={"hello": hello, "bare": Workflow("bare", (Task("t", "shell", "true"),))},
        connections={
            "shop": {"type": "webhook", "webhooks": {"verify": "shopify", "secret": SECRET}}
        },
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    project = contract_project(tmp_path_factory.mktemp("contract"))
    db = open_database(project.store_url)
    token = make_user(db, "ada", "admin")
    with serve(create_app(project, db, lambda: None)) as url:
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        schema = http.get("/openapi.json").json()
        yield Api(url, db, project, http, schema, guarded_routes(url, schema))
        http.close()
    db.close()


def guarded_routes(url: str, schema: dict[str, Any]) -> set[tuple[str, str]]:
    """The documented operations that refuse a caller without credentials (401)."""
    found = set()
    with httpx.Client(base_url=url, timeout=10) as anonymous:
        for path, method, _ in operations(schema):
            if not path.startswith("/api/"):
                continue  # the webhook receiver's 401 is a bad signature, not a log-in
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            if anonymous.request(method.upper(), concrete, json={}).status_code == 401:
                found.add((path, method))
    return found


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


# -- the schema --------------------------------------------------------------------------------


def test_every_api_route_documents_its_errors_with_the_error_body(api: Api) -> None:
    assert len(api.guarded) >= 14, api.guarded
    guarded = api.guarded
    for path, method, operation in operations(api.schema):
        codes = set(operation["responses"])
        assert "422" not in codes, (path, method)  # podium answers 400, and documents it
        if (path, method) not in guarded:
            assert "security" not in operation, (path, method)
            continue
        assert {"400", "401", "403", "503"} <= codes, (path, method, codes)
        assert operation["security"] == [{"bearer": []}], (path, method)
        if "{" in path:
            assert "404" in codes, (path, method, codes)
        for code in codes - {"200", "201", "202"}:
            body = operation["responses"][code]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, code)
    retry = api.schema["paths"]["/api/runs/{run_id}/retry"]["post"]["responses"]
    assert "409" in retry
    assert api.schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_schema_says_exactly_which_params_each_workflow_takes(api: Api) -> None:
    paths = api.schema["paths"]
    assert "/api/workflows/{name}/runs" not in paths
    body = paths["/api/workflows/hello/runs"]["post"]["requestBody"]["content"]
    params = body["application/json"]["schema"]["properties"]["params"]
    assert list(params["properties"]) == ["days"] and params["additionalProperties"] is False
    bare = paths["/api/workflows/bare/runs"]["post"]["requestBody"]["content"]
    assert bare["application/json"]["schema"]["properties"]["params"]["properties"] == {}
    links = paths["/api/workflows/hello/runs"]["post"]["responses"]["201"]["links"]
    assert links["GetRun"]["parameters"] == {"run_id": "$response.body#/run_id"}


def test_the_webhook_receiver_is_documented_per_connection(api: Api) -> None:
    receiver = api.schema["paths"]["/webhooks/shop"]["post"]
    assert "security" not in receiver  # public: the signature is the proof
    assert [p["name"] for p in receiver["parameters"]] == ["X-Shopify-Hmac-Sha256"]
    assert set(receiver["responses"]) == {"200", "400", "401", "404", "413", "503"}


def test_filters_are_enumerated_and_bounded(api: Api) -> None:
    parameters = {p["name"]: p for p in api.schema["paths"]["/api/runs"]["get"]["parameters"]}
    assert parameters["offset"]["schema"]["maximum"] == 1_000_000_000
    status = api.schema["paths"]["/api/webhooks"]["get"]["parameters"]
    chosen = next(p for p in status if p["name"] == "status")["schema"]["anyOf"][0]
    enum = api.schema["components"]["schemas"][chosen["$ref"].rsplit("/", 1)[1]]["enum"]
    assert enum == list(inbox.STATUSES)


# -- the answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/runs?offset=72469233090226661325558251520", "query parameter offset"),
        ("/api/runs?offset=-1", "query parameter offset"),
        ("/api/runs?status=done", "query parameter status"),
        ("/api/webhooks?offset=99999999999999999999", "query parameter offset"),
        ("/api/webhooks/99999999999999999999999", "path parameter inbox_id"),
        ("/api/webhooks/0", "path parameter inbox_id"),
        ("/api/webhooks?status=gone", "query parameter status"),
        ("/api/events?limit=0", "query parameter limit"),
    ],
)
def test_bad_queries_get_a_400_naming_the_field(api: Api, path: str, field: str) -> None:
    response = api.http.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(f"bad request: {field}: "), response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/workflows/hello/runs", {"params": {}, "param": {"days": 2}}, "body field param"),
        ("/api/events", {"name": "x", "payloads": {}}, "body field payloads"),
        ("/api/events", {"name": "a\x00b"}, "body field name"),
        ("/api/runs/nope/retry", {"failed_only": 0}, "body field failed_only"),
    ],
)
def test_bodies_with_unknown_or_loose_fields_are_refused(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    response = api.http.post(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(f"bad request: {field}: "), response.text


def test_deeply_nested_json_is_refused_before_it_is_stored(api: Api) -> None:
    # a 900-level payload was stored, and from then on every listing of events answered 500
    deep: Any = 1
    for _ in range(900):
        deep = {"a": deep}
    for path, body in (
        ("/api/events", {"name": "deep", "payload": deep}),
        ("/api/workflows/hello/runs", {"params": {"days": deep}}),
    ):
        response = api.http.post(path, json=body)
        assert response.status_code == 400, response.text
        assert "nests more than 32 levels deep" in response.json()["error"]
    assert api.http.get("/api/events").status_code == 200


def test_a_nul_in_the_url_is_refused_with_400_not_a_store_error(api: Api) -> None:
    for path in ("/api/runs/a%00b", "/api/runs?workflow=%00", "/api/events?run_id=x%00"):
        response = api.http.get(path)
        assert response.status_code == 400, (path, response.text)
        assert "NUL character" in response.json()["error"]
    page = api.http.get("/runs?workflow=%00")
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]


@pytest.mark.parametrize("name", ["RunFinished", "runfinished", "AssetUpdated ", "TASKLATE"])
def test_a_custom_event_may_not_take_the_name_of_podiums_own_events(api: Api, name: str) -> None:
    before = api.db.read().fetchone("SELECT COUNT(*) FROM events")
    payload = {"workflow": "hello", "status": "succeeded"}
    response = api.http.post("/api/events", json={"name": name, "payload": payload})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("bad request: body field name: "), error
    assert "podium's system event" in error and "choose another name" in error
    assert api.db.read().fetchone("SELECT COUNT(*) FROM events") == before  # nothing stored


def test_a_posted_event_answers_the_seq_it_was_stored_under(api: Api) -> None:
    response = api.http.post("/api/events", json={"name": "orders_dropped", "payload": {"n": 7}})
    assert response.status_code == 202, response.text
    seq = response.json()["seq"]
    row = api.db.read().fetchone("SELECT type, payload FROM events WHERE seq = ?", (seq,))
    assert row == ("orders_dropped", '{"n":7}')


def test_not_now_is_409_and_wrong_method_lists_every_allowed_one(api: Api) -> None:
    run_id = services.start_run(api.db, api.project, "hello", {})
    busy = api.http.post(f"/api/runs/{run_id}/retry", json={})
    assert busy.status_code == 409 and "still queued" in busy.json()["error"], busy.text
    wrong = api.http.delete("/api/events")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST"
    inbox_wrong = api.http.put("/api/webhooks/1")  # a route of an included router
    assert inbox_wrong.status_code == 405 and inbox_wrong.headers["allow"] == "GET"
    assert wrong.json()["error"].startswith("Method Not Allowed")
    unknown = api.http.get("/api/nothing-here")
    assert unknown.status_code == 404 and "see /docs" in unknown.json()["error"]
    unparsable = api.http.post(
        "/api/events", content=b"\xff\xfe", headers={"content-type": "application/json"}
    )
    assert unparsable.status_code == 400 and set(unparsable.json()) == {"error"}
