"""The webhook inbox page (``/webhooks``), one delivery's page, and its replay button,
over the service functions of ``podium.webhooks.inbox``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from podium.server.ui.context import DeliveryId, Operator, PageNumber, Ui, Viewer
from podium.server.ui.render import query
from podium.server.ui.views import PAGE_SIZE, Page, offset_of, runs_of_delivery
from podium.webhooks import inbox

NOTICES = {"replayed": "Replay queued: the delivery will be processed again."}


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
        context = {
            "principal": who,
            "nav": "webhooks",
            "page": _deliveries(ui, connection.strip(), status.strip(), page),
            "connection": connection,
            "status": status,
            "statuses": list(inbox.STATUSES),
            "replayable": list(inbox.REPLAYABLE),
            "notice": NOTICES.get(notice, ""),
        }
        return ui.pages.respond("webhooks.html", request, context)

    @router.get("/webhooks/inbox/{delivery_id}", response_class=HTMLResponse)
    def delivery(
        request: Request, delivery_id: DeliveryId, who: Viewer, notice: str = ""
    ) -> HTMLResponse:
        context = {
            "principal": who,
            "nav": "webhooks",
            "entry": inbox.show_delivery(ui.db, delivery_id),
            "runs": runs_of_delivery(ui.db, delivery_id),
            "notice": NOTICES.get(notice, ""),
            "replayable": list(inbox.REPLAYABLE),
        }
        return ui.pages.respond("delivery.html", request, context)

    @router.post("/webhooks/inbox/{delivery_id}/replay")
    async def replay(request: Request, delivery_id: DeliveryId, who: Operator) -> Response:
        await run_in_threadpool(inbox.replay, ui.db, delivery_id)
        ui.wake()
        return RedirectResponse(
            query(f"/webhooks/inbox/{delivery_id}", notice="replayed"), status_code=303
        )


def _deliveries(ui: Ui, connection: str, status: str, number: int) -> Page:
    rows = inbox.list_deliveries(
        ui.db,
        connection=connection or None,
        status=status or None,
        limit=PAGE_SIZE + 1,
        offset=offset_of(number, PAGE_SIZE),
    )
    items = [{**r, "runs": runs_of_delivery(ui.db, int(r["id"]))} for r in rows]
    total = inbox.count_deliveries(ui.db, connection=connection or None, status=status or None)
    return Page(items[:PAGE_SIZE], number, PAGE_SIZE, total, len(items) > PAGE_SIZE)
