"""How a refused request is answered: JSON for ``/api/...``, a page or a redirect for the UI.

``Refused`` is raised by ``podium.server.auth`` (inside ``require``) and turned into a
response once, by the handler ``install_refusals`` registers. It also adds the headers every
answer gets (no framing by other sites, no content sniffing).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.server.pages import render

_TITLES = {401: "Log-in needed", 403: "Not allowed", 429: "Too many attempts"}
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

    app.add_exception_handler(Refused, handle)
    app.add_middleware(SecurityHeaders)


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
