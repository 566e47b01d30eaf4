"""Delivering podium's events to outgoing webhooks, signed, each one once.

One ``OutgoingWebhookSubscriber`` per hook in ``outgoing_webhooks:``. ``handle`` (called
with each batch of new events) records a delivery for every matching event in
``notifications_sent`` (key ``outgoing_webhook:NAME:SEQ``, status ``pending``) and returns
at once; the deliveries are made by a short-lived background thread, so a slow or failing
receiver holds up neither the next events nor the other subscribers. A delivery is POSTed as

    {"id": SEQ, "type": "RunFinished", "at": "2026-01-02T05:00:00.123Z", "run_id": …,
     "task_id": …, "workflow": …, "payload": {…}}            (secrets masked)

with ``Podium-Signature: t=…,v1=…`` and ``Podium-Signature-256`` (``podium.outgoing.signing``),
``Podium-Event-Id`` and ``Podium-Event-Type``. A 2xx marks it ``delivered``; anything else is tried again after
``retry_delay``, doubling, until ``attempts`` tries, then it is ``failed`` with the (masked)
reason. Each try is claimed first (a compare-and-set on the attempt count), so a restart or
a replayed batch never sends a delivered event again; a try cut off by a crash is made
again after its wait, and receivers dedupe such rare repeats on ``Podium-Event-Id``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from podium import clock
from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.notify.feed import RunWorkflows, StoredEvent, event_at, record_pending
from podium.notify.runner import BackgroundPass
from podium.outgoing import signing
from podium.outgoing.hooks_config import OutgoingWebhook, outgoing_webhooks
from podium.settings.secrets import url_secrets
from podium.store.database import Database
from podium.version import __version__

log = logging.getLogger("podium.outgoing")
PREFIX = "outgoing_webhook"
_PASS_LIMIT = 200  # deliveries looked at per pass
_EXCERPT = 200


def outgoing_subscribers(project: Project, db: Database) -> list[OutgoingWebhookSubscriber]:
    return [
        OutgoingWebhookSubscriber(db, hook, project.secrets)
        for hook in outgoing_webhooks(project.outgoing_webhooks)
    ]


class OutgoingWebhookSubscriber:
    """Delivers the events one hook subscribes to (a ``notify.runner.Subscriber``)."""

    def __init__(
        self,
        db: Database,
        hook: OutgoingWebhook,
        secrets: frozenset[str] = frozenset(),
        *,
        clock: Callable[[], float] = clock.time,
        background: bool = True,
    ) -> None:
        self.db, self.hook, self.clock = db, hook, clock
        self.name = f"{PREFIX}:{hook.name}"
        self.mask = Masker([*secrets, hook.secret, *url_secrets(hook.url)])
        self.background = background
        self._client = httpx.Client(timeout=hook.timeout, follow_redirects=False)
        self._run_workflow = RunWorkflows(db)
        self._pass = BackgroundPass(self._work, self.name)
        self._next_due: float | None = 0.0  # look once at start: deliveries left pending

    # -- the Subscriber protocol -----------------------------------------------------------
    def handle(self, events: Sequence[StoredEvent]) -> None:
        """Records a pending delivery for each matching event (a replayed one is kept)."""
        now = self.clock()
        keys = [self.key(e.seq) for e in events if self.matches(e)]
        if keys:
            record_pending(self.db, self.name, [(key, now) for key in keys])
            self._start_pass()

    def tick(self, now: float) -> None:
        """Starts a delivery pass when one is due (in the background unless told not to)."""
        if self._next_due is not None and now >= self._next_due:
            self._start_pass()

    def _start_pass(self) -> None:
        if self.background:
            self._pass.kick()
        else:
            self.deliver_due()

    def close(self) -> None:
        """Waits for a pass in progress, then closes the HTTP client."""
        self._pass.join(self.hook.timeout + 5)
        self._client.close()

    # -- matching ---------------------------------------------------------------------------
    def key(self, seq: int) -> str:
        return f"{self.name}:{seq}"

    def matches(self, event: StoredEvent) -> bool:
        if event.type not in self.hook.events:
            return False
        return not self.hook.workflows or self.workflow_of(event) in self.hook.workflows

    def workflow_of(self, event: StoredEvent) -> str | None:
        named = event.payload.get("workflow")
        if isinstance(named, str):
            return named
        return self._run_workflow(event.run_id)

    # -- delivering -------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self.deliver_due()
        except Exception:  # noqa: BLE001 - a broken pass must not end the subscriber
            log.exception("outgoing webhook %s: a delivery pass failed", self.hook.name)
            self._next_due = self.clock() + self.hook.retry_delay

    def deliver_due(self) -> int:
        """Makes every delivery that is due now; the number of tries made."""
        now = self.clock()
        pending = self._pending()
        due = [p for p in pending if p[2] <= now][:_PASS_LIMIT]
        tries = sum(1 for seq, attempts, _ in due if self._deliver(seq, attempts))
        if due:  # their states moved on
            pending = self._pending()
        self._next_due = min((p[2] for p in pending), default=None)
        return tries

    def _pending(self) -> list[tuple[int, int, float]]:
        """(seq, attempts, when due) of this hook's pending deliveries, oldest event first."""
        rows = self.db.read().fetchall(
            "SELECT key, attempts, at FROM notifications_sent WHERE notifier = ?"
            " AND status = 'pending'",
            (self.name,),
        )
        return sorted(
            (_seq_of(str(r[0])), int(r[1]), float(r[2]) + self.hook.retry_wait(int(r[1])))
            for r in rows
        )

    def _deliver(self, seq: int, attempts: int) -> bool:
        """One try of event ``seq``'s delivery; False when another pass took it first."""
        key = self.key(seq)
        if attempts >= self.hook.attempts:  # the last try was cut off (podium stopped)
            self._finish(key, attempts, "failed", "the last try was cut off; giving up")
            return False
        number = attempts + 1
        with self.db.transaction() as tx:
            claimed = tx.execute(
                "UPDATE notifications_sent SET attempts = ?, at = ? WHERE key = ?"
                " AND attempts = ? AND status = 'pending'",
                (number, self.clock(), key, attempts),
            )
        if claimed != 1:
            return False
        event = event_at(self.db, seq)
        error = self._post(event, number) if event else f"event {seq} is no longer stored"
        self._record(key, number, error)
        return True

    def _record(self, key: str, number: int, error: str | None) -> None:
        if error is None:
            self._finish(key, number, "delivered", None)
        elif number >= self.hook.attempts or error.startswith("event "):
            log.warning("outgoing webhook %s: %s failed for good: %s", self.hook.name, key, error)
            self._finish(key, number, "failed", error)
        else:
            wait = self.hook.retry_wait(number)
            log.info(
                "outgoing webhook %s: %s: %s; retry in %.0fs", self.hook.name, key, error, wait
            )
            self._finish(key, number, "pending", error)

    def _finish(self, key: str, number: int, status: str, error: str | None) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE notifications_sent SET status = ?, error = ?, attempts = ?"
                " WHERE key = ? AND attempts <= ?",
                (status, error, number, key, number),
            )

    def _post(self, event: StoredEvent, number: int) -> str | None:
        """Sends one try; None when the receiver answered 2xx, else why not (masked)."""
        body = self.body(event)
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"podium/{__version__}",
            signing.HEADER: signing.signature_header(self.hook.secret, timestamp, body),
            signing.BODY_HEADER: signing.body_signature_header(self.hook.secret, body),
            signing.EVENT_ID_HEADER: str(event.seq),
            signing.EVENT_TYPE_HEADER: event.type,
            "Podium-Delivery-Attempt": str(number),
        }
        try:
            response = self._client.post(self.hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return self.mask(f"{type(exc).__name__}: {exc or 'no answer'}")
        if 200 <= response.status_code < 300:
            return None
        excerpt = " ".join(response.text.split())[:_EXCERPT]
        status = f"{response.status_code} {response.reason_phrase}".rstrip()
        return self.mask(f"{status}: {excerpt}" if excerpt else status)

    def body(self, event: StoredEvent) -> bytes:
        """The JSON posted for ``event``: the same bytes on every try."""
        document: dict[str, Any] = {
            "id": event.seq,
            "type": event.type,
            "at": _iso(event.at),
            "run_id": event.run_id,
            "task_id": event.task_id,
            "workflow": self.workflow_of(event),
            "payload": self.mask.data(event.payload),
        }
        return json.dumps(document, separators=(",", ":"), default=str).encode()


def _seq_of(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
