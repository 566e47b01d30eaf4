"""The authorization matrix: every route of the real app, for anonymous, viewer, operator and
admin callers (each by API token and by UI session), over real HTTP.

``ROUTES`` lists every route ``create_app`` serves with the least role it needs and the
status an allowed caller gets. ``test_every_route_is_in_the_matrix`` fails when a route is
added (or removed) without this table being updated, so no route goes unchecked.

Expected refusals: anonymous → 401 JSON with ``WWW-Authenticate`` on ``/api/...``, 303 to
``/login?next=…`` on UI pages (303 to ``/login`` for UI actions); a role too low → 403
(JSON for the API, an HTML page for the UI); a session without the right CSRF token on an
unsafe method → 403. Public routes answer everyone alike.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from integration.live_app import Actor, actors, log_in, serve, session_csrf
from podium.core.workflow import Project
from podium.engine import services
from podium.project import load_project
from podium.server.api import create_app
from podium.store.database import Database, open_database

SECRET = "whsec-matrix-0123456789"
ROLES = ("viewer", "operator", "admin")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

FILES = {
    "podium.yaml": """
        store: sqlite:///.podium/state.db
        connections:
          erp:
            type: webhook
            webhooks:
              verify: hmac
              header: X-Signature
              algorithm: sha256
              encoding: hex
              secret: ${ERP_WEBHOOK_SECRET}
              id_header: X-Delivery-Id
              topic_header: X-Event
    """,
    "workflows/daily.yaml": """
        name: daily
        params: {days: 1}
        triggers:
          - schedule: "0 5 * * *"
        tasks:
          - id: extract
            shell: "echo extracting"
          - id: load
            shell: "echo loading"
            depends_on: [extract]
            produces: [marts.report]
    """,
}


@dataclass
class World:
    """The app under test, its store and the people calling it."""

    app: Any
    project: Project
    db: Database
    base_url: str
    people: list[Actor]
    run_id: str
    inbox_id: int
    deliveries: Iterator[int] = field(default_factory=itertools.count)

    def deliver(self, client: httpx.Client, *, signed: bool = True) -> httpx.Response:
        body = json.dumps({"order": next(self.deliveries)}).encode()
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Delivery-Id": f"matrix-{next(self.deliveries)}",
            "X-Event": "orders/create",
        }
        if signed:
            headers["X-Signature"] = signature
        return client.post("/webhooks/erp", content=body, headers=headers)

    def finished_run(self) -> str:
        """A new run, cancelled at once: one retry may start it again."""
        run_id = services.start_run(self.db, self.project, "daily", {})
        services.cancel_run(self.db, self.project, run_id)
        return run_id

    def processed_delivery(self) -> int:
        """A new inbox entry, marked processed: one replay may queue it again."""
        response = self.deliver(self.people[0].http)
        assert response.status_code == 200, response.text
        inbox_id = int(response.json()["id"])
        with self.db.transaction() as tx:
            tx.execute("UPDATE webhook_inbox SET status = 'processed' WHERE id = ?", (inbox_id,))
        return inbox_id


Setup = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    """``role``: the least role allowed (None: public). ``ok``: what an allowed caller gets."""

    role: str | None
    ok: int
    setup: Setup | None = None  # fresh path params for each call that changes state
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    ok_for: Callable[[Actor], int] | None = None  # when the status depends on the caller
    fresh_session: bool = False  # the call ends the session it uses


def _fresh_run(world: World) -> dict[str, Any]:
    return {"run_id": world.finished_run()}


def _fresh_delivery(world: World) -> dict[str, Any]:
    delivery = world.processed_delivery()
    return {"inbox_id": delivery, "delivery_id": delivery}


def _asset(world: World) -> dict[str, Any]:
    return {"name": "marts.report"}  # what daily's load task produces


def _static_file(world: World) -> dict[str, Any]:
    from podium.server.ui.static import static_files

    return {"name": sorted(static_files())[0]}


def _login_page_for(actor: Actor) -> int:
    return 303 if actor.via == "session" else 200  # logged in already: sent on to ?next


_DAILY_TEXT = textwrap.dedent(FILES["workflows/daily.yaml"]).lstrip("\n")
_DAILY_EDIT = {
    "file": "workflows/daily.yaml",
    "document": yaml.safe_load(_DAILY_TEXT),
    "sha256": hashlib.sha256(_DAILY_TEXT.encode()).hexdigest(),
}

ROUTES: dict[tuple[str, str], Rule] = {
    # public
    ("GET", "/api/health"): Rule(None, 200),
    ("GET", "/api/ready"): Rule(None, 200),  # a readiness probe holds no token
    ("GET", "/docs"): Rule(None, 200),
    ("GET", "/docs/oauth2-redirect"): Rule(None, 200),
    ("GET", "/openapi.json"): Rule(None, 200),
    ("GET", "/login"): Rule(None, 200, ok_for=_login_page_for),
    ("POST", "/login"): Rule(None, 403),  # without the log-in form's own token
    ("POST", "/webhooks/{connection}"): Rule(None, 200),  # signed; see below for unsigned
    ("GET", "/static/{name:path}"): Rule(None, 200, setup=_static_file),
    # the JSON API
    ("GET", "/api/workflows"): Rule("viewer", 200),
    ("POST", "/api/workflows/{name}/runs"): Rule("operator", 201, json={"params": {}}),
    ("GET", "/api/runs"): Rule("viewer", 200),
    ("GET", "/api/runs/{run_id}"): Rule("viewer", 200),
    ("GET", "/api/runs/{run_id}/attempts"): Rule("viewer", 200),
    ("GET", "/api/runs/{run_id}/logs"): Rule("viewer", 200),
    ("POST", "/api/runs/{run_id}/retry"): Rule(
        "operator", 200, setup=_fresh_run, json={"failed_only": True}
    ),
    ("POST", "/api/runs/{run_id}/cancel"): Rule("operator", 200),
    ("POST", "/api/workflows/{name}/pause"): Rule("operator", 200),
    ("POST", "/api/workflows/{name}/resume"): Rule("operator", 200),
    ("POST", "/api/events"): Rule("operator", 202, json={"name": "matrix", "payload": {}}),
    ("GET", "/api/events"): Rule("viewer", 200),
    ("GET", "/api/webhooks"): Rule("viewer", 200),
    ("GET", "/api/webhooks/{inbox_id}"): Rule("viewer", 200),
    ("POST", "/api/webhooks/{inbox_id}/replay"): Rule("operator", 200, setup=_fresh_delivery),
    # the workflow builder: viewers read, operators save (the same bytes: repeatable)
    ("GET", "/api/builder/schema"): Rule("viewer", 200),
    ("GET", "/api/builder/pickers"): Rule("viewer", 200),
    ("GET", "/api/builder/files"): Rule("viewer", 200),
    ("GET", "/api/builder/files/{name}"): Rule("viewer", 200),
    ("GET", "/api/builder/saves"): Rule("viewer", 200),
    ("POST", "/api/builder/validate"): Rule("viewer", 200, json=_DAILY_EDIT),
    ("POST", "/api/builder/diff"): Rule("viewer", 200, json=_DAILY_EDIT),
    ("POST", "/api/builder/next-times"): Rule("viewer", 200, json={"schedule": "0 5 * * *"}),
    ("POST", "/api/builder/save"): Rule("operator", 200, json=_DAILY_EDIT),
    # Prometheus scrapes with a viewer's token; refused like the JSON API
    ("GET", "/metrics"): Rule("viewer", 200),
    # the UI
    ("POST", "/logout"): Rule("viewer", 303, fresh_session=True),
    ("GET", "/"): Rule("viewer", 200),
    ("GET", "/workflows/{name}"): Rule("viewer", 200),
    ("GET", "/runs"): Rule("viewer", 200),
    ("GET", "/runs/{run_id}"): Rule("viewer", 200),
    ("GET", "/runs/{run_id}/tasks/{task_id:path}"): Rule("viewer", 200),
    ("GET", "/assets"): Rule("viewer", 200),
    ("GET", "/events"): Rule("viewer", 200),
    ("GET", "/webhooks"): Rule("viewer", 200),
    ("GET", "/webhooks/inbox/{delivery_id}"): Rule("viewer", 200),
    ("GET", "/builder"): Rule("viewer", 200),
    ("GET", "/builder/{name}"): Rule("viewer", 200),
    ("POST", "/workflows/{name}/run"): Rule("operator", 303, form={}),
    ("POST", "/workflows/{name}/pause"): Rule("operator", 303, form={}),
    ("GET", "/lineage"): Rule("viewer", 200),
    ("GET", "/assets/{name:path}"): Rule("viewer", 200, setup=_asset),
    ("POST", "/assets/{name:path}/build"): Rule("operator", 303, setup=_asset, form={}),
    ("POST", "/workflows/{name}/resume"): Rule("operator", 303, form={}),
    ("POST", "/runs/{run_id}/retry"): Rule(
        "operator", 303, setup=_fresh_run, form={"failed_only": "1"}
    ),
    ("POST", "/runs/{run_id}/cancel"): Rule("operator", 303, form={}),
    ("POST", "/webhooks/inbox/{delivery_id}/replay"): Rule(
        "operator", 303, setup=_fresh_delivery, form={}
    ),
}


def served_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; a mount is ("MOUNT", path)."""
    found: set[tuple[str, str]] = set()
    for prefix, route in _walk(app.routes, ""):
        path = prefix + getattr(route, "path", "?")
        if isinstance(route, APIRoute | Route):
            found |= {(m, path) for m in (route.methods or {"GET"}) if m != "HEAD"}
        elif isinstance(route, Mount):
            found.add(("MOUNT", path))
        else:
            found.add((type(route).__name__, path))
    return found


def _walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """Every route, also those inside included routers (FastAPI keeps them lazily)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield prefix, route
        else:
            yield from _walk(inner.routes, prefix + route.include_context.prefix)


@contextmanager
def running_world(root: Path, *, with_users: bool) -> Iterator[World]:
    """The app on a real server; with a viewer, an operator and an admin, or in local mode."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    project = load_project(root, environ={"ERP_WEBHOOK_SECRET": SECRET})
    db = open_database(project.store_url)
    app = create_app(project, db, lambda: None)
    with serve(app) as base_url:
        if with_users:
            people = actors(base_url, db)
        else:
            people = [Actor("local", "admin", "local", httpx.Client(base_url=base_url, timeout=10))]
        run_id = services.start_run(db, project, "daily", {})
        world = World(app, project, db, base_url, people, run_id, 0)
        world.inbox_id = world.processed_delivery()
        try:
            yield world
        finally:
            for person in people:
                person.http.close()
            db.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("authz"), with_users=True) as made:
        yield made


@pytest.fixture(scope="module")
def local_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("local"), with_users=False) as made:
        yield made


def test_every_route_is_in_the_matrix(world: World) -> None:
    served = served_routes(world.app)
    missing = sorted(served - set(ROUTES))
    stale = sorted(set(ROUTES) - served)
    assert not missing, (
        f"routes without an entry in ROUTES of {Path(__file__).name}: {missing}; add each"
        " with the least role it needs and the status an allowed caller gets"
    )
    assert not stale, f"ROUTES lists routes the app no longer serves: {stale}"


def test_every_route_for_every_caller(world: World) -> None:
    problems: list[str] = []
    for (method, path), rule in sorted(ROUTES.items()):
        for actor in world.people:
            problems += _check(world, method, path, rule, actor)
    assert not problems, "\n".join(problems)


def test_unsafe_calls_with_a_session_need_its_csrf_token(world: World) -> None:
    """A session cookie alone never changes anything: no token or a wrong one → 403."""
    problems = []
    admin = next(p for p in world.people if p.role == "admin" and p.via == "session")
    for (method, path), rule in sorted(ROUTES.items()):
        if method not in UNSAFE or rule.role is None:
            continue
        for token in ("", "wrong-" + admin.csrf[6:], _other_session_csrf(world)):
            _url, response = _send(world, method, path, rule, admin, csrf=token)
            if response.status_code != 403:
                problems.append(f"{method} {path} with CSRF {token[:6]!r}…: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_the_webhook_receiver_is_public_and_checks_its_signature(world: World) -> None:
    for actor in world.people:
        assert world.deliver(actor.http, signed=False).status_code == 401, actor.label
        assert world.deliver(actor.http).status_code == 200, actor.label


def test_a_token_and_a_session_cookie_together_act_as_the_token(world: World) -> None:
    """The bearer token decides; a viewer's token does not borrow an admin's session."""
    admin = next(p for p in world.people if p.role == "admin" and p.via == "session")
    viewer = next(p for p in world.people if p.role == "viewer" and p.via == "token")
    response = httpx.post(
        f"{world.base_url}/api/events",
        json={"name": "mixed"},
        headers={**viewer.http.headers, "X-CSRF-Token": admin.csrf},
        cookies=dict(admin.http.cookies),
    )
    assert response.status_code == 403, response.text


# -- local mode: no users, every request is the local admin ---------------------------------


def test_local_mode_every_route_answers_the_local_admin(local_world: World) -> None:
    """No users: no log-in, but UI actions still need this server's CSRF token."""
    local = local_world.people[0]
    token = local_world.app.state.podium_access.local_csrf
    problems = []
    for (method, path), rule in sorted(ROUTES.items()):
        ok = _local_ok(method, path, rule)
        ui_action = method in UNSAFE and rule.role is not None and not path.startswith("/api/")
        if ui_action:
            url, response = _send(local_world, method, path, rule, _as_session(local), csrf="")
            if response.status_code != 403:
                problems.append(f"{method} {url} without CSRF: {response.status_code}")
        url, response = _send(local_world, method, path, rule, _as_session(local), csrf=token)
        if response.status_code != ok:
            problems.append(f"{method} {url}: {response.status_code}, expected {ok}")
    assert not problems, "\n".join(problems)


def test_local_mode_refuses_requests_from_other_sites(local_world: World) -> None:
    """A page on another site cannot make the local browser start, retry or cancel runs."""
    local = local_world.people[0]
    token = local_world.app.state.podium_access.local_csrf
    problems = []
    hostile = (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
    )
    for (method, path), rule in sorted(ROUTES.items()):
        if method not in UNSAFE or rule.role is None:
            continue
        for headers in hostile:
            sender = _as_session(local, headers)
            url, response = _send(local_world, method, path, rule, sender, csrf=token)
            if response.status_code != 403:
                problems.append(f"{method} {url} with {headers}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_local_mode_answers_only_loopback_host_names(local_world: World) -> None:
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends Host: evil.example."""
    local = local_world.people[0]
    problems = []
    for (method, path), rule in sorted(ROUTES.items()):
        sender = _as_session(local, {"Host": "evil.example"})
        url, response = _send(local_world, method, path, rule, sender, csrf="")
        public = rule.role is None
        if not public and response.status_code != 403:
            problems.append(f"{method} {url} for Host evil.example: {response.status_code}")
        if public and response.status_code != _local_ok(method, path, rule):
            problems.append(f"public {method} {url} for Host evil.example: {response.status_code}")
    for host in ("localhost", "127.0.0.2", "[::1]", "app.localhost"):
        assert local.http.get("/api/runs", headers={"Host": host}).status_code == 200, host


def _local_ok(method: str, path: str, rule: Rule) -> int:
    if (method, path) == ("POST", "/login"):
        return 303  # nothing to log in to: sent on to ?next
    if (method, path) == ("GET", "/login"):
        return 200
    return rule.ok


def _as_session(local: Actor, headers: dict[str, str] | None = None) -> Actor:
    """The local client, sending CSRF tokens the way a session does (form field or header)."""
    client = httpx.Client(
        base_url=str(local.http.base_url), timeout=10, headers=headers, follow_redirects=False
    )
    return Actor(local.name, "admin", "session", client)


# -- one call -------------------------------------------------------------------------------


def _check(world: World, method: str, path: str, rule: Rule, actor: Actor) -> list[str]:
    if rule.fresh_session and actor.via == "session":
        actor = Actor(
            actor.name, actor.role, "session", log_in(world.base_url, world.db, actor.name)
        )
        actor.csrf = session_csrf(world.db, actor.http)
    url, response = _send(world, method, path, rule, actor, csrf=actor.csrf)
    expected, location = _expected(method, url, rule, actor)
    where = f"{method} {path} as {actor.label}"
    problems = []
    if response.status_code != expected:
        problems.append(
            f"{where}: {response.status_code}, expected {expected}: {response.text[:160]}"
        )
    elif location is not None and response.headers.get("location") != location:
        problems.append(
            f"{where}: redirected to {response.headers.get('location')}, not {location}"
        )
    elif expected in (401, 403) and rule.role is not None:
        problems += _refusal_problems(where, path, response)
    return problems


def _expected(method: str, url: str, rule: Rule, actor: Actor) -> tuple[int, str | None]:
    """The status ``actor`` must get, and the redirect target when it is a refusal."""
    if _allowed(rule, actor):
        return (rule.ok_for(actor) if rule.ok_for else rule.ok), None
    if actor.role is not None:
        return 403, None
    if _is_api(url):
        return 401, None
    return 303, "/login?next=" + quote(url, safe="/") if method == "GET" else "/login"


def _allowed(rule: Rule, actor: Actor) -> bool:
    if rule.role is None:
        return True
    return actor.role is not None and ROLES.index(actor.role) >= ROLES.index(rule.role)


def _is_api(path: str) -> bool:
    """Refused like the JSON API (401 and a JSON error, not a redirect to the log-in)."""
    return path.startswith("/api/") or path == "/metrics"


def _refusal_problems(where: str, path: str, response: httpx.Response) -> list[str]:
    if _is_api(path):
        if "error" not in response.json():
            return [f"{where}: no 'error' in {response.text[:120]}"]
        if response.status_code == 401 and "Bearer" not in response.headers.get(
            "www-authenticate", ""
        ):
            return [f"{where}: 401 without WWW-Authenticate: Bearer"]
        return []
    if not response.headers.get("content-type", "").startswith("text/html"):
        return [f"{where}: a UI refusal that is not an HTML page"]
    return []


def _send(
    world: World, method: str, path: str, rule: Rule, actor: Actor, *, csrf: str
) -> tuple[str, httpx.Response]:
    """Calls ``path`` as ``actor`` (a session sends ``csrf``); returns the URL and answer."""
    params = {
        "name": "daily",
        "run_id": world.run_id,
        "task_id": "extract",
        "inbox_id": world.inbox_id,
        "delivery_id": world.inbox_id,
        "connection": "erp",
    }
    if rule.setup is not None and (_allowed(rule, actor) or rule.role is None):
        params.update(rule.setup(world))
    url = _fill(path, params)
    if path == "/webhooks/{connection}":
        return url, world.deliver(actor.http)
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    if method in UNSAFE and actor.via == "session":
        if rule.form is not None:
            kwargs["data"] = {**rule.form, "csrf_token": csrf}
        else:
            headers["X-CSRF-Token"] = csrf
    if "data" not in kwargs and rule.form is not None:
        kwargs["data"] = dict(rule.form)
    if rule.json is not None:
        kwargs["json"] = rule.json
    return url, actor.http.request(method, url, headers=headers, **kwargs)


def _fill(path: str, params: dict[str, Any]) -> str:
    for name, value in params.items():
        path = path.replace(f"{{{name}:path}}", quote(str(value), safe="/"))
        path = path.replace(f"{{{name}}}", quote(str(value), safe=""))
    assert "{" not in path, f"no sample value for a parameter of {path}"
    return path


def _other_session_csrf(world: World) -> str:
    viewer = next(p for p in world.people if p.role == "viewer" and p.via == "session")
    return viewer.csrf
