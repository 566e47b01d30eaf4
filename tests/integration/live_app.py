"""A real HTTP server for an app: uvicorn in a thread on a free loopback port, and the
people who use it (anonymous, viewer, operator, admin) with their tokens and sessions."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from podium.server import access, credentials
from podium.store.database import Database

PASSWORD = "correct horse battery"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served on 127.0.0.1 until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Actor:
    """Someone calling the server: ``via`` is "anonymous", "token" or "session"."""

    name: str
    role: str | None
    via: str
    http: httpx.Client
    csrf: str = ""

    @property
    def label(self) -> str:
        return f"{self.role or 'anonymous'}/{self.via}"


def make_user(db: Database, name: str, role: str) -> str:
    """A user with ``PASSWORD``; returns a new API token of theirs."""
    access.add_user(db, name, PASSWORD, role, now=time.time())
    return access.create_token(db, name, f"{name}'s test token", now=time.time())[1]


def log_in(base_url: str, db: Database, name: str, password: str = PASSWORD) -> httpx.Client:
    """A client logged in through the real ``/login`` form (cookies kept)."""
    client = httpx.Client(base_url=base_url, timeout=10, follow_redirects=False)
    page = client.get("/login")
    assert page.status_code == 200, page.text
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": form_csrf(page.text)},
    )
    assert response.status_code == 303, response.text
    return client


def session_csrf(db: Database, client: httpx.Client) -> str:
    """The CSRF token of ``client``'s session, as the UI's pages would carry it."""
    session_id = client.cookies.get("podium_session")
    assert session_id, "no session cookie"
    row = db.read().fetchone(
        "SELECT csrf FROM sessions WHERE id_hash = ?", (credentials.digest(session_id),)
    )
    assert row is not None
    return str(row[0])


def form_csrf(html: str) -> str:
    """The value of the first ``csrf_token`` hidden input in a page."""
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def actors(base_url: str, db: Database) -> list[Actor]:
    """Anonymous, then a viewer, an operator and an admin, each by token and by session."""
    people = [Actor("anonymous", None, "anonymous", _client(base_url))]
    for name, role in (("vera", "viewer"), ("otto", "operator"), ("ada", "admin")):
        token = make_user(db, name, role)
        people.append(
            Actor(name, role, "token", _client(base_url, {"Authorization": f"Bearer {token}"}))
        )
        session = log_in(base_url, db, name)
        people.append(Actor(name, role, "session", session, session_csrf(db, session)))
    return people


def _client(base_url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=headers, timeout=10, follow_redirects=False)
