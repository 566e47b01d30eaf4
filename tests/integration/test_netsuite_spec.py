"""The NetSuite simulator and connector held to Oracle's documented SuiteQL REST shapes.

Oracle publishes no machine-readable NetSuite spec; ``tests/specs/netsuite/`` holds a JSON
Schema written from the Help Center (its README cites each fact and marks what is
ASSUMED). Every answer the connector receives during full syncs (TBA and OAuth 2.0) is
validated against it, and every request it sends is checked (method, path, headers,
parameters, body), through a transport that only watches: the bytes still cross a real
socket to the simulator. Then the documented errors, paging links and limits one by one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema
import pytest

from podium.connectors.destinations.duckdb import DuckDBDestination
from podium.connectors.load import LoadJob, load_stream
from podium.connectors.source import StreamState
from podium.connectors.sources.netsuite import NetSuiteSource, open_netsuite_source
from podium.connectors.sources.netsuite.tba import TbaCredentials, authorization
from podium.errors import TerminalTaskError
from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.netsuite import (
    DEMO_CREDENTIALS,
    NetSuiteSimulator,
    demo_connection,
    netsuite_truth,
)
from podium.sandbox.paging import Request
from podium.sandbox.server import SandboxServer

SPEC = Path(__file__).parents[1] / "specs" / "netsuite" / "suiteql.schema.json"
SUITEQL = "/services/rest/query/v1/suiteql"
TOKEN = "/services/rest/auth/oauth2/v1/token"
CEILING = 100
BRAND = Brand(BrandConfig(start=EXAMPLE_START, days=60, seed=7))
QUERY = "SELECT c.id, c.entityid FROM customer c ORDER BY c.lastmodifieddate, c.id"
LINES_QUERY = (
    "SELECT tl.transaction, tl.id FROM transactionline tl INNER JOIN transaction t ON "
    "t.id = tl.transaction WHERE tl.mainline = 'F' ORDER BY t.lastmodifieddate, "
    "tl.transaction, tl.id"
)
_names = itertools.count()
# RFC 9110's section per status, as NetSuite's "type" links them (README: ASSUMED form)
SECTIONS = {400: "15.5.1", 401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6"}


def validator(definition: str) -> Any:
    schema = json.loads(SPEC.read_text())
    schema["$ref"] = f"#/$defs/{definition}"
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


PAGE, ERROR, TOKEN_ANSWER = validator("page"), validator("error"), validator("token")


@dataclass
class Recorder(httpx.BaseTransport):
    """Sends through a real ``HTTPTransport`` and keeps each request and its answer."""

    inner: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)
    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        with self.lock:
            self.exchanges.append((request, response))
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def clock() -> SimClock:
    return SimClock(BRAND.config.start_at + timedelta(days=40, hours=5))


@pytest.fixture
def sim(clock: SimClock) -> NetSuiteSimulator:
    return NetSuiteSimulator(BRAND, clock, row_ceiling=CEILING, concurrency_limit=4)


@pytest.fixture
def server(sim: NetSuiteSimulator) -> Iterator[SandboxServer]:
    with SandboxServer({"netsuite": sim}) as running:
        yield running


def open_source(
    server: SandboxServer, method: str = "tba", transport: httpx.BaseTransport | None = None,
    **changes: Any,
) -> NetSuiteSource:  # fmt: skip
    settings = demo_connection(server.url_for("netsuite"), method)
    del settings["type"]
    settings.update(page_size=25, max_rows_per_query=CEILING, retries=3, timeout="5s")
    settings.update(changes)
    name = f"spec{next(_names)}"
    return open_netsuite_source(name, settings, sleep=lambda s: None, transport=transport)


def sync(source: NetSuiteSource, tmp_path: Path, streams: tuple[str, ...] = ()) -> None:
    destination = DuckDBDestination(tmp_path / "wh.duckdb")
    for stream in source.streams():
        if not streams or stream.name in streams:
            job = LoadJob(source, stream, destination, "erp", "raw_erp", tmp_path / "loads")
            load_stream(job)


def tba_header(method: str, url: str) -> str:
    c = DEMO_CREDENTIALS
    creds = TbaCredentials(
        c["account_id"], c["consumer_key"], c["consumer_secret"], c["token_id"], c["token_secret"]
    )
    query = parse_qsl(urlsplit(url).query)
    nonce = f"n{next(_names)}x{threading.get_ident()}"
    return authorization(creds, method, url, query, timestamp=_now(), nonce=nonce)


def _now() -> int:
    return int(time.time())


def suiteql(
    server: SandboxServer, params: dict[str, str], q: str = QUERY, **headers: str
) -> httpx.Response:
    """One signed SuiteQL request, straight to the simulator (no connector)."""
    url = str(httpx.URL(server.url_for("netsuite") + SUITEQL, params=params))
    sent = {"Prefer": "transient", "Authorization": tba_header("POST", url), **headers}
    sent = {k: v for k, v in sent.items() if v}
    return httpx.post(url, json={"q": q}, headers=sent)


# -- what is checked of each request and each answer ----------------------------------------
def check_request(request: httpx.Request) -> None:
    path = request.url.path.split("/netsuite", 1)[1]
    assert request.method == "POST", request.url
    auth = request.headers.get("authorization", "")
    if path == TOKEN:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = dict(parse_qsl(request.content.decode()))
        assert set(form) == {"grant_type", "client_assertion_type", "client_assertion"}
        assert form["grant_type"] == "client_credentials"
        assert not auth
        return
    assert path == SUITEQL, request.url
    assert request.headers["prefer"] == "transient"
    assert request.headers["content-type"] == "application/json"
    assert auth.startswith(("OAuth realm=", "Bearer ")), auth[:12]
    params = dict(request.url.params)
    assert set(params) == {"limit", "offset"}, params
    limit, offset = int(params["limit"]), int(params["offset"])
    assert 1 <= limit <= 1000 and offset >= 0 and offset % limit == 0
    assert offset // limit < 1000 and offset < 100_000  # Collection Paging's caps
    body = json.loads(request.content)
    assert set(body) == {"q"} and body["q"].startswith("SELECT ")


def check_answer(request: httpx.Request, response: httpx.Response) -> str:
    """Validates ``response``; returns which schema definition it was checked against."""
    body = response.json()
    if response.status_code >= 400:
        ERROR.validate(body)
        assert body["status"] == response.status_code
        if response.status_code in SECTIONS:
            assert body["type"].endswith("#section-" + SECTIONS[response.status_code])
        return "error"
    if request.url.path.endswith(TOKEN):
        TOKEN_ANSWER.validate(body)
        return "token"
    PAGE.validate(body)
    check_links(request, body)
    return "page"


def check_links(request: httpx.Request, body: dict[str, Any]) -> None:
    """The page's links point where Collection Paging says, with limit and offset."""
    limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
    assert body["offset"] == offset and body["count"] == len(body["items"]) <= limit
    assert body["hasMore"] == (offset + body["count"] < body["totalResults"])
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert len(links) == len(body["links"])  # no rel twice
    base = str(request.url.copy_with(query=None))

    def at(o: int) -> str:
        return f"{base}?limit={limit}&offset={o}"

    assert links["self"] == at(offset)
    assert ("next" in links) == body["hasMore"]
    if body["hasMore"]:
        assert links["next"] == at(offset + limit)
    assert ("first" in links) == ("previous" in links) == (offset > 0)
    if offset > 0:
        assert links["first"] == at(0) and links["previous"] == at(max(0, offset - limit))
    if body["totalResults"]:
        last = (body["totalResults"] - 1) // limit * limit
        assert links["last"] == at(last)


def validate_all(recorder: Recorder) -> Counter[str]:
    checked: Counter[str] = Counter()
    for request, response in recorder.exchanges:
        check_request(request)
        checked["requests"] += 1
        checked[check_answer(request, response)] += 1
    return checked


def followed_next_links(recorder: Recorder) -> None:
    """Every page after a slice's first was asked for at a ``next`` href already given."""
    given = {
        link["href"]
        for request, response in recorder.exchanges
        if request.url.path.endswith(SUITEQL) and response.status_code == 200
        for link in response.json()["links"]
        if link["rel"] == "next"
    }
    for request, _ in recorder.exchanges:
        if request.url.path.endswith(SUITEQL) and request.url.params["offset"] != "0":
            assert str(request.url) in given, request.url


# -- the tests --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["tba", "oauth2"])
def test_every_answer_of_a_full_sync_matches_oracles_documented_shapes(
    server: SandboxServer, clock: SimClock, tmp_path: Path, method: str
) -> None:
    recorder = Recorder()
    source = open_source(server, method, transport=recorder)
    sync(source, tmp_path)
    clock.advance(timedelta(days=15))
    sync(source, tmp_path)  # incremental: sliced queries with TO_TIMESTAMP lower bounds
    source.close()
    checked = validate_all(recorder)
    followed_next_links(recorder)
    print(f"\n{method}: validated {dict(checked)}")  # the figure the report quotes
    assert checked["page"] > 50 and checked["error"] == 0
    assert checked["token"] == (1 if method == "oauth2" else 0)
    expected = netsuite_truth(BRAND, clock.now())
    lines = DuckDBDestination(tmp_path / "wh.duckdb")
    assert lines.read_state("erp", "transactions") is not None
    assert expected["lines"]["rows"] > CEILING  # the sync really sliced


def test_pages_carry_first_previous_next_last_and_self_links(server: SandboxServer) -> None:
    response = suiteql(server, {"limit": "25", "offset": "50"}, LINES_QUERY)
    assert response.status_code == 200
    body = response.json()
    PAGE.validate(body)
    assert [link["rel"] for link in body["links"]] == ["first", "previous", "next", "last", "self"]
    check_links(response.request, body)


def test_a_first_page_links_next_last_and_self_as_oracles_example(server: SandboxServer) -> None:
    body = suiteql(server, {"limit": "2", "offset": "0"}).json()
    assert [link["rel"] for link in body["links"]] == ["next", "last", "self"]
    assert all(row["links"] == [] for row in body["items"])


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"limit": "1001", "offset": "0"}, "INVALID_PARAMETER", "limit"),
        ({"limit": "0", "offset": "0"}, "INVALID_PARAMETER", "limit"),
        ({"limit": "ten", "offset": "0"}, "INVALID_PARAMETER", "limit"),
        ({"limit": "10", "offset": "-10"}, "INVALID_PARAMETER", "offset"),
        ({"limit": "10", "offset": "15"}, "INVALID_PARAMETER", "offset"),  # not a page start
        ({"limit": "5", "offset": "5000"}, "INVALID_PARAMETER", "offset"),  # page 1001
        ({"limit": "25", "offset": str(CEILING)}, "INVALID_PARAMETER", "offset"),  # ceiling
    ],
)
def test_paging_parameters_netsuite_refuses_are_refused_in_its_error_shape(
    server: SandboxServer, params: dict[str, str], code: str, param: str
) -> None:
    response = suiteql(server, params)
    assert response.status_code == 400
    body = response.json()
    check_answer(response.request, response)
    (detail,) = body["o:errorDetails"]
    assert detail["o:errorCode"] == code and detail["o:errorQueryParam"] == param


def test_a_malformed_query_is_refused_in_the_documented_error_shape(
    server: SandboxServer,
) -> None:
    response = suiteql(server, {"limit": "5", "offset": "0"}, "SELEKT nothing FROM nowhere")
    assert response.status_code == 400
    check_answer(response.request, response)
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_PARAMETER"
    assert response.json()["type"].endswith("#section-15.5.1")  # 400, not 300 (15.4.1)


def test_a_bad_login_is_401_invalid_login_with_the_documented_body(server: SandboxServer) -> None:
    url = server.url_for("netsuite") + SUITEQL + "?limit=5&offset=0"
    bad = tba_header("POST", url).replace("oauth_token=", "oauth_token=x")
    response = httpx.post(url, json={"q": QUERY}, headers={"Prefer": "transient",
                                                           "Authorization": bad})  # fmt: skip
    assert response.status_code == 401
    check_answer(response.request, response)
    body = response.json()
    assert body["title"] == "Unauthorized"
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert body["o:errorDetails"][0]["detail"].startswith("Invalid login attempt.")


def test_a_bad_bearer_token_is_401_with_the_documented_www_authenticate(
    server: SandboxServer,
) -> None:
    url = server.url_for("netsuite") + SUITEQL + "?limit=5&offset=0"
    headers = {"Prefer": "transient", "Authorization": "Bearer not-a-token"}
    response = httpx.post(url, json={"q": QUERY}, headers=headers)
    assert response.status_code == 401
    check_answer(response.request, response)
    assert response.headers["www-authenticate"] == (
        'Bearer realm="1234567_SB1", error="invalid_token", '
        'error_description="Invalid login attempt."'
    )


def test_over_the_concurrency_limit_is_429_in_the_error_shape(
    sim: NetSuiteSimulator, server: SandboxServer
) -> None:
    sim.concurrency_limit = 0  # every request is one too many
    response = suiteql(server, {"limit": "5", "offset": "0"})
    assert response.status_code == 429
    body = response.json()
    ERROR.validate(body)
    assert body["title"] == "Too Many Requests" and "retry-after" not in response.headers


def test_a_request_without_prefer_transient_is_answered_and_counted(
    sim: NetSuiteSimulator, server: SandboxServer
) -> None:
    """Oracle's example sends ``Prefer: transient`` but documents no refusal without it;
    the simulator answers (as third-party examples show NetSuite does) and counts it."""
    response = suiteql(server, {"limit": "5", "offset": "0"}, Prefer="")
    assert response.status_code == 200
    PAGE.validate(response.json())
    assert sim.missing_prefer == 1


def test_the_connector_stays_within_1000_pages_of_a_small_page_size(tmp_path: Path) -> None:
    """Collection Paging: at most 1000 pages, so at ``limit=5`` only 5,000 rows of a query
    are reachable; a read of 5,807 lines must slice under that, not ask for page 1001."""
    brand = Brand(BrandConfig(start=EXAMPLE_START, days=400, seed=7))
    clock = SimClock(brand.config.start_at + timedelta(days=399, hours=5))
    simulator = NetSuiteSimulator(brand, clock)
    recorder = Recorder()
    with SandboxServer({"netsuite": simulator}) as running:
        source = open_source(running, transport=recorder, page_size=5,
                             max_rows_per_query=100_000)  # fmt: skip
        stream = next(s for s in source.streams() if s.name == "transaction_lines")
        keys = {
            (row["transaction"], row["id"])
            for page in source.read(stream, StreamState())
            for row in getattr(page, "records", [])
        }
        source.close()
    assert len(keys) == netsuite_truth(brand, clock.now())["lines"]["rows"] > 5000
    checked = validate_all(recorder)
    followed_next_links(recorder)
    print(f"\npage_size 5: validated {dict(checked)}")
    assert checked["error"] == 0 and checked["page"] > 1000


def test_answers_over_the_account_limit_are_validated_too(
    sim: NetSuiteSimulator, server: SandboxServer
) -> None:
    """Readers allowed more than the account's 2 requests in flight get 429s in NetSuite's
    error shape, retry them, and still read every row."""
    sim.latency, sim.concurrency_limit = 0.01, 2
    recorder = Recorder()
    settings = demo_connection(server.url_for("netsuite"))
    del settings["type"]
    settings.update(page_size=25, max_rows_per_query=CEILING, retries=40,
                    max_concurrent_requests=6)  # fmt: skip
    greedy = open_netsuite_source(
        f"spec{next(_names)}", settings, sleep=lambda s: time.sleep(min(s, 0.02)),
        transport=recorder,
    )  # fmt: skip
    stream = next(s for s in greedy.streams() if s.name == "transaction_lines")
    counts: list[int] = []

    def run() -> None:
        pages = greedy.read(stream, StreamState())
        counts.append(sum(len(getattr(p, "records", [])) for p in pages))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    greedy.close()
    checked = validate_all(recorder)
    print(f"\nover the limit: validated {dict(checked)}")
    assert len(counts) == 6 and len(set(counts)) == 1 and counts[0] > CEILING
    assert checked["error"] > 0 and sim.violations == checked["error"]


def test_a_refused_query_names_the_stream_the_code_and_what_to_do(server: SandboxServer) -> None:
    source = open_source(server, max_rows_per_query=100_000)  # more than the account allows
    stream = next(s for s in source.streams() if s.name == "transaction_lines")
    with pytest.raises(TerminalTaskError) as caught:
        list(source.read(stream, StreamState()))
    message = str(caught.value)
    assert "stream 'transaction_lines'" in message
    assert "INVALID_PARAMETER" in message and "offset" in message
    assert "max_rows_per_query" in message  # what to do


class NoNextLink:
    """An answer that says ``hasMore`` but links no next page (not NetSuite's shape)."""

    def answer(self, request: Request) -> Answer:
        body = {"links": [], "count": 1, "hasMore": True, "offset": 0, "totalResults": 9,
                "items": [{"links": [], "id": "1", "entityid": "A", "companyname": "A",
                           "email": "a@example.com",
                           "datecreated": "2026-01-02 03:04:05",
                           "lastmodifieddate": "2026-01-02 03:04:05"}]}  # fmt: skip
        return Answer(200, json.dumps(body).encode())


def test_has_more_without_a_next_link_is_a_clear_error(tmp_path: Path) -> None:
    with SandboxServer({"netsuite": NoNextLink()}) as running:
        source = open_source(running)
        stream = next(s for s in source.streams() if s.name == "customers")
        with pytest.raises(TerminalTaskError) as caught:
            list(source.read(stream, StreamState()))
        source.close()
    message = str(caught.value)
    assert "stream 'customers'" in message and "no usable next link" in message


def test_a_lastmodifieddate_bound_returns_exactly_the_rows_from_it_on_in_local_time(
    server: SandboxServer, sim: NetSuiteSimulator
) -> None:
    """The simulator finds a slice's rows by bisection over the table's order; they must
    be the rows a plain filter gives, and TO_CHAR must show the account's local time."""
    lines = sim.tables().transactionline
    middle = lines[len(lines) // 2].modified
    assert middle is not None
    local = middle.astimezone(sim.zone)
    bound = local.strftime("%Y-%m-%d %H:%M:%S")
    query = (
        "SELECT tl.transaction, tl.id, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') "
        "AS lastmodifieddate FROM transactionline tl INNER JOIN transaction t ON "
        "t.id = tl.transaction WHERE tl.mainline = 'F' AND t.lastmodifieddate >= "
        f"TO_TIMESTAMP('{bound}', 'YYYY-MM-DD HH24:MI:SS') ORDER BY t.lastmodifieddate, "
        "tl.transaction, tl.id"
    )
    expected = [
        (r.fields["transaction"], r.fields["id"], r.modified)
        for r in lines
        if r.fields.get("mainline") == "F" and r.modified is not None and r.modified >= middle
    ]
    assert 0 < len(expected) < len(lines)
    got: list[dict[str, Any]] = []
    for offset in range(0, CEILING, 25):
        body = suiteql(server, {"limit": "25", "offset": str(offset)}, q=query).json()
        got += body["items"]
        if not body["hasMore"]:
            break
    assert body["totalResults"] == len(expected)
    assert [(i["transaction"], i["id"]) for i in got] == [e[:2] for e in expected[: len(got)]]
    shown = [e[2].astimezone(sim.zone).strftime("%Y-%m-%d %H:%M:%S") for e in expected]
    assert [i["lastmodifieddate"] for i in got] == shown[: len(got)]
    assert got[0]["lastmodifieddate"] == bound
