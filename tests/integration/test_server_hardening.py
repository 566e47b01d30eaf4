"""What users supply is shown inert, and paths cannot leave their folder.

- A workflow named ``<script>alert(1)</script>`` (built in Python, past the YAML name rules),
  hostile task ids, params, errors, log lines, events and webhook deliveries: every HTML page
  the app serves (found from its routes and by following its links) shows them escaped.
- Log and static routes, asked for ``../``, ``%2e%2e``, encoded slashes and backslashes,
  answer 404 and never a byte from outside their folder (requests sent byte for byte).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute

from integration.live_app import PASSWORD, form_csrf, make_user, serve
from podium.core.workflow import EngineSettings, Project, Task, Workflow
from podium.engine import services
from podium.engine.loop import Engine
from podium.server.api import create_app
from podium.store.database import Database, open_database
from podium.testing import ManualExecutor

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
QUOTE = "\"'><svg onload=alert(3)>"
#: a workflow name without "/", so that its own page (/workflows/{name}) can be reached
SVG = "<svg onload=alert(4)>"
HOSTILE = (SCRIPT, IMG, QUOTE)
SECRET = "whsec-hardening-0123456789"
#: what must never appear unescaped in an HTML page
INJECTED = re.compile(r"<script>alert|<img src=x onerror|<svg onload", re.IGNORECASE)


@dataclass
class Site:
    url: str
    db: Database
    project: Project
    app: Any
    run_id: str
    inbox_id: int


def hostile_project(root: Path) -> Project:
    tasks = (
        Task(SCRIPT, "shell", "echo one", produces=(f"raw.{SCRIPT}",)),
        Task(IMG, "shell", "echo two", depends_on=(SCRIPT,)),
        Task("plain", "shell", "echo three", depends_on=(IMG,)),
    )
    workflow = Workflow(SCRIPT, tasks, params={"note": QUOTE})
    second = Workflow(SVG, (Task(IMG, "shell", "echo four"),), params={QUOTE: SCRIPT})
    webhooks = {
        "verify": "hmac",
        "header": "X-Signature",
        "secret": SECRET,
        "id_header": "X-Delivery-Id",
        "topic_header": "X-Event",
    }
    return Project(
        root=str(root),
        store_url=f"sqlite:///{root}/state.db",
        pools={},
        engine=EngineSettings(),
        workflows={workflow.name: workflow, second.name: second},
        connections={"erp": {"type": "webhook", "webhooks": webhooks}},
    )


def seed(project: Project, db: Database, url: str) -> tuple[str, int]:
    """A run whose tasks failed with hostile errors and logged hostile lines; a hostile
    event; a hostile webhook delivery. Returns the run id and the inbox id."""
    run_id = services.start_run(db, project, SCRIPT, {"note": IMG})
    executor = ManualExecutor()
    engine = Engine(project, db, executor=executor)
    engine.start(what="hardening test")
    try:
        engine.step()
        executor.fail(SCRIPT, error=f"boom {SCRIPT} {IMG} {QUOTE}", retryable=False)
        engine.step()
    finally:
        engine.close()
    with db.transaction() as tx:
        for line in HOSTILE:
            tx.execute(
                "INSERT INTO logs (run_id, task_id, attempt, at, stream, line)"
                " VALUES (?, ?, 1, ?, 'stdout', ?)",
                (run_id, SCRIPT, time.time(), line),
            )
    services.emit_event(db, SCRIPT, {"html": IMG, QUOTE: SCRIPT})
    body = json.dumps({"name": SCRIPT, "note": IMG}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Signature": signature, "X-Delivery-Id": IMG.replace('"', ""), "X-Event": SCRIPT}
    response = httpx.post(f"{url}/webhooks/erp", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return run_id, int(response.json()["id"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hardening")
    project = hostile_project(root)
    db = open_database(project.store_url)
    app = create_app(project, db, lambda: None)
    with serve(app) as url:
        run_id, inbox_id = seed(project, db, url)
        yield Site(url, db, project, app, run_id, inbox_id)
    db.close()


# -- escaping -------------------------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action", "hx-get", "data-src") and value:
                self.found.append(value)


def html_pages(site: Site) -> list[str]:
    """The path of every HTML page: each GET route with sample values, then their links."""
    values = {
        "name": SVG,
        "run_id": site.run_id,
        "task_id": SCRIPT,
        "delivery_id": str(site.inbox_id),
        "inbox_id": str(site.inbox_id),
    }
    start = []
    for route in _api_routes(site.app):
        if "GET" not in route.methods or route.path.startswith(("/api/", "/static/", "/docs")):
            continue
        path = route.path
        for key, value in values.items():
            path = path.replace(f"{{{key}:path}}", quote(value, safe=""))
            path = path.replace(f"{{{key}}}", quote(value, safe=""))
        assert "{" not in path, f"no sample value for {route.path}; add one to html_pages"
        start.append(path)
        start.append(path + "?" + "&".join(f"{k}={quote(v)}" for k, v in values.items()))
    start += [f"/runs/{quote(SCRIPT, safe='')}", f"/workflows/{quote(IMG, safe='')}"]
    return start


def crawl(site: Site, limit: int = 150) -> dict[str, httpx.Response]:
    pages: dict[str, httpx.Response] = {}
    queue = html_pages(site)
    with httpx.Client(base_url=site.url, timeout=10) as http:
        while queue and len(pages) < limit:
            path = queue.pop(0)
            if path in pages:
                continue
            response = http.get(path)
            pages[path] = response
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue
            parser = Links()
            parser.feed(response.text)
            for link in parser.found:
                target = urljoin(path, link)
                parts = urlsplit(target)
                if (
                    not parts.netloc
                    and parts.path.startswith("/")
                    and not parts.path.startswith(("/static/", "/api/"))
                ):
                    queue.append(target)
    return pages


def test_every_html_page_shows_hostile_names_escaped(site: Site) -> None:
    pages = crawl(site)
    html = {
        p: r for p, r in pages.items() if r.headers.get("content-type", "").startswith("text/html")
    }
    assert len(html) >= 5, sorted(pages)
    leaks = [path for path, response in html.items() if INJECTED.search(response.text)]
    assert not leaks, f"unescaped markup in: {leaks}"
    shown = [p for p, r in html.items() if "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text]
    assert shown, "no page showed the hostile workflow name (escaped) at all"
    failed = [p for p, r in html.items() if r.status_code >= 500]
    assert not failed, f"server errors: {failed}"
    workflow_page = pages[f"/workflows/{quote(SVG, safe='')}"]
    assert workflow_page.status_code == 200
    assert "&lt;svg onload=alert(4)&gt;" in workflow_page.text
    assert html[f"/runs/{site.run_id}"].status_code == 200


def test_json_answers_are_never_sniffed_as_html(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=10) as http:
        for path in ("/api/workflows", f"/api/runs/{site.run_id}/logs", "/api/events"):
            response = http.get(path)
            assert response.headers["content-type"] == "application/json", path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert SCRIPT in response.text  # kept as data, not as markup


def test_the_log_in_page_escapes_what_was_typed(tmp_path: Path) -> None:
    project = hostile_project(tmp_path)
    db = open_database(project.store_url)
    make_user(db, "ada", "admin")
    with serve(create_app(project, db, lambda: None)) as url, httpx.Client(base_url=url) as http:
        page = http.get("/login", params={"next": f"/runs?x={SCRIPT}"})
        assert not INJECTED.search(page.text)
        response = http.post(
            "/login",
            data={"username": SCRIPT, "password": PASSWORD, "csrf_token": form_csrf(page.text)},
        )
        assert response.status_code == 401
        assert not INJECTED.search(response.text)
        assert "&lt;script&gt;" in response.text
    db.close()


# -- paths ----------------------------------------------------------------------------------

TRAVERSALS = (
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%5c..%5c..%5c..%5c..%5c..%5cetc%5cpasswd",
    "....//....//....//....//etc/passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "..%c0%af..%c0%afetc%c0%afpasswd",
)
#: text from files outside the served folders that must never come back
OUTSIDE = ("root:x:0:0", "[build-system]", "def require(", "podium_meta")


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """``GET path`` sent byte for byte (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def log_paths(site: Site) -> list[str]:
    run = quote(site.run_id, safe="")
    paths = []
    for evil in TRAVERSALS:
        paths += [
            f"/api/runs/{evil}/logs",
            f"/api/runs/{run}/logs?task={evil}",
            f"/runs/{run}/tasks/{evil}",
            f"/runs/{evil}",
            f"/runs/{run}/tasks/{quote(SCRIPT, safe='')}/{evil}",
        ]
    return paths


def static_paths() -> list[str]:
    paths = []
    for evil in TRAVERSALS:
        paths += [f"/static/{evil}", f"/static/css/{evil}", f"/static/..{evil}"]
    paths += ["/static/", "/static/.", "/static/..", "/static/%2e%2e", "/static/~root"]
    return paths


def test_log_routes_cannot_reach_outside_their_run(site: Site) -> None:
    problems = []
    for path in log_paths(site):
        status, body = raw_get(site.url, path)
        if status not in (400, 404) or any(text.encode() in body for text in OUTSIDE):
            problems.append(f"{path}: {status} {body[:80]!r}")
    assert not problems, "\n".join(problems)


def test_static_files_cannot_reach_outside_their_folder(site: Site) -> None:
    problems = []
    for path in static_paths():
        status, body = raw_get(site.url, path)
        if status not in (400, 404) or any(text.encode() in body for text in OUTSIDE):
            problems.append(f"{path}: {status} {body[:80]!r}")
    assert not problems, "\n".join(problems)


def test_the_traversal_requests_really_arrive_unnormalised(site: Site) -> None:
    """The checks above are not vacuous: a real log and a real static file do come back."""
    status, body = raw_get(site.url, f"/api/runs/{site.run_id}/logs")
    assert status == 200 and b"alert(1)" in body
    from podium.server.ui.static import static_files

    name = sorted(static_files())[0]
    status, body = raw_get(site.url, f"/static/{name}")
    assert status == 200 and body


def _api_routes(app: Any) -> Iterator[APIRoute]:
    def walk(routes: list[Any], prefix: str) -> Iterator[APIRoute]:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from walk(inner.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                if prefix:
                    route = APIRoute(prefix + route.path, route.endpoint, methods=route.methods)
                yield route

    yield from walk(app.routes, "")
