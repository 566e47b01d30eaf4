"""The webhook receiver (``POST /webhooks/{connection}``) and the inbox API.

The receiver is PUBLIC: senders (Shopify, Stripe, Klaviyo, …) hold no podium login or
token, so it takes no ``require`` dependency; the signature on the raw body, checked with
the connection's secret, is its authentication. Its answers:

    200  stored (or a redelivery of a stored id: nothing changes)  {"status", "id"}
    200  {"status": "replay"}: a body-signed delivery (Shopify, hmac) whose body arrived
         within the connection's replay_window under another id; nothing is stored. A 2xx,
         not a refusal: a sender retries any non-2xx (Shopify for 48 hours, then drops
         the subscription), and a replay must be a no-op, not a loop of retries
    400  not JSON, or no delivery id where the scheme needs one
    401  missing or bad signature, or a timestamp outside the tolerance; nothing stored
    404  no such connection, or it receives no webhooks
    413  the body is larger than the connection's ``max_body`` (default 1 MiB)
    503  the store could not take the delivery; the sender retries

A 200 is sent only after the delivery is committed to the inbox (``InboxWriter``).

``GET /api/webhooks``, ``GET /api/webhooks/{id}`` (viewer) and
``POST /api/webhooks/{id}/replay`` (operator) are ordinary access-controlled routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from enum import StrEnum
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Query

from podium import clock
from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.server import auth
from podium.server.openapi import MAX_ID, MAX_OFFSET, guarded
from podium.server.shapes import DeliveryDetailOut, DeliveryOut, ReplayedOut, answers
from podium.store.database import Database
from podium.webhooks import inbox
from podium.webhooks.settings import WebhookSettings, all_webhook_settings
from podium.webhooks.verify import BodyTooLarge, WebhookRejected, verify_delivery
from podium.webhooks.writer import InboxWriter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class DeliveryStatus(StrEnum):
    """An inbox entry's status (``podium.webhooks.inbox.STATUSES``)."""

    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"
    DEAD = "dead"


#: an inbox entry's id in a path
InboxId = Annotated[int, Path(ge=1, le=MAX_ID, description="the inbox entry's id")]


class ClientGone(Exception):
    """The sender hung up before its body arrived."""


def add_webhook_routes(
    app: FastAPI, project: Project, db: Database, wake: Callable[[], None]
) -> InboxWriter:
    """Mounts the receiver and the inbox API on ``app``; returns the receiver's writer."""
    writer = InboxWriter(db, wake)
    app.router.on_shutdown.append(writer.close)
    settings = all_webhook_settings(project.connections)
    receiver = WebhookReceiver(settings, writer, Masker(project.secrets))
    # A bare ASGI route: FastAPI's request and parameter machinery costs more per delivery
    # than verifying and storing it does (see bench/webhooks.py).
    app.router.add_route(
        "/webhooks/{connection}", cast(Any, receiver), methods=["POST"], name="receive_webhook"
    )
    app.include_router(_inbox_api(db, wake))
    return writer


class WebhookReceiver:
    """``POST /webhooks/{connection}``, as an ASGI app. PUBLIC (no log-in, no token): the
    signature on the raw body is the proof. Verifies a delivery with its connection's
    webhook secret, stores it in the inbox (deduplicated on its delivery id) and answers
    once that is committed."""

    def __init__(
        self, settings: dict[str, WebhookSettings], writer: InboxWriter, mask: Masker
    ) -> None:
        self.settings, self.writer, self.mask = settings, writer, mask

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, content = await self.answer(scope, receive)
        except ClientGone:
            return
        body = orjson.dumps(content)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        connection = scope["path_params"]["connection"]
        found = self.settings.get(connection)
        if found is None:
            return 404, {"error": f"no connection {connection!r} receives webhooks"}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await read_body(receive, headers.get("content-length", ""), found.max_body)
            delivery = verify_delivery(found, headers, body, now=clock.time())
        except WebhookRejected as exc:
            return exc.status, {"error": self.mask(str(exc))}
        try:
            stored = await self.writer.store(delivery)
        except Exception as exc:  # noqa: BLE001 - the sender must retry; say why
            message = f"the inbox could not store the delivery ({type(exc).__name__}: {exc})"
            return 503, {"error": self.mask(message) + "; send it again later"}
        status = "replay" if stored.replay else "duplicate" if stored.duplicate else "stored"
        return 200, {"status": status, "id": stored.inbox_id}


async def read_body(receive: Receive, declared: str, limit: int) -> bytes:
    """The request's body; BodyTooLarge as soon as more than ``limit`` bytes arrive
    (a Content-Length over the limit is refused before reading)."""
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body ({int(declared)} bytes) is over the {limit}-byte limit")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _inbox_api(db: Database, wake: Callable[[], None]) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    viewer = [Depends(auth.require("viewer"))]

    @router.get(
        "/api/webhooks",
        dependencies=viewer,
        response_model=None,
        responses={**answers(list[DeliveryOut]), **guarded()},
    )
    def list_deliveries(
        connection: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> list[dict[str, Any]]:
        """Inbox entries, newest first (without bodies)."""
        chosen = status.value if status else None
        return inbox.list_deliveries(
            db, connection=connection, status=chosen, limit=limit, offset=offset
        )

    @router.get(
        "/api/webhooks/{inbox_id}",
        dependencies=viewer,
        response_model=None,
        responses={**answers(DeliveryDetailOut), **guarded(404)},
    )
    def show_delivery(inbox_id: InboxId) -> dict[str, Any]:
        """One entry with its headers (signatures redacted) and body."""
        return inbox.show_delivery(db, inbox_id)

    @router.post(
        "/api/webhooks/{inbox_id}/replay",
        dependencies=[Depends(auth.require("operator"))],
        response_model=None,
        responses={**answers(ReplayedOut), **guarded(404, 409)},
    )
    def replay(inbox_id: InboxId) -> dict[str, Any]:
        """Processes a processed, failed or dead entry again: its workflows start again."""
        entry = inbox.replay(db, inbox_id)
        wake()
        return entry

    return router
