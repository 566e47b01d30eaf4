"""The Klaviyo simulator's write side, over real sockets: what a reverse-ETL sync sends.

Every request and answer is checked against Klaviyo's OpenAPI (``klaviyo_openapi.py``)
under each supported revision; Klaviyo's own SDK (``klaviyo-api`` 24.0.0) creates, imports
and bulk-imports profiles and moves list members; the rate limits of the write operations
are the spec's and trip exactly there; bad input gets Klaviyo's error shape with a
pointer; ``written_state()`` is the ground truth a sync test compares with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.models import (
    ListMembersAddQuery,
    ListMembersDeleteQuery,
    ProfileCreateQuery,
    ProfileImportJobCreateQuery,
    ProfilePartialUpdateQuery,
    ProfileUpsertQuery,
)

from klaviyo_openapi import (
    ADDED_IN,
    REVISIONS,
    SPEC_REVISION,
    Recorder,
    check_request,
    check_response,
    operation,
    ratelimit,
)
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.klaviyo import DEMO_API_KEY, KlaviyoSimulator
from podium.sandbox.klaviyo.limits import ENDPOINT_TIERS, TIERS, FixedWindows, tiers_for
from podium.sandbox.klaviyo.revisions import WRITE_PARAMETERS
from podium.sandbox.klaviyo.write_api import ROUTES
from podium.sandbox.paging import Request
from podium.sandbox.server import SandboxServer

PREFIX = "klaviyo"


class FrozenTime:
    """The rate limiter's clock, moved by the test: windows never roll by accident."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def brand() -> Brand:
    return Brand(BrandConfig(start=EXAMPLE_START, days=10, customers=40, dtc_orders_per_day=3))


@pytest.fixture
def world(brand: Brand) -> Iterator[tuple[httpx.Client, Recorder, FrozenTime]]:
    clock = SimClock(brand.config.start_at + timedelta(days=9))
    app = KlaviyoSimulator(brand, clock)
    time = FrozenTime()
    app.limits = FixedWindows(tiers_for(), (1.0, 60.0), clock=time)
    recorder = Recorder(app)
    with SandboxServer({PREFIX: recorder}) as server, httpx.Client(
        base_url=server.url_for(PREFIX), timeout=10
    ) as client:  # fmt: skip
        yield client, recorder, time


def call(
    client: httpx.Client, method: str, path: str, body: Any = None, revision: str = SPEC_REVISION,
    params: dict[str, str] | None = None,
) -> httpx.Response:  # fmt: skip
    headers = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": revision,
               "Content-Type": "application/vnd.api+json"}  # fmt: skip
    content = None if body is None else orjson.dumps(body)
    return client.request(method, path, content=content, headers=headers, params=params)


def problems_with(exchanges: list[tuple[Request, Answer]]) -> list[str]:
    found = []
    for request, answer in exchanges:
        where = f"{request.method} {request.path}"
        found += [f"request {where}: {p}" for p in check_request(
            request.method, request.path, request.params, request.headers, request.body)]  # fmt: skip
        if answer.status == 204:
            found += [f"answer 204 to {where} has a body"] if answer.body else []
            continue
        found += [f"answer {answer.status} to {where}: {p}" for p in check_response(
            request.method, request.path, answer.status, answer.body)]  # fmt: skip
    return found


def profile(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": attributes}}


def bulk(profiles: list[dict[str, Any]], list_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "profile-bulk-import-job", "attributes": {"profiles": {
        "data": [{"type": "profile", "attributes": a} for a in profiles]}}}  # fmt: skip
    if list_id:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return {"data": data}


def error_of(response: httpx.Response) -> dict[str, Any]:
    [error] = response.json()["errors"]
    assert {"id", "status", "code", "title", "detail", "source"} <= error.keys()
    assert error["status"] == response.status_code
    return dict(error)


# -- every write, against the spec, under each revision ---------------------------------
@pytest.mark.parametrize("revision", REVISIONS)
def test_every_write_and_answer_is_what_the_spec_declares(
    world: tuple[httpx.Client, Recorder, FrozenTime], brand: Brand, revision: str
) -> None:
    client, recorder, _ = world
    app = recorder.app
    newsletter, vip = (lid for lid, _ in app.model.lists)
    known = brand.customers[0]

    created = call(client, "POST", "/api/profiles/", profile(
        email="ada@example.com", external_id="wh-1", properties={"tier": "gold"}), revision)  # fmt: skip
    assert created.status_code == 201, created.text
    ada = created.json()["data"]["id"]
    again = call(client, "POST", "/api/profiles/", profile(email=known.email), revision)
    assert again.status_code == 409
    assert error_of(again)["meta"]["duplicate_profile_id"] == app.state.holder(
        "email", known.email, app.clock.now())  # fmt: skip
    patched = call(client, "PATCH", f"/api/profiles/{ada}/", {"data": {
        "type": "profile", "id": ada, "attributes": {"first_name": "Ada", "external_id": None},
        "meta": {"patch_properties": {"append": {"skus": "TEE-M"}}}}}, revision)  # fmt: skip
    assert patched.status_code == 200, patched.text
    updated = call(client, "POST", "/api/profile-import/",
                   profile(email=known.email, properties={"ltv_band": "high"}), revision)  # fmt: skip
    assert updated.status_code == 200
    fresh = call(client, "POST", "/api/profile-import/", profile(
        phone_number="+15005550006", external_id="wh-2"), revision)  # fmt: skip
    assert fresh.status_code == 201

    job = call(client, "POST", "/api/profile-bulk-import-jobs/", bulk(
        [{"email": "grace@example.com"}, {"email": "not-an-email"},
         {"email": known.email, "last_name": "Known"}], vip), revision)  # fmt: skip
    assert job.status_code == 202, job.text
    jid = job.json()["data"]["id"]
    statuses = [job.json()["data"]["attributes"]["status"]] + [
        call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/", None, revision)
        .json()["data"]["attributes"]["status"] for _ in range(3)]  # fmt: skip
    assert statuses == ["queued", "processing", "complete", "complete"]
    errors = call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/import-errors/",
                  None, revision).json()["data"]  # fmt: skip
    assert [e["attributes"]["source"]["pointer"] for e in errors] == [
        "/data/attributes/profiles/data/1/attributes/email"
    ]
    assert errors[0]["attributes"]["original_payload"]["attributes"]["email"] == "not-an-email"
    touched = call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/relationships/profiles/",
                   None, revision).json()["data"]  # fmt: skip
    lists = call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/relationships/lists/",
                 None, revision).json()["data"]  # fmt: skip
    assert len(touched) == 2 and lists == [{"type": "list", "id": vip}]

    members = {"data": [{"type": "profile", "id": ada}]}
    assert call(client, "POST", f"/api/lists/{newsletter}/relationships/profiles/", members,
                revision).status_code == 204  # fmt: skip
    assert call(client, "DELETE", f"/api/lists/{vip}/relationships/profiles/",
                {"data": [touched[0]]}, revision).status_code == 204  # fmt: skip
    page = call(client, "GET", f"/api/lists/{vip}/relationships/profiles/", None, revision,
                {"page[size]": "100"}).json()["data"]  # fmt: skip
    assert page == [touched[1]]

    read = call(client, "GET", f"/api/profiles/{ada}/", None, revision).json()["data"]
    assert read["attributes"]["properties"] == {"tier": "gold", "skus": ["TEE-M"]}

    assert problems_with(recorder.exchanges) == []
    assert len(recorder.exchanges) == 16
    state = app.written_state()
    assert state["profiles"][ada]["first_name"] == "Ada"
    assert "external_id" not in state["profiles"][ada]  # null cleared it
    assert state["profiles"][ada]["properties"] == {"tier": "gold", "skus": ["TEE-M"]}
    known_id = touched[1]["id"]
    assert state["profiles"][known_id]["properties"] == {"ltv_band": "high"}
    assert state["profiles"][known_id]["last_name"] == "Known"
    assert ada in state["lists"][newsletter] and state["lists"][vip] == [known_id]


# -- Klaviyo's own SDK ------------------------------------------------------------------
def test_klaviyos_own_sdk_writes_to_the_simulator(
    world: tuple[httpx.Client, Recorder, FrozenTime], brand: Brand
) -> None:
    client, recorder, _ = world
    klaviyo = KlaviyoAPI(
        DEMO_API_KEY, max_delay=1, max_retries=0, test_host=str(client.base_url).rstrip("/")
    )
    profiles = klaviyo.Profiles
    made = profiles.create_profile(ProfileCreateQuery.from_dict(
        profile(email="sdk@example.com", first_name="Sdk", location={"city": "Oslo"})))  # fmt: skip
    pid = made.data.id
    assert made.data.attributes.email == "sdk@example.com"
    upserted = profiles.create_or_update_profile(ProfileUpsertQuery.from_dict(
        profile(email="sdk@example.com", phone_number="+4799999999")))  # fmt: skip
    assert upserted.data.id == pid and upserted.data.attributes.phone_number == "+4799999999"
    renamed = profiles.update_profile(pid, ProfilePartialUpdateQuery.from_dict({"data": {
        "type": "profile", "id": pid, "attributes": {"last_name": "Kit"}}}))  # fmt: skip
    assert renamed.data.attributes.last_name == "Kit"

    vip = recorder.app.model.lists[1][0]
    rows = [{"email": f"bulk{n}@example.com", "external_id": f"b{n}"} for n in range(250)]
    job = profiles.bulk_import_profiles(ProfileImportJobCreateQuery.from_dict(bulk(rows, vip)))
    status, polls = job.data.attributes.status, 0
    while status != "complete":
        polled = profiles.get_bulk_import_profiles_job(job.data.id)
        status, polls = polled.data.attributes.status, polls + 1
    assert polls == 2 and polled.data.attributes.completed_count == 250
    assert profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data == []

    lists = klaviyo.Lists
    lists.add_profiles_to_list(vip, ListMembersAddQuery.from_dict(
        {"data": [{"type": "profile", "id": pid}]}))  # fmt: skip
    lists.remove_profiles_from_list(vip, ListMembersDeleteQuery.from_dict(
        {"data": [{"type": "profile", "id": pid}]}))  # fmt: skip
    first = lists.get_profile_ids_for_list(vip, page_size=100)
    assert len(first.data) == 100 and first.links.next
    state = recorder.app.written_state()
    assert len(state["lists"][vip]) == 250 and pid not in state["lists"][vip]
    assert state["profiles"][pid]["last_name"] == "Kit"
    assert problems_with(recorder.exchanges) == []


# -- rate limits ------------------------------------------------------------------------
def test_the_write_operations_have_the_specs_rate_limits_and_parameters() -> None:
    for method, pattern, op in ROUTES:
        path = pattern.pattern.strip("^$").removesuffix("/?").replace("(?P<id>[^/]+)", "X1")
        key, spec_op = operation(method, path)
        assert spec_op["operationId"] == op
        tier = TIERS[ENDPOINT_TIERS[op]]
        assert ratelimit(method, path) == {"burst": tier.burst, "steady": tier.steady}, op
        declared = {p["name"] for p in spec_op["parameters"] if p["in"] == "query"}
        assert set(WRITE_PARAMETERS[op]) == declared, op
        later = {n: since for n, since in WRITE_PARAMETERS[op].items() if since != REVISIONS[0]}
        assert later == {
            n: since for (at, n), since in ADDED_IN.items() if at == key and n in declared
        }, op


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/profile-import/", profile(email="rate@example.com")),
    ("POST", "/api/lists/{vip}/relationships/profiles/", {"data": []}),
])  # fmt: skip
def test_writes_trip_at_the_documented_rates(
    world: tuple[httpx.Client, Recorder, FrozenTime], method: str, path: str, body: Any
) -> None:
    client, recorder, time = world
    path = path.format(vip=recorder.app.model.lists[1][0])
    limits = ratelimit(method, path.replace(recorder.app.model.lists[1][0], "{id}"))
    burst = [call(client, method, path, body).status_code for _ in range(limits["burst"] + 1)]
    assert burst[:-1].count(429) == 0 and burst[-1] == 429
    throttled = call(client, method, path, body)
    assert throttled.headers["Retry-After"] == "1" and error_of(throttled)["code"] == "throttled"
    counted = limits["burst"] + 2  # throttled requests count in the minute too
    while counted < limits["steady"]:  # the rest of the minute, a burst per second
        time.now += 1
        for _ in range(min(limits["burst"], limits["steady"] - counted)):
            assert call(client, method, path, body).status_code < 300
            counted += 1
    time.now += 1
    over = call(client, method, path, body)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 1
    assert recorder.app.violations == 3
    assert problems_with(recorder.exchanges[-1:]) == []


# -- bad input ------------------------------------------------------------------------------
def test_bad_input_gets_klaviyos_error_shape_with_a_pointer(
    world: tuple[httpx.Client, Recorder, FrozenTime], brand: Brand
) -> None:
    client, recorder, _ = world
    app = recorder.app
    vip = app.model.lists[1][0]
    cases = [
        (call(client, "POST", "/api/profiles/", profile(email="nope")),
         400, "invalid", "/data/attributes/email"),
        (call(client, "POST", "/api/profile-import/", profile(phone_number="5550006")),
         400, "invalid", "/data/attributes/phone_number"),
        (call(client, "POST", "/api/profiles/", profile(first_name="No identifier")),
         400, "invalid", "/data/attributes"),
        (call(client, "POST", "/api/profiles/", profile(favourite_colour="red")),
         400, "invalid", "/data/attributes/favourite_colour"),
        (call(client, "POST", f"/api/lists/{vip}/relationships/profiles/",
              {"data": [{"type": "profile", "id": f"p{n}"} for n in range(1001)]}),
         400, "invalid", "/data"),
        (call(client, "POST", f"/api/lists/{vip}/relationships/profiles/",
              {"data": [{"type": "profile", "id": "01NOPE"}]}),
         400, "invalid", "/data/0/id"),
        (call(client, "POST", "/api/profile-bulk-import-jobs/",
              bulk([{"email": f"x{n}@example.com"} for n in range(10_001)])),
         400, "invalid", "/data/attributes/profiles/data"),
        (call(client, "POST", "/api/profile-bulk-import-jobs/",
              bulk([{"email": "big@example.com", "properties": {"blob": "x" * 5 * 2**20}}])),
         413, "request_too_large", "/data"),
        (call(client, "PATCH", "/api/profiles/01NOPE/", {"data": {"type": "profile",
              "id": "01NOPE", "attributes": {"first_name": "X"}}}), 404, "not_found", "/data/id"),
    ]  # fmt: skip
    for response, status, code, pointer in cases:
        error = error_of(response)
        assert (response.status_code, error["code"], error["source"]) == (
            status, code, {"pointer": pointer}), response.text  # fmt: skip
    missing = call(client, "GET", "/api/profile-bulk-import-jobs/nope/")
    assert missing.status_code == 404 and error_of(missing)["source"] == {"parameter": "id"}
    answers = [(r, a) for r, a in recorder.exchanges if r.body or r.method == "GET"]
    assert [p for p in problems_with(answers) if p.startswith("answer")] == []
    assert app.written_state()["lists"][vip] == []


def test_identity_rules_decide_between_update_create_and_conflict(
    world: tuple[httpx.Client, Recorder, FrozenTime], brand: Brand
) -> None:
    client, recorder, _ = world
    one, two = brand.customers[0], brand.customers[1]
    # an existing email with a new phone updates that profile's phone
    moved = call(client, "POST", "/api/profile-import/", profile(email=one.email,
                 phone_number="+15005550001"))  # fmt: skip
    assert moved.status_code == 200
    assert moved.json()["data"]["attributes"]["phone_number"] == "+15005550001"
    # external_id of one profile with the email of another: a conflict
    clash = call(client, "POST", "/api/profile-import/", profile(email=two.email,
                 external_id=str(one.id)))  # fmt: skip
    assert clash.status_code == 409
    holder = recorder.app.state.holder("email", two.email, recorder.app.clock.now())
    assert error_of(clash)["meta"]["duplicate_profile_id"] == holder != moved.json()["data"]["id"]
    # external_id matches, email unused: the email is updated
    renamed = call(client, "POST", "/api/profile-import/", profile(email="new@example.com",
                   external_id=str(two.id)))  # fmt: skip
    assert renamed.status_code == 200
    assert recorder.app.state.holder("email", two.email, recorder.app.clock.now()) is None
    # update by id may not take another profile's email
    pid = renamed.json()["data"]["id"]
    taken = call(client, "PATCH", f"/api/profiles/{pid}/", {"data": {"type": "profile",
                 "id": pid, "attributes": {"email": one.email}}})  # fmt: skip
    assert taken.status_code == 409
    assert json.loads(taken.text)["errors"][0]["code"] == "duplicate_profile"


def test_a_full_bulk_import_job_of_ten_thousand_profiles_runs_in_one_poll(
    world: tuple[httpx.Client, Recorder, FrozenTime], brand: Brand
) -> None:
    client, recorder, _ = world
    rows = [{"email": f"w{n}@example.com", "external_id": f"w{n}"} for n in range(10_000)]
    rows[17] = {"email": brand.customers[3].email, "external_id": "w17"}  # an update
    job = call(client, "POST", "/api/profile-bulk-import-jobs/", bulk(rows))
    jid = job.json()["data"]["id"]
    call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/")
    done = call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/").json()["data"]
    assert done["attributes"]["completed_count"] == 10_000
    profiles = recorder.app.written_state()["profiles"]
    assert len(profiles) == 10_000 - 1 + len(recorder.app.model.customers_as_of(
        recorder.app.clock.now()))  # fmt: skip
    assert profiles[recorder.app.state.holder("external_id", "w17", recorder.app.clock.now())][
        "email"] == brand.customers[3].email  # fmt: skip


# -- reading writes back: profiles by identifier, lists by name --------------------------
def test_written_profiles_are_listed_and_found_by_identifier_as_the_spec_declares(
    world: tuple[httpx.Client, Recorder, FrozenTime], brand: Brand
) -> None:
    client, recorder, _ = world
    app = recorder.app
    _, vip = (lid for lid, _ in app.model.lists)
    known = brand.customers[0]
    job = call(client, "POST", "/api/profile-bulk-import-jobs/", bulk(
        [{"email": "grace@example.com", "external_id": "wh-9"},
         {"email": known.email, "first_name": "Renamed"}], vip))  # fmt: skip
    jid = job.json()["data"]["id"]
    for _ in range(2):
        call(client, "GET", f"/api/profile-bulk-import-jobs/{jid}/")
    found = call(client, "GET", "/api/profiles/", params={
        "filter": f'any(email,["grace@example.com","{known.email}","nobody@example.com"])',
        "page[size]": "100"}).json()["data"]  # fmt: skip
    assert sorted(p["attributes"]["email"] for p in found) == sorted(
        ["grace@example.com", known.email]
    )
    renamed = next(p for p in found if p["attributes"]["email"] == known.email)
    assert renamed["attributes"]["first_name"] == "Renamed"  # as written, not as the brand had
    by_id = call(client, "GET", "/api/profiles/", params={
        "filter": 'equals(external_id,"wh-9")'}).json()["data"]  # fmt: skip
    assert [p["attributes"]["email"] for p in by_id] == ["grace@example.com"]
    listed = []
    request: dict[str, str] | None = {"page[size]": "100"}
    while request is not None:
        page = call(client, "GET", "/api/profiles/", params=request).json()
        listed += page["data"]
        following = page["links"].get("next")
        request = dict(httpx.URL(following).params) if following else None
    assert len(listed) == len({p["id"] for p in listed}) == len(app.written_state()["profiles"])
    lists = call(client, "GET", "/api/lists/", params={"filter": 'equals(name,"VIP")'})
    assert [item["id"] for item in lists.json()["data"]] == [vip]
    none = call(client, "GET", "/api/lists/", params={"filter": 'equals(name,"Nope")'})
    assert none.json()["data"] == []
    assert problems_with(recorder.exchanges) == []
    truth = app.truth()
    assert truth["list_names"][vip] == "VIP" and len(truth["lists"][vip]) == 2
