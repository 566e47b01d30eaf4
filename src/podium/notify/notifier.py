"""A notification rule as an event subscriber: each alert recorded once, then delivered.

``handle`` turns the events that are alerts for this rule (``rules.classify``, the rule's
states and workflows) into rows of ``notifications_sent``, keyed by the alert and inserted
only if absent: a redelivered batch, a restart or a second ``podium up`` adds nothing.
``tick`` delivers the rows that are due: each is claimed first (``pending`` → ``sending``,
committed), sent, then marked ``sent``, or ``pending`` again after a backoff, or
``failed`` after ``MAX_TRIES``. A crash while sending leaves the row ``sending``, and it
is not sent again: an alert goes out at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from podium import clock
from podium.core.alerts import NotifyRule
from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.notify.delivery import Destination, Message, redact
from podium.notify.facts import load_facts, previous_failure
from podium.notify.feed import RunWorkflows, StoredEvent, record_pending
from podium.notify.messages import compose
from podium.notify.rules import AlertRef, classify, parse_key, run_prefix
from podium.notify.runner import BackgroundPass
from podium.store.database import Database

log = logging.getLogger("podium.notify")

MAX_TRIES = 4
#: seconds to wait before the 2nd, 3rd and 4th try
BACKOFF = (10.0, 60.0, 300.0)
_BATCH = 100


class Notifier:
    """Sends the alerts of one ``rule`` to its ``destination``."""

    def __init__(
        self,
        rule: NotifyRule,
        project: Project,
        db: Database,
        destination: Destination,
        *,
        clock: Callable[[], float] = clock.time,
        mask: Masker | None = None,
        background: bool = False,
    ) -> None:
        self.rule, self.project, self.db = rule, project, db
        self.destination, self.clock = destination, clock
        self.background = background  # deliver in a thread of its own (podium up)
        self.mask = mask or Masker(project.secrets)
        self.name = f"notify.{rule.name}"  # the feed cursor's name
        self.owner = f"notify:{rule.name}"  # notifications_sent.notifier
        self._workflow_of = RunWorkflows(db)
        self._asked = 0.0  # the latest ``now`` a delivery pass was asked for
        self._pass = BackgroundPass(lambda: self.deliver_due(self._asked), f"podium-{self.name}")

    # -- Subscriber ----------------------------------------------------------------------------
    def handle(self, events: Sequence[StoredEvent]) -> None:
        alerts = [ref for event in events if (ref := self.alert_for(event)) is not None]
        if not alerts:
            return
        now = self.clock()
        # a microsecond apart: delivered in the events' order
        record_pending(self.db, self.owner, [(r.key, now + i * 1e-6) for i, r in enumerate(alerts)])
        self.tick(now + len(alerts) * 1e-6)

    def tick(self, now: float) -> None:
        """Delivers every alert that is due (new ones, and retries whose wait is over); in
        the background, a slow SMTP server holds up no other subscriber."""
        if not self.background:
            self.deliver_due(now)
            return
        self._asked = max(self._asked, now)
        self._pass.kick()

    def deliver_due(self, now: float) -> None:
        rows = self.db.read().fetchall(
            "SELECT key FROM notifications_sent WHERE notifier = ? AND status = 'pending'"
            " AND at <= ? ORDER BY at, key LIMIT ?",
            (self.owner, now, _BATCH),
        )
        for (key,) in rows:
            self._deliver(str(key))

    # -- which events are alerts ---------------------------------------------------------------
    def alert_for(self, event: StoredEvent) -> AlertRef | None:
        found = classify(event)
        if found is None:
            return None
        workflow = found.workflow or self._workflow_of(found.run_id)
        if workflow is None or not self.rule.covers(found.state, workflow):
            return None
        if found.state == "sla_missed":
            return AlertRef(self.rule.name, found.state, workflow=workflow, date=found.date)
        run_id = str(found.run_id)
        if found.state == "recovered" and not self._was_failing(run_id, workflow):
            return None
        round_ = self._round(run_id, found.seq)
        return AlertRef(self.rule.name, found.state, run_id, found.task_id, round_, workflow)

    def _round(self, run_id: str, seq: int) -> int:
        """How many times the run was retried before event ``seq``."""
        row = self.db.read().fetchone(
            "SELECT COUNT(*) FROM events WHERE run_id = ? AND type = 'RunRetried' AND seq < ?",
            (run_id, seq),
        )
        return int(row[0]) if row else 0

    def _was_failing(self, run_id: str, workflow: str) -> bool:
        """Whether this rule alerted a failure of this run (before a retry) or of the
        workflow's previous finished run. A catch-up run recovers nothing."""
        tx = self.db.read()
        kind = tx.fetchone("SELECT kind FROM runs WHERE id = ?", (run_id,))
        if kind is None or kind[0] == "catchup":
            return False
        if self._alerted_failure(run_id):
            return True
        before = previous_failure(tx, workflow, run_id)
        return before is not None and self._alerted_failure(before)

    def _alerted_failure(self, run_id: str) -> bool:
        prefix = run_prefix(self.rule.name, "failed", run_id)
        row = self.db.read().fetchone(
            "SELECT 1 FROM notifications_sent WHERE notifier = ? AND substr(key, 1, ?) = ?",
            (self.owner, len(prefix), prefix),
        )
        return row is not None

    # -- delivery ------------------------------------------------------------------------------
    def _deliver(self, key: str) -> None:
        tries = self._claim(key)
        if tries is None:
            return  # another subscriber (another podium up) took it
        try:
            message = self._message(parse_key(key))
        except Exception:  # noqa: BLE001 - one bad alert must not stop the others
            log.exception("notification %s could not be written", key)
            self._settle(key, tries, "podium could not write the message; see its log", final=True)
            return
        if message is None:
            self._settle(key, tries, "its run is no longer in the store", final=True)
            return
        self._settle(key, tries, self._send(message))

    def _claim(self, key: str) -> int | None:
        with self.db.transaction() as tx:
            claimed = tx.execute(
                "UPDATE notifications_sent SET status = 'sending', attempts = attempts + 1"
                " WHERE key = ? AND status = 'pending'",
                (key,),
            )
            row = tx.fetchone("SELECT attempts FROM notifications_sent WHERE key = ?", (key,))
        return int(row[0]) if claimed and row else None

    def _message(self, ref: AlertRef) -> Message | None:
        facts = load_facts(self.db.read(), self.project, ref)
        return compose(facts, self.destination.style, self.mask) if facts else None

    def _send(self, message: Message) -> str | None:
        try:
            return self.destination.send(message)
        except Exception as exc:  # noqa: BLE001 - a sender's bug is a failed delivery
            return redact(f"{type(exc).__name__}: {exc}", self.mask)

    def _settle(self, key: str, tries: int, reason: str | None, final: bool = False) -> None:
        now = self.clock()
        if reason is None:
            status, at = "sent", now
        elif final or tries >= MAX_TRIES:
            status, at = "failed", now
            log.warning("notification %s failed for good after %d tries: %s", key, tries, reason)
        else:
            status, at = "pending", now + BACKOFF[min(tries, len(BACKOFF)) - 1]
        error = None if reason is None else redact(reason, self.mask)[:1000]
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE notifications_sent SET status = ?, at = ?, error = ? WHERE key = ?",
                (status, at, error, key),
            )


def notifiers_for(project: Project, db: Database) -> list[Notifier]:
    """One notifier per rule of the project (podium.yaml's, then each workflow's own)."""
    from podium.notify.delivery import open_notification
    from podium.notify.settings import all_rules, rule_secrets

    rules = all_rules(project.notifications, project.workflows)
    secrets = set(project.secrets) | rule_secrets(rules)
    mask = Masker(secrets)
    return [
        Notifier(rule, project, db, open_notification(rule.to, secrets), mask=mask, background=True)
        for rule in rules
    ]
