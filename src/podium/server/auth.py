"""Access control for every route: who is asking (a session, an API token, or the local
user) and whether their role allows it.

Roles, each including the ones before it: ``viewer`` (read everything but secrets),
``operator`` (start, retry and cancel runs; replay webhooks), ``admin`` (users, tokens).

INTERFACE (stable; routes depend only on these names):
- ``Principal``: who is asking.
- ``require(role)``: a FastAPI dependency returning the ``Principal`` or refusing the request
  (401 JSON for ``/api/...`` routes without credentials, a redirect to ``/login`` for UI
  pages, 403 when the role is too low).
- ``csrf_field(request)``: the hidden ``<input>`` a UI form must carry; ``require`` checks
  it on every unsafe (POST/PUT/PATCH/DELETE) request that is not made with an API token.

Two modes (``server: {auth: auto | required | off}`` in podium.yaml; ``auto``, the default,
means "required once a user exists"):

- enforced: an ``Authorization: Bearer pdm_…`` token (scripts, the CLI; no CSRF token needed)
  or a session cookie from ``/login`` (unsafe methods must carry the session's CSRF token as
  the ``csrf_token`` form field or the ``X-CSRF-Token`` header). Anyone else is anonymous.
- local (no users yet, or ``auth: off``): ``podium up`` binds to loopback only and every
  request is the local admin. Browsers on the same machine are still guarded: the ``Host``
  must be a loopback name (no DNS rebinding), unsafe requests must not come from another
  site (``Origin``/``Sec-Fetch-Site``), and unsafe UI requests carry this server's CSRF token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from podium import clock
from podium.errors import UsageError
from podium.project.config import AUTH_MODES
from podium.server import access
from podium.server import credentials as cred
from podium.server.refusals import Refused, install_refusals
from podium.store.database import Database

ROLES = access.ROLES
SESSION_COOKIE = "podium_session"
LOGIN_CSRF_COOKIE = "podium_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: str  # "session", "token" or "local"

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


LOCAL = Principal("local", "admin", "local")


class AccessControl:
    """One app's access-control state: its store, its mode and its local CSRF secret."""

    def __init__(
        self,
        db: Database,
        mode: str = "auto",
        *,
        https: bool = False,
        clock: Callable[[], float] = clock.time,
    ) -> None:
        self.db, self.mode, self.https, self.clock = db, mode, https, clock
        self.local_csrf = cred.new_secret()

    def enforce(self) -> None:
        """Access control from now on, whatever the store holds (a public bind)."""
        self.mode = "required"

    def is_enforced(self) -> bool:
        if self.mode == "auto":
            return access.has_users(self.db)
        return self.mode == "required"

    async def principal(self, request: Request) -> Principal:
        """Who is asking; raises ``Refused`` for bad credentials, CSRF or anonymous callers."""
        if not await run_in_threadpool(self.is_enforced):
            await _check_local(request, self.local_csrf)
            return LOCAL
        header = request.headers.get("authorization")
        if header is not None:
            return await self._token_principal(request, header)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        session = await self.session(cookie) if cookie else None
        if session is None:
            raise _anonymous(request)
        request.state.podium_session = session
        if request.method in UNSAFE_METHODS:
            await _check_csrf(request, session.csrf)
        return Principal(session.user.name, session.user.role, "session")

    async def session(self, cookie: str) -> access.Session | None:
        return await run_in_threadpool(access.session_of, self.db, cookie, now=self.clock())

    async def _token_principal(self, request: Request, header: str) -> Principal:
        scheme, _, token = header.partition(" ")
        user = None
        if scheme.lower() == "bearer" and token.strip():
            user = await run_in_threadpool(
                access.token_user, self.db, token.strip(), now=self.clock()
            )
        if user is None:
            raise Refused(
                401,
                "the API token was not accepted (unknown, revoked, or its user was removed);"
                " send 'Authorization: Bearer pdm_…' with a token from `podium tokens create"
                " --user NAME`",
                api=True,
                headers={"WWW-Authenticate": 'Bearer realm="podium", error="invalid_token"'},
            )
        return Principal(user.name, user.role, "token")


def install(app: FastAPI, server: Mapping[str, Any], db: Database) -> AccessControl:
    """Access control for ``app``, configured by podium.yaml's ``server:`` section."""
    control = AccessControl(
        db, auth_mode(server), https=str(server.get("url", "")).startswith("https://")
    )
    app.state.podium_access = control
    install_refusals(app)
    return control


def enforce(app: FastAPI) -> None:
    """Access control on ``app`` for good (``podium up`` on a public address): removing
    every user later locks everyone out instead of opening the server to all."""
    control = getattr(app.state, "podium_access", None)
    if not isinstance(control, AccessControl):
        raise RuntimeError("access control is not installed on this app (auth.install)")
    control.enforce()


def describe(server: Mapping[str, Any], db: Database) -> str:
    """One line for ``podium up``'s banner: is access control on, and how to change it."""
    mode = auth_mode(server)
    users = len(access.list_users(db))
    if mode == "off":
        return "access control off (server.auth: off): local mode, loopback only"
    if users:
        return f"access control on: {users} user{'s' if users != 1 else ''}; log in at /login"
    if mode == "required":
        return "access control on, but no users yet: create one with `podium users add`"
    return (
        "access control off until a user exists (local mode, loopback only);"
        " create one with `podium users add NAME --role admin`"
    )


def auth_mode(server: Mapping[str, Any]) -> str:
    """``server.auth`` from podium.yaml, checked (``auto`` when absent)."""
    mode = server.get("auth", "auto")
    if mode is False:  # YAML reads a bare `off` as false
        mode = "off"
    if mode not in AUTH_MODES:
        raise UsageError(
            f"podium.yaml: server.auth is {mode!r}; use auto (access control once a user"
            " exists, the default), required, or off (local use only)"
        )
    return str(mode)


def access_control(request: Request) -> AccessControl:
    control = getattr(request.app.state, "podium_access", None)
    if not isinstance(control, AccessControl):
        raise RuntimeError("access control is not installed on this app (auth.install)")
    return control


def require(role: str) -> Callable[[Request], Awaitable[Principal]]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(request: Request) -> Principal:
        principal = await access_control(request).principal(request)
        if not principal.may(role):
            raise Refused(
                403,
                f"user {principal.name} ({principal.role}) may not do this: it needs the"
                f" {role} role; an admin can grant it with `podium users set-role"
                f" {principal.name} {role}`",
                api=is_api(request),
            )
        request.state.podium_principal = principal
        return principal

    return dependency


def csrf_token(request: Request) -> str:
    """The CSRF token a form on this page must send back."""
    session = getattr(request.state, "podium_session", None)
    if session is not None:
        return str(session.csrf)
    control = access_control(request)
    principal = getattr(request.state, "podium_principal", None)
    if principal is not None and principal.via == "token":
        return ""  # API-token callers need none
    if principal is LOCAL or (principal is None and not control.is_enforced()):
        return control.local_csrf
    return login_csrf(request)


def csrf_field(request: Request) -> str:
    return Markup(
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">'
    )


def login_csrf(request: Request) -> str:
    """The double-submit token of the log-in form: the cookie's value, or a new one that
    the log-in page sets as that cookie."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if len(existing) >= 32:
        return existing
    new = getattr(request.state, "podium_new_login_csrf", None) or cred.new_secret()
    request.state.podium_new_login_csrf = new
    return str(new)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/api", "/metrics")


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or access_control(request).https


def login_url(next_path: str | None = None) -> str:
    return "/login" if not next_path else f"/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``/`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    return value


async def submitted_csrf(request: Request) -> str:
    """The CSRF token a request carries: the header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "").encode("latin-1")
    if content_type.split(b";")[0].strip().lower() in _FORMS:
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _anonymous(request: Request) -> Refused:
    if is_api(request):
        return Refused(
            401,
            "this route needs a log-in: pass an API token as 'Authorization: Bearer pdm_…'"
            " (an admin creates one with `podium tokens create --user NAME`), or log in at"
            " /login",
            api=True,
            headers={"WWW-Authenticate": 'Bearer realm="podium"'},
        )
    target = None
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        target = request.url.path + (f"?{query}" if query else "")
    return Refused(303, "log in first", api=False, location=login_url(target))


async def _check_csrf(request: Request, expected: str) -> None:
    if not cred.same(await submitted_csrf(request), expected):
        raise Refused(
            403,
            "missing or wrong CSRF token: reload the page and try again (forms send a"
            f" {CSRF_FIELD} field, scripts the {CSRF_HEADER} header, or use an API token)",
            api=is_api(request),
        )


async def _check_local(request: Request, local_csrf: str) -> None:
    """Local mode: only this machine's browsers and tools, and never on another site's behalf."""
    if not _is_loopback_host(request.headers.get("host", "")):
        raise Refused(
            403,
            "podium runs without access control (local mode) and answers only to"
            " 127.0.0.1, localhost or [::1]; to serve other hosts create an admin with"
            " `podium users add NAME --role admin`",
            api=is_api(request),
        )
    if request.method not in UNSAFE_METHODS:
        return
    if _is_cross_site(request):
        raise Refused(
            403,
            "refused a request another web site sent on your behalf (cross-site); use"
            " podium's own pages or the CLI",
            api=is_api(request),
        )
    if not is_api(request):
        await _check_csrf(request, local_csrf)


def _is_cross_site(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    parts = urlsplit(origin)
    return origin == "null" or parts.netloc.lower() != request.headers.get("host", "").lower()


def _is_loopback_host(host: str) -> bool:
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
