"""Log-in, log-out, sessions, tokens and the ``server.auth`` setting over real HTTP."""

from __future__ import annotations

import dataclasses
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.live_app import PASSWORD, form_csrf, log_in, make_user, serve, session_csrf
from podium.core.workflow import Project
from podium.project import load_project
from podium.server import access, auth, credentials
from podium.server.api import create_app
from podium.store.database import Database, open_database

WORKFLOW = """
    name: daily
    tasks:
      - id: extract
        shell: "echo hi"
"""

Served = tuple[str, Database, Any]
Serve = Callable[..., Served]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "podium.yaml").write_text("store: sqlite:///.podium/state.db\n")
    (tmp_path / "workflows" / "daily.yaml").write_text(textwrap.dedent(WORKFLOW).lstrip())
    return load_project(tmp_path, environ={})


@pytest.fixture
def start(project: Project) -> Iterator[Serve]:
    """``start(users=..., server={...})``: the app on a real server; (url, store, app)."""
    stack: list[Any] = []
    db = open_database(project.store_url)

    def make(users: dict[str, str] | None = None, server: dict[str, Any] | None = None) -> Served:
        for name, role in (users or {}).items():
            make_user(db, name, role)
        app = create_app(dataclasses.replace(project, server=server or {}), db, lambda: None)
        context = serve(app)
        stack.append(context)
        return context.__enter__(), db, app

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)
    db.close()


def client(url: str, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, follow_redirects=False, **kwargs)


# -- logging in -----------------------------------------------------------------------------


def test_log_in_sets_a_hardened_session_cookie_and_follows_next(start: Serve) -> None:
    url, db, _ = start({"ada": "admin"})
    with client(url) as http:
        page = http.get("/login", params={"next": "/runs?status=failed"})
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert 'value="/runs?status=failed"' in page.text
        response = http.post(
            "/login",
            data={
                "username": "ada",
                "password": PASSWORD,
                "csrf_token": form_csrf(page.text),
                "next": "/runs?status=failed",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/runs?status=failed"
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("podium_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        assert http.get("/api/runs").status_code == 200
        assert http.get("/login").status_code == 303  # logged in already


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_log_in_never_redirects_off_site(start: Serve, target: str) -> None:
    url, _db, _ = start({"ada": "admin"})
    with client(url) as http:
        page = http.get("/login", params={"next": target})
        assert "evil.example" not in page.text
        response = http.post(
            "/login",
            data={
                "username": "ada",
                "password": PASSWORD,
                "csrf_token": form_csrf(page.text),
                "next": target,
            },
        )
        assert response.status_code == 303 and response.headers["location"] == "/"


def test_the_session_cookie_is_secure_behind_https(start: Serve) -> None:
    url, _db, _ = start({"ada": "admin"})
    with client(url) as http:  # a reverse proxy on this machine terminating TLS
        page = http.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in page.headers["set-cookie"]
        token = form_csrf(page.text)  # (httpx keeps Secure cookies for https URLs only)
        response = http.post(
            "/login",
            data={"username": "ada", "password": PASSWORD, "csrf_token": token},
            headers={"X-Forwarded-Proto": "https", "Cookie": f"podium_login_csrf={token}"},
        )
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


def test_a_public_https_url_makes_cookies_secure(start: Serve) -> None:
    url, _db, _ = start({"ada": "admin"}, {"url": "https://podium.example.com"})
    with client(url) as http:
        page = http.get("/login")
        assert "Secure" in page.headers["set-cookie"]


def test_wrong_password_and_unknown_user_get_the_same_answer(start: Serve) -> None:
    url, _db, _ = start({"ada": "admin"})
    answers = []
    with client(url) as http:
        for name, password in (("ada", "not the password"), ("nobody", PASSWORD)):
            page = http.get("/login")
            response = http.post(
                "/login",
                data={"username": name, "password": password, "csrf_token": form_csrf(page.text)},
            )
            assert response.status_code == 401
            assert "podium_session" not in response.headers.get("set-cookie", "")
            answers.append(response.text.replace(f'value="{name}"', 'value=""'))
            assert "Wrong user name or password." in response.text
    assert form_csrf(answers[0]) and answers[0].count("error") == answers[1].count("error")


def test_the_log_in_form_needs_its_own_token(start: Serve) -> None:
    """No log-in CSRF: another site cannot log a browser in to an account it chose."""
    url, _db, _ = start({"ada": "admin"})
    with client(url) as http:
        page = http.get("/login")
        for token in ("", "forged-" + form_csrf(page.text)[7:]):
            response = http.post(
                "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token}
            )
            assert response.status_code == 403
            assert "open /login again" in response.text
    with client(url) as fresh:  # the right value, but not this browser's cookie
        response = fresh.post(
            "/login",
            data={"username": "ada", "password": PASSWORD, "csrf_token": form_csrf(page.text)},
        )
        assert response.status_code == 403


def test_repeated_failures_lock_that_user_for_a_while(start: Serve) -> None:
    url, _db, _ = start({"ada": "admin", "bob": "viewer"})
    with client(url) as http:
        page = http.get("/login")
        token = form_csrf(page.text)

        def attempt(name: str, password: str) -> httpx.Response:
            data = {"username": name, "password": password, "csrf_token": token}
            return http.post("/login", data=data)

        started = time.monotonic()
        for _ in range(5):
            assert attempt("ada", "guess guess").status_code == 401
        assert time.monotonic() - started >= 5 * 0.4  # each failure is slowed down
        locked = attempt("ada", PASSWORD)  # even the right password, for now
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        assert "too many failed log-ins" in locked.text
        assert attempt("bob", PASSWORD).status_code == 303  # others are not locked out


# -- sessions and CSRF ----------------------------------------------------------------------


def test_log_out_needs_the_csrf_token_and_ends_the_session(start: Serve) -> None:
    url, db, _ = start({"ada": "admin"})
    http = log_in(url, db, "ada")
    old_cookie = http.cookies["podium_session"]
    assert http.post("/logout").status_code == 403
    assert http.get("/api/runs").status_code == 200  # still logged in
    response = http.post("/logout", data={"csrf_token": session_csrf(db, http)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert 'podium_session=""' in response.headers["set-cookie"]
    with client(url, cookies={"podium_session": old_cookie}) as replay:
        assert replay.get("/api/runs").status_code == 401
    http.close()


def test_session_csrf_in_a_header_for_scripts_of_the_ui(start: Serve) -> None:
    url, db, _ = start({"otto": "operator"})
    http = log_in(url, db, "otto")
    csrf = session_csrf(db, http)
    assert http.post("/api/events", json={"name": "a"}).status_code == 403
    assert (
        http.post("/api/events", json={"name": "a"}, headers={"X-CSRF-Token": "x"}).status_code
        == 403
    )
    response = http.post("/api/events", json={"name": "a"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 202
    http.close()


def test_an_expired_session_asks_for_a_log_in_again(start: Serve) -> None:
    url, db, _ = start({"ada": "admin"})
    http = log_in(url, db, "ada")
    with db.transaction() as tx:
        tx.execute("UPDATE sessions SET expires_at = ?", (time.time() - 1,))
    assert http.get("/api/runs").status_code == 401
    response = http.get("/runs")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/runs"
    http.close()


def test_role_changes_and_removal_apply_to_the_next_request(start: Serve) -> None:
    url, db, _ = start({"ada": "admin"})
    token = make_user(db, "vera", "viewer")
    session = log_in(url, db, "vera")
    csrf = session_csrf(db, session)
    with client(url, headers={"Authorization": f"Bearer {token}"}) as by_token:
        assert by_token.post("/api/events", json={"name": "a"}).status_code == 403
        access.set_role(db, "vera", "operator")
        assert by_token.post("/api/events", json={"name": "a"}).status_code == 202
        headers = {"X-CSRF-Token": csrf}
        assert session.post("/api/events", json={"name": "a"}, headers=headers).status_code == 202
        access.remove_user(db, "vera", now=time.time())
        assert by_token.get("/api/runs").status_code == 401
        assert session.get("/api/runs").status_code == 401
    session.close()


# -- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["Bearer pdm_" + "x" * 43, "Bearer", "Basic YWRhOnBhc3M=", "pdm_abc", "Token pdm_abc"],
)
def test_a_bad_authorization_header_is_401_even_with_a_good_cookie(
    start: Serve, header: str
) -> None:
    url, db, _ = start({"ada": "admin"})
    session = log_in(url, db, "ada")
    response = session.get("/api/runs", headers={"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "not accepted" in response.json()["error"]
    assert header.split()[-1] not in response.text.replace("Bearer pdm_…", "")
    session.close()


def test_a_revoked_token_is_refused_at_once(start: Serve) -> None:
    url, db, _ = start({"ada": "admin"})
    token_id, token = access.create_token(db, "ada", "", now=time.time())
    with client(url, headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/api/runs").status_code == 200
        access.revoke_token(db, token_id, now=time.time())
        assert http.get("/api/runs").status_code == 401


# -- the setting and the modes --------------------------------------------------------------


def test_auth_required_without_users_lets_nobody_in(start: Serve) -> None:
    url, _db, _ = start(server={"auth": "required"})
    with client(url) as http:
        assert http.get("/api/runs").status_code == 401
        assert http.get("/runs").status_code == 303
        assert http.get("/api/health").status_code == 200
        assert "Log in to podium" in http.get("/login").text


def test_auth_off_ignores_users_and_serves_the_local_admin(start: Serve) -> None:
    url, _db, _ = start({"ada": "admin"}, {"auth": "off"})
    with client(url) as http:
        assert http.get("/api/runs").status_code == 200
        assert http.post("/api/events", json={"name": "x"}).status_code == 202
        assert "Access control is off" in http.get("/login").text


def test_the_first_user_turns_access_control_on_without_a_restart(start: Serve) -> None:
    url, db, _ = start()
    with client(url) as http:
        assert http.get("/api/runs").status_code == 200
        make_user(db, "ada", "admin")
        assert http.get("/api/runs").status_code == 401


def test_an_enforced_app_stays_closed_when_every_user_is_removed(start: Serve) -> None:
    """``podium up`` on a public address: no users must not mean "everyone is admin"."""
    url, db, app = start({"ada": "admin"})
    auth.enforce(app)
    access.remove_user(db, "ada", now=time.time())
    with client(url) as http:
        assert http.get("/api/runs").status_code == 401
        assert http.post("/api/events", json={"name": "x"}).status_code == 401


def test_a_forbidden_ui_action_gets_an_html_page(start: Serve) -> None:
    url, db, _ = start({"vera": "viewer"})
    http = log_in(url, db, "vera")
    response = http.post("/runs/some-run/cancel", data={"csrf_token": session_csrf(db, http)})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "needs the operator role" in response.text
    assert "podium users set-role vera operator" in response.text
    http.close()


def test_every_answer_forbids_framing_and_sniffing(start: Serve) -> None:
    url, _db, _ = start({"ada": "admin"})
    with client(url) as http:
        for path in ("/login", "/api/health", "/api/runs", "/runs"):
            response = http.get(path)
            assert response.headers["x-frame-options"] == "DENY", path
            assert response.headers["x-content-type-options"] == "nosniff", path


def test_session_ids_are_not_stored(start: Serve) -> None:
    url, db, _ = start({"ada": "admin"})
    http = log_in(url, db, "ada")
    cookie = http.cookies["podium_session"]
    rows = db.read().fetchall("SELECT * FROM sessions")
    assert cookie not in repr(rows)
    assert credentials.digest(cookie) in repr(rows)
    http.close()


def test_concurrent_guesses_for_one_user_get_only_the_lock_out_limit_of_checks(
    start: Serve,
) -> None:
    """40 guesses sent at once: each is checked against the lock-out and counted in one
    step, so only the limit's 5 reach a password check (401); the rest are refused (429)."""
    from concurrent.futures import ThreadPoolExecutor

    url, _db, _ = start({"ada": "admin"})
    with client(url) as http:
        token = form_csrf(http.get("/login").text)
        cookies = dict(http.cookies)

    def guess(number: int) -> int:
        data = {"username": "ada", "password": f"guess {number}", "csrf_token": token}
        with client(url, cookies=cookies) as own:
            return own.post("/login", data=data).status_code

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(guess, range(40)))
    assert sorted(answers) == [401] * 5 + [429] * 35
