"""``GET/POST /login`` and ``POST /logout``: UI sessions in an HttpOnly, SameSite=Lax cookie.

The log-in form is protected by a double-submit cookie (no log-in CSRF); failed log-ins are
slowed down and, after a few in a row, refused for a while per user name and per address.
A try is checked against the lock-out and counted as a failure in one step, before its
password is checked (``LoginGuard.admit``): forty guesses sent at once for one user get
five password checks, not forty. A success takes its count back. The counts live in the
process: each ``podium up`` serving one store keeps its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.server import access, auth
from podium.server import credentials as cred
from podium.server.pages import render
from podium.server.refusals import Refused, refusal_response

FAILURE_DELAY = 0.4  # seconds every failed log-in waits before it is answered
SignedIn = Annotated[auth.Principal, Depends(auth.require("viewer"))]


@dataclass
class Throttle:
    """Failed log-ins per key (a user name, an address): after ``limit`` failures within
    ``window`` seconds the key is refused until ``lock`` seconds after its last failure."""

    limit: int
    window: float = 900.0
    lock: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def wait_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        recent = self._recent(key)
        if len(recent) < self.limit:
            return 0.0
        return max(0.0, recent[-1] + self.lock - self.clock())

    def failed(self, key: str) -> None:
        self._failures[key] = [*self._recent(key), self.clock()][-self.limit :]

    def forgive(self, key: str) -> None:
        """Takes back one counted failure (a try admitted, then successful)."""
        recent = self._recent(key)
        self._failures[key] = recent[:-1]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> list[float]:
        since = self.clock() - self.window
        return [t for t in self._failures.get(key, []) if t > since]


@dataclass
class LoginGuard:
    users: Throttle = field(default_factory=lambda: Throttle(limit=5))
    addresses: Throttle = field(default_factory=lambda: Throttle(limit=20))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self, request: Request, name: str) -> tuple[str, str]:
        address = request.client.host if request.client else "?"
        return f"user:{name.lower()}", f"addr:{address}"

    def wait_for(self, request: Request, name: str) -> float:
        user_key, address_key = self.keys(request, name)
        return max(self.users.wait_for(user_key), self.addresses.wait_for(address_key))

    def admit(self, request: Request, name: str) -> float:
        """0 and the try counted as a failure, at once; else the seconds to wait."""
        user_key, address_key = self.keys(request, name)
        with self._lock:
            wait = max(self.users.wait_for(user_key), self.addresses.wait_for(address_key))
            if wait == 0:
                self.users.failed(user_key)
                self.addresses.failed(address_key)
            return wait

    def succeeded(self, request: Request, name: str) -> None:
        """An admitted try was right: its user's failures are cleared, its count taken back."""
        user_key, address_key = self.keys(request, name)
        with self._lock:
            self.users.succeeded(user_key)
            self.addresses.forgive(address_key)


def login_router(guard: LoginGuard | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    guard = guard or LoginGuard()

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> Response:
        target = auth.safe_next(next)
        control = auth.access_control(request)
        if not await run_in_threadpool(control.is_enforced):
            return _page(request, enabled=False, next=target)
        cookie = request.cookies.get(auth.SESSION_COOKIE, "")
        if cookie and await control.session(cookie) is not None:
            return RedirectResponse(target, status_code=303)
        return _page(request, enabled=True, next=target)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = _text(form.get("username")), _text(form.get("password"))
        target = auth.safe_next(_text(form.get("next")) or "/")
        control = auth.access_control(request)
        if not await run_in_threadpool(control.is_enforced):
            return RedirectResponse(target, status_code=303)
        if not cred.same(_text(form.get(auth.CSRF_FIELD)), auth.login_csrf(request)):
            return refusal_response(_stale_form())
        wait = guard.admit(request, name)  # checked and counted in one step
        if wait > 0:
            return refusal_response(_throttled(wait))
        user = await run_in_threadpool(access.check_password, control.db, name, password)
        if user is None:
            await asyncio.sleep(FAILURE_DELAY)
            error = "Wrong user name or password."
            return _page(request, enabled=True, next=target, error=error, username=name, status=401)
        guard.succeeded(request, name)
        session_id, _csrf = await run_in_threadpool(
            access.create_session, control.db, user.name, now=control.clock()
        )
        response = RedirectResponse(target, status_code=303)
        _set_session_cookie(request, response, session_id)
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request, principal: SignedIn) -> Response:
        cookie = request.cookies.get(auth.SESSION_COOKIE, "")
        if principal.via == "session" and cookie:
            control = auth.access_control(request)
            await run_in_threadpool(access.end_session, control.db, cookie)
        response = RedirectResponse("/login" if principal.via == "session" else "/", 303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    return router


def _page(
    request: Request,
    *,
    enabled: bool,
    next: str,
    error: str = "",
    username: str = "",
    status: int = 200,
) -> HTMLResponse:
    csrf = auth.login_csrf(request) if enabled else ""
    html = render(
        "login.html",
        title="Log in",
        enabled=enabled,
        next=next,
        error=error,
        username=username,
        csrf=csrf,
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if enabled and request.cookies.get(auth.LOGIN_CSRF_COOKIE) != csrf:
        response.set_cookie(
            auth.LOGIN_CSRF_COOKIE,
            csrf,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=auth.is_https(request),
        )
    return response


def _set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        auth.SESSION_COOKIE,
        session_id,
        max_age=int(access.SESSION_MAX),
        path="/",
        httponly=True,
        samesite="lax",
        secure=auth.is_https(request),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _stale_form() -> Refused:
    return Refused(
        403,
        "the log-in form expired or did not come from this site; open /login again",
        api=False,
    )


def _throttled(wait: float) -> Refused:
    return Refused(
        429,
        f"too many failed log-ins; try again in {int(wait) + 1} seconds",
        api=False,
        headers={"Retry-After": str(int(wait) + 1)},
    )
