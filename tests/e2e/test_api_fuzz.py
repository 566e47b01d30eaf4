"""Outside fuzzers against a live ``podium up`` with access control on.

- Schemathesis reads ``/openapi.json`` and runs every check on every route (coverage,
  fuzzing and stateful phases, links followed): no 5xx, no answer the schema does not
  document, no schema-valid request refused and no invalid one accepted.
- Hypothesis drives what the schema does not describe: the UI's pages and forms and the
  webhook receiver with validly signed deliveries. Every answer is a clear 4xx at worst.

Both are bounded (a fixed number of cases, a fixed seed) so the suite's time stays flat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postgres_schemas import POSTGRES_URL, SKIP_POSTGRES, drop_schema, postgres_url_with_schema

from .conftest import PODIUM, Project, Up, podium_env

SECRET = "fuzz-webhook-secret-0123"
PASSWORD = "correct horse battery"
CONFIG = f"""
    store: {{store}}
    connections:
      shop:
        type: webhook
        webhooks: {{{{verify: shopify, secret: {SECRET}}}}}
"""
FILES = {
    "workflows/hello.yaml": """
        name: hello
        params: {days: 1, store: us}
        triggers:
          - webhook: shop
            topic: orders/create
        tasks:
          - id: greet
            shell: "echo hello"
    """,
    "workflows/broken.yaml": """
        name: broken
        tasks:
          - id: fails
            shell: "exit 3"
    """,
}
#: how many cases Schemathesis makes per route and phase; with the seed, the run is the same
#: every time (about 30 s here)
MAX_EXAMPLES = 40
FUZZ_SEED = 20261206


class Live:
    """The fuzzed server: its URL, an admin's API token and an authorised client."""

    def __init__(self, project: Project, up: Up, token: str) -> None:
        self.project, self.up, self.token = project, up, token
        self.http = httpx.Client(
            base_url=up.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The fuzzed server on each store (PostgreSQL refuses what SQLite takes, e.g. NUL)."""
    schema = ""
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        store, schema = postgres_url_with_schema("podium_fuzz")
    else:
        store = "sqlite:///.podium/state.db"
    project = Project(tmp_path_factory.mktemp("fuzz"), podium_env())
    project.write({**FILES, "podium.yaml": CONFIG.format(store=store)})
    _cli(project, "users", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    token = _cli(project, "tokens", "create", "--user", "admin").strip()
    assert re.fullmatch(r"pdm_[A-Za-z0-9_-]{43}", token), token
    _cli(project, "run", "broken", ok_codes=(0, 1))  # a failed run to retry
    _cli(project, "run", "hello")  # a succeeded one (nothing failed to retry: 409)
    up = project.up()
    live = Live(project, up, token)
    delivered = deliver(live, {"id": 1}, delivery_id="seed-1")
    assert delivered.status_code == 200, delivered.text  # an inbox entry to show and replay
    yield live
    live.http.close()
    project.close()
    if schema:
        drop_schema(schema)


def _cli(project: Project, *args: str, stdin: str = "", ok_codes: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(
        [*PODIUM, *args],
        cwd=project.root,
        env=project.env,
        input=stdin + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in ok_codes, f"podium {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def deliver(
    live: Live, payload: Any, *, delivery_id: str, topic: str = "orders/create"
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return post_signed(live, body, {"X-Shopify-Webhook-Id": delivery_id, "X-Shopify-Topic": topic})


def post_signed(live: Live, body: bytes, headers: dict[str, str]) -> httpx.Response:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    signed = {**headers, "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()}
    return httpx.post(f"{live.up.url}/webhooks/shop", content=body, headers=signed, timeout=10)


# -- Schemathesis: the JSON API and the receiver, from the schema ------------------------------


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    live: Live, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{live.up.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {live.token}",
        "--checks",
        "all",
        "--phases",
        "coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(FUZZ_SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--continue-on-failure",
        "--request-timeout",
        "10",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    seconds = time.monotonic() - started
    output = (done.stdout + done.stderr).replace(live.token, "pdm_***")
    assert done.returncode == 0, output[-6000:]
    summary = json.loads(report.read_text())
    failures = {f["code"]: f["operations"] for f in summary["failures"]}
    assert failures == {} and summary["errors"] == [], output[-6000:]
    assert summary["complete"] and summary["operations"]["tested"] >= 16, summary["operations"]
    phases = {name: p["status"] for name, p in summary["phases"].items()}
    assert phases == {
        "examples": "skip",
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }, phases
    assert summary["test_cases"]["generated"] > 1000, summary["test_cases"]
    # a guard on the suite's time, run beside other tests (make test's parallel pass)
    assert seconds < 180, f"the fuzz run took {seconds:.0f}s; lower MAX_EXAMPLES"


# -- Hypothesis: the UI's pages and forms ----------------------------------------------------------

text = st.text(max_size=40)
ids = st.one_of(
    text,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "\x00", "0"]),
)
PAGES = st.one_of(
    st.tuples(st.just("/"), st.fixed_dictionaries({}, optional={"name": text, "page": ids})),
    st.tuples(
        st.sampled_from(["/runs", "/assets", "/events", "/webhooks"]),
        st.fixed_dictionaries(
            {},
            optional={
                "page": ids,
                "workflow": text,
                "status": text,
                "type": text,
                "run": text,
                "connection": text,
                "fragment": text,
                "notice": text,
            },
        ),
    ),
    st.tuples(
        st.builds(lambda n: f"/workflows/{n}", st.sampled_from(["hello", "broken"]) | text),
        st.fixed_dictionaries({}, optional={"run": ids, "fragment": text}),
    ),
    st.tuples(
        st.builds(lambda r, t: f"/runs/{r}/tasks/{t}", ids, text),
        st.fixed_dictionaries({}, optional={"attempt": ids, "fragment": text}),
    ),
    st.tuples(st.builds(lambda r: f"/runs/{r}", ids), st.fixed_dictionaries({})),
    st.tuples(st.builds(lambda d: f"/webhooks/inbox/{d}", ids), st.fixed_dictionaries({})),
)
FORMS = st.tuples(
    st.one_of(
        st.builds(lambda n: f"/workflows/{n}/run", st.sampled_from(["hello", "broken"]) | text),
        st.builds(lambda r: f"/runs/{r}/retry", ids),
        st.builds(lambda r: f"/runs/{r}/cancel", ids),
        st.builds(lambda d: f"/webhooks/inbox/{d}/replay", ids),
    ),
    st.dictionaries(
        st.sampled_from(["param.days", "param.store", "param.other", "failed_only", "x"]) | text,
        text,
        max_size=4,
    ),
)


# Hypothesis runs of this file: a fixed sequence of examples, no example database, a live
# server shared by the examples, no per-example deadline (the machine is busy).
BOUNDED: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}


def _safe(path: str) -> str:
    """``path`` with each segment percent-encoded (a generated ``?`` stays in its segment)."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


@settings(max_examples=150, **BOUNDED)
@given(page=PAGES)
def test_ui_pages_answer_every_query_with_a_page_or_a_clear_4xx(
    live: Live, page: tuple[str, dict[str, str]]
) -> None:
    path, query = page
    response = live.http.get(_safe(path), params=query)
    assert response.status_code < 500, (path, query, response.text[:500])
    if response.status_code >= 400:
        assert "text/html" in response.headers["content-type"], response.text[:300]
        assert "Traceback" not in response.text


@settings(max_examples=120, **BOUNDED)
@given(form=FORMS)
def test_ui_forms_answer_a_redirect_or_a_clear_4xx(
    live: Live, form: tuple[str, dict[str, str]]
) -> None:
    path, fields = form
    response = live.http.post(_safe(path), data=fields)
    assert response.status_code in (303, 400, 404, 405, 409), (path, fields, response.text[:500])
    if response.status_code != 303:
        assert "text/html" in response.headers["content-type"], response.text[:300]
        assert "Traceback" not in response.text


# -- Hypothesis: the webhook receiver, with valid signatures ------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
HEADER_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=30
).filter(lambda value: value == value.strip())  # HTTP clients refuse edge whitespace


@settings(max_examples=150, **BOUNDED)
@given(
    body=st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=60)),
    delivery_id=st.none() | HEADER_VALUE,
    topic=st.none() | HEADER_VALUE,
)
def test_webhook_receiver_answers_signed_deliveries_with_200_or_a_clear_400(
    live: Live, body: bytes, delivery_id: str | None, topic: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if delivery_id is not None:
        headers["X-Shopify-Webhook-Id"] = delivery_id
    if topic is not None:
        headers["X-Shopify-Topic"] = topic
    response = post_signed(live, body, headers)
    assert response.status_code in (200, 400), (body, headers, response.text)
    answer = response.json()
    if response.status_code == 400:
        assert set(answer) == {"error"} and answer["error"], answer
    else:
        # "replay": the same body under another id within the replay window, not stored
        assert answer["status"] in ("stored", "duplicate", "replay"), answer
        assert isinstance(answer["id"], int), answer


# -- Hypothesis: the log-in form ------------------------------------------------------------


@settings(max_examples=30, **BOUNDED)
@given(
    username=st.one_of(text, st.just("admin"), st.just("ad\x00min")),
    password=text,
    next_path=text,
    with_csrf=st.booleans(),
)
def test_the_log_in_form_answers_a_page_a_redirect_or_a_clear_4xx(
    live: Live, username: str, password: str, next_path: str, with_csrf: bool
) -> None:
    with httpx.Client(base_url=live.up.url, timeout=10) as browser:
        page = browser.get("/login", params={"next": next_path})
        if "\x00" in next_path:  # no URL may hold a NUL
            assert page.status_code == 400 and "NUL character" in page.text
            return
        assert page.status_code == 200, page.text[:300]
        csrf = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        assert csrf is not None
        form = {"username": username, "password": password, "next": next_path}
        if with_csrf:
            form["csrf_token"] = csrf.group(1)
        answer = browser.post("/login", data=form)
    assert answer.status_code in (303, 401, 403, 429), (form, answer.text[:300])
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/")  # never off-site
    else:
        assert "text/html" in answer.headers["content-type"] and "Traceback" not in answer.text
