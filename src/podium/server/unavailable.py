"""How a request is answered while the store is away: 503 with the reason and a
``Retry-After``, as JSON under ``/api/`` and as a page for the UI; never a false 2xx."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from podium.core.masking import Masker
from podium.errors import StoreUnavailableError
from podium.server.pages import render

#: seconds a client is told to wait before asking again
RETRY_AFTER = 5


def unavailable_response(request: Request, exc: StoreUnavailableError, mask: Masker) -> Response:
    message = mask(str(exc))
    headers = {"Retry-After": str(RETRY_AFTER)}
    if request.url.path.startswith("/api/"):
        body = {"error": message, "reason": "store_unavailable"}
        return JSONResponse(body, status_code=503, headers=headers)
    page = render(
        "unavailable.html", title="Store unavailable", message=message, retry_after=RETRY_AFTER
    )
    return HTMLResponse(page, status_code=503, headers=headers)


def install_unavailable(app: FastAPI, mask: Masker) -> None:
    """Every route's ``StoreUnavailableError`` becomes a 503 (before the generic
    PodiumError handler, which would answer 500)."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreUnavailableError)
        return unavailable_response(request, exc, mask)

    app.add_exception_handler(StoreUnavailableError, handle)
