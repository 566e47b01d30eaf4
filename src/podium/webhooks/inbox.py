"""The webhook inbox: verified deliveries, kept durably before they are acknowledged.

One row per (connection, delivery id); a redelivery changes nothing. A body-signed
delivery (Shopify, hmac) whose body the connection received within its ``replay_window``
changes nothing either, whatever its id: it is a ``replay`` (the id is not signed). The engine processes
each ``pending`` row once (``podium.engine.webhook_runs``); a processing failure makes it
``failed`` until its next attempt, and after the connection's ``max_attempts`` ``dead``.
``replay`` puts a processed or dead row back to ``pending``: a deliberate new processing
that starts the triggered workflows again.

The CLI (``podium webhooks``), the API (``/api/webhooks``) and the UI call these functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podium import clock
from podium.errors import ConflictError, NotFoundError, UsageError
from podium.store.database import Database, Tx
from podium.webhooks.verify import REDACTED, SIGNATURE_HEADERS, Delivery

STATUSES = ("pending", "processed", "failed", "dead")
REPLAYABLE = ("processed", "dead", "failed")
_LISTED = (
    "id, connection, delivery_id, topic, received_at, status, attempts, last_error,"
    " processed_at, next_attempt_at, replays"
)


@dataclass(frozen=True)
class Stored:
    """Where a delivery is in the inbox, and whether this request put it there."""

    inbox_id: int
    duplicate: bool
    replay: bool = False  # the same body arrived under another delivery id


def store_deliveries(db: Database, deliveries: Sequence[Delivery], now: float) -> list[Stored]:
    """Inserts the deliveries in one transaction (committed on return), in order."""
    with db.transaction() as tx:
        return [_store(tx, delivery, now) for delivery in deliveries]


def _store(tx: Tx, d: Delivery, now: float) -> Stored:
    if d.body_digest and d.replay_window > 0:
        tx.lock(f"podium.webhook.{d.connection}.{d.body_digest}")
        seen = tx.fetchone(
            "SELECT id, delivery_id FROM webhook_inbox WHERE connection = ? AND body_digest = ?"
            " AND received_at >= ? ORDER BY id LIMIT 1",
            (d.connection, d.body_digest, now - d.replay_window),
        )
        if seen is not None:
            return Stored(int(seen[0]), duplicate=True, replay=seen[1] != d.delivery_id)
    row = tx.fetchone(
        "INSERT INTO webhook_inbox (connection, delivery_id, topic, received_at, headers, body,"
        " status, body_digest) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)"
        " ON CONFLICT (connection, delivery_id) DO NOTHING RETURNING id",
        (d.connection, d.delivery_id, d.topic, now, json.dumps(d.headers), d.body, d.body_digest),
    )
    if row is not None:
        return Stored(int(row[0]), duplicate=False)
    found = tx.fetchone(
        "SELECT id FROM webhook_inbox WHERE connection = ? AND delivery_id = ?",
        (d.connection, d.delivery_id),
    )
    assert found is not None, (d.connection, d.delivery_id)  # noqa: S101 - just conflicted
    return Stored(int(found[0]), duplicate=True)


def list_deliveries(
    db: Database,
    *,
    connection: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Inbox entries, newest first, without their bodies."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown webhook status {status!r}; one of {', '.join(STATUSES)}")
    where, args = [], []
    if connection is not None:
        where.append("connection = ?")
        args.append(connection)
    if status is not None:
        where.append("status = ?")
        args.append(status)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = db.read().fetchall(
        f"SELECT {_LISTED} FROM webhook_inbox{clause} ORDER BY id DESC LIMIT ? OFFSET ?",
        (*args, max(0, int(limit)), max(0, int(offset))),
    )
    return [_entry(row) for row in rows]


def count_deliveries(
    db: Database, *, connection: str | None = None, status: str | None = None
) -> int:
    where = " AND ".join(
        c for c, v in (("connection = ?", connection), ("status = ?", status)) if v is not None
    )
    args = [v for v in (connection, status) if v is not None]
    row = db.read().fetchone(
        "SELECT COUNT(*) FROM webhook_inbox" + (f" WHERE {where}" if where else ""), args
    )
    return int(row[0]) if row else 0


def show_delivery(db: Database, inbox_id: int) -> dict[str, Any]:
    """One entry with its headers (signatures redacted) and body."""
    row = db.read().fetchone(
        f"SELECT {_LISTED}, headers, body FROM webhook_inbox WHERE id = ?", (int(inbox_id),)
    )
    if row is None:
        raise NotFoundError(
            f"no webhook delivery {inbox_id} in the inbox; see podium webhooks list"
        )
    entry = _entry(row[:-2])
    headers = json.loads(row[-2])
    signatures = set(SIGNATURE_HEADERS.values())
    entry["headers"] = {k: REDACTED if k in signatures else v for k, v in headers.items()}
    entry["body"] = row[-1]
    try:
        entry["payload"] = json.loads(row[-1])
    except ValueError:
        entry["payload"] = None
    return entry


def replay(db: Database, delivery_id: int) -> dict[str, Any]:
    """Puts a processed, failed or dead entry back to ``pending``: it is processed again
    and starts its triggered workflows again (new runs)."""
    with db.transaction() as tx:
        row = tx.fetchone(
            f"SELECT status FROM webhook_inbox WHERE id = ?{tx.for_update}", (int(delivery_id),)
        )
        if row is None:
            raise NotFoundError(
                f"no webhook delivery {delivery_id} in the inbox; see podium webhooks list"
            )
        if row[0] not in REPLAYABLE:
            raise ConflictError(
                f"webhook delivery {delivery_id} is {row[0]}: it will be processed soon; "
                "replay it once it is processed or dead"
            )
        tx.execute(
            "UPDATE webhook_inbox SET status = 'pending', attempts = 0, next_attempt_at = NULL,"
            " last_error = NULL, replays = replays + 1 WHERE id = ?",
            (int(delivery_id),),
        )
        row = tx.fetchone(f"SELECT {_LISTED} FROM webhook_inbox WHERE id = ?", (delivery_id,))
        tx.notify = True
    assert row is not None  # noqa: S101 - updated just now
    return _entry(row) | {"replayed_at": _iso(clock.time())}


def _entry(row: Sequence[Any]) -> dict[str, Any]:
    inbox_id, connection, delivery_id, topic, received, status, attempts, error = row[:8]
    processed, next_attempt, replays = row[8:11]
    return {
        "id": int(inbox_id),
        "connection": connection,
        "delivery_id": delivery_id,
        "topic": topic,
        "received_at": _iso(received),
        "status": status,
        "attempts": int(attempts),
        "last_error": error,
        "processed_at": _iso(processed),
        "next_attempt_at": _iso(next_attempt),
        "replays": int(replays),
    }


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(float(ts), UTC).isoformat() if ts is not None else None
