"""How a refused request is answered: JSON for ``/api/...``, a page or a redirect for the UI.

``Refused`` is raised by ``podium.server.auth`` (inside ``require``) and turned into a
response once, by the handler ``install_refusals`` registers. It also adds the headers every
answer gets (no framing by other sites, no content sniffing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.server.pages import render

_TITLES = {400: "Bad request", 401: "Log-in needed", 403: "Not allowed", 429: "Too many attempts"}
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class Refused(Exception):
    """A request access control turns away: its status, a message that says what to do."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        api: bool,
        location: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.api = status, message, api
        self.location, self.headers = location, dict(headers or {})


def refusal_response(exc: Refused) -> Response:
    if exc.location is not None:
        return RedirectResponse(exc.location, status_code=exc.status, headers=exc.headers)
    if exc.api:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)
    page = render("refused.html", title=_TITLES.get(exc.status, "Refused"), message=exc.message)
    return HTMLResponse(page, status_code=exc.status, headers=exc.headers)


def install_refusals(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return refusal_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return refusal_response(http_refusal(request, exc))

    app.add_exception_handler(Refused, handle)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(RefuseNul)
    app.add_middleware(SecurityHeaders)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_HTTP_HINTS = {
    404: "no such route; see /docs for the API's routes",
    405: "this route does not take that method",
}


def http_refusal(request: Request, exc: HTTPException) -> Refused:
    """Starlette's own refusals (no route, wrong method, an unreadable body) said the way
    podium says every refusal: ``{"error": …}`` from the API, a page from the UI."""
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code in _HTTP_HINTS:
        message = f"{message}: {_HTTP_HINTS[exc.status_code]}"
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message += f" (it takes {', '.join(allowed)})"
    return Refused(exc.status_code, message, api=_wants_json(request.scope), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at this path (one route per method is
    usual, so the route that refused knows only its own)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]


_WHERE = {"query": "query parameter", "path": "path parameter", "header": "header"}
_HINTS = {
    "extra_forbidden": "this route does not take it; remove it",
    "missing": "add it",
}


def problems_of(exc: RequestValidationError) -> str:
    """What is wrong with a request, one ``where: what (got …)`` per problem, for people."""
    return "; ".join(_problem(e) for e in exc.errors()[:5])


def _problem(error: dict[str, Any]) -> str:
    location = [str(p) for p in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'malformed')})"
    kind, names = (location[0], location[1:]) if location else ("body", [])
    if kind == "body":
        where = f"body field {'.'.join(names)}" if names else "the body"
    else:
        where = f"{_WHERE.get(kind, kind)} {'.'.join(names)}"
    what = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    hint = _HINTS.get(str(error.get("type", "")))
    given = error.get("input")
    shown = (
        f" (got {given!r:.60})" if isinstance(given, str | int | float) and kind != "body" else ""
    )
    return f"{where}: {what}{shown}" + (f"; {hint}" if hint else "")


class RefuseNul:
    """Answers 400 to a URL with a NUL character (``%00``) in its path or query: no name,
    id or filter podium keeps can hold one, and PostgreSQL refuses text that does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            message = "the URL has a NUL character (%00) in its path or query; remove it"
            refused = Refused(400, message, api=_wants_json(scope))
            await refusal_response(refused)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _wants_json(scope: Scope) -> bool:
    """The API and the webhook receiver answer JSON; the UI's pages answer HTML."""
    path = str(scope.get("path", ""))
    receiver = path.startswith("/webhooks/") and not path.startswith("/webhooks/inbox/")
    return path.startswith("/api") or (receiver and scope.get("method") == "POST")


def has_nul(scope: Scope) -> bool:
    query = bytes(scope.get("query_string", b"")).lower()
    return "\x00" in str(scope.get("path", "")) or b"%00" in query or b"\x00" in query


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
