"""The webhook inbox page (``/webhooks``) and its replay button.

The inbox lives in ``podium.webhooks.inbox`` (``list_deliveries`` and ``replay``); it is
imported when the page is asked for, so the rest of the UI works without it and the page
says plainly when it is not available.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from podium.server.ui.context import Operator, PageNumber, Ui, Viewer
from podium.server.ui.render import query
from podium.server.ui.views import PAGE_SIZE, Page, offset_of

NOTICES = {"replayed": "Replay queued: the delivery will be processed again."}


def inbox_module() -> ModuleType | None:
    try:
        from podium.webhooks import inbox
    except ImportError:
        return None
    return inbox


def add_inbox(router: APIRouter, ui: Ui) -> None:
    @router.get("/webhooks", response_class=HTMLResponse)
    def webhooks(
        request: Request,
        who: Viewer,
        connection: str = "",
        status: str = "",
        page: PageNumber = 1,
        notice: str = "",
    ) -> HTMLResponse:
        inbox = inbox_module()
        found = (
            _deliveries(ui, inbox, connection.strip(), status.strip(), page)
            if inbox is not None
            else None
        )
        context = {
            "principal": who,
            "nav": "webhooks",
            "available": inbox is not None,
            "page": found,
            "connection": connection,
            "status": status,
            "statuses": list(getattr(inbox, "STATUSES", ())),
            "replayable": list(getattr(inbox, "REPLAYABLE", ())),
            "notice": NOTICES.get(notice, ""),
        }
        return ui.pages.respond("webhooks.html", request, context)

    @router.get("/webhooks/inbox/{delivery_id}", response_class=HTMLResponse)
    def delivery(request: Request, delivery_id: int, who: Viewer, notice: str = "") -> HTMLResponse:
        inbox = inbox_module()
        entry = inbox.show_delivery(ui.db, delivery_id) if inbox is not None else None
        context = {
            "principal": who,
            "nav": "webhooks",
            "available": inbox is not None,
            "entry": entry,
            "notice": NOTICES.get(notice, ""),
            "replayable": list(getattr(inbox, "REPLAYABLE", ())),
        }
        return ui.pages.respond("delivery.html", request, context)

    @router.post("/webhooks/inbox/{delivery_id}/replay")
    async def replay(request: Request, delivery_id: int, who: Operator) -> Response:
        inbox = inbox_module()
        if inbox is None:
            return ui.pages.respond(
                "error.html",
                request,
                {"status": 501, "message": "the webhook inbox is not available in this build"},
                status=501,
            )
        await run_in_threadpool(inbox.replay, ui.db, delivery_id)
        ui.wake()
        return RedirectResponse(
            query(f"/webhooks/inbox/{delivery_id}", notice="replayed"), status_code=303
        )


def _deliveries(ui: Ui, inbox: Any, connection: str, status: str, number: int) -> Page:
    rows = inbox.list_deliveries(
        ui.db,
        connection=connection or None,
        status=status or None,
        limit=PAGE_SIZE + 1,
        offset=offset_of(number, PAGE_SIZE),
    )
    items = [dict(r) for r in rows]
    total = None
    if hasattr(inbox, "count_deliveries"):
        total = inbox.count_deliveries(ui.db, connection=connection or None, status=status or None)
    return Page(items[:PAGE_SIZE], number, PAGE_SIZE, total, len(items) > PAGE_SIZE)
