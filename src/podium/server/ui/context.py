"""What every UI route shares: the project, the store, the engine's wake-up and the pages;
and the route class that turns podium's errors into HTML pages instead of JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from podium.core.workflow import Project
from podium.errors import ConflictError, NotFoundError, PodiumError, UsageError
from podium.server.auth import Principal, require
from podium.server.openapi import MAX_ID
from podium.server.refusals import problems_of
from podium.server.ui.render import Pages
from podium.store.database import Database


@dataclass(frozen=True)
class Ui:
    project: Project
    db: Database
    wake: Callable[[], None]
    pages: Pages


def error_status(exc: PodiumError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    return 400 if isinstance(exc, UsageError) else 500


def html_errors(pages: Pages) -> type[APIRoute]:
    """A route class whose routes answer a PodiumError or a bad query with an HTML page
    that says what went wrong (masked, escaped), never a traceback or JSON."""

    class HtmlErrorRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except PodiumError as exc:
                    return _page(request, error_status(exc), str(exc))
                except RequestValidationError as exc:
                    return _page(request, 400, f"bad request: {problems_of(exc)}")

            return handle

    def _page(request: Request, status: int, message: str) -> Response:
        return pages.respond(
            "error.html", request, {"status": status, "message": message}, status=status
        )

    return HtmlErrorRoute


#: the principal of a page (any signed-in role) and of an action (operator or admin)
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
#: a page number from the query string
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
#: an attempt number from the query string (0: the latest)
AttemptNumber = Annotated[int, Query(ge=0, le=1_000_000)]
#: a webhook inbox entry's id in a path
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID)]
