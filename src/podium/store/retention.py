"""Retention: what the store forgets, and when (``retention:`` in podium.yaml).

    runs      finished run trees (a run with its catch-up and child runs) whose every run
              ended before the cutoff, with their task runs, attempts, logs and events
    events    events older than the cutoff that every subscriber has read, no trigger
              still waits on (``pending = 0``) and no kept run owns
    logs      log lines older than the cutoff (of runs still kept, too)
    webhooks  inbox deliveries ``processed`` or ``dead`` before the cutoff
    notifications_sent rows and expired UI sessions go with them

Each kind keeps 30 days by default (``never`` keeps it forever). ``prune`` deletes in small
batches, each its own short transaction, so an engine sharing the store is never held for
long; ``dry_run`` counts what would go and deletes nothing. Time is a parameter (``now``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from podium.errors import StoreUnavailableError
from podium.store.database import Database, Tx

DAY = 86_400.0
DEFAULT_KEEP = 30 * DAY
DEFAULT_EVERY = 3_600.0
BATCH = 500  # rows (or run trees) per transaction
_ENDED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class RetentionPolicy:
    """Seconds each kind of row is kept (None: forever), and how often ``podium up`` prunes."""

    runs: float | None = DEFAULT_KEEP
    events: float | None = DEFAULT_KEEP
    logs: float | None = DEFAULT_KEEP
    webhooks: float | None = DEFAULT_KEEP
    every: float = DEFAULT_EVERY


@dataclass
class Pruned:
    """What a prune removed (or, dry, would remove), by table."""

    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        parts = [f"{n:,} {table}" for table, n in sorted(self.counts.items()) if n]
        return f"prune {verb} " + (", ".join(parts) if parts else "nothing")


def prune(db: Database, policy: RetentionPolicy, *, now: float, dry_run: bool = False) -> Pruned:
    """Removes what ``policy`` no longer keeps as of ``now`` (epoch seconds)."""
    done = Pruned(dry_run=dry_run)
    if policy.runs is not None:
        _runs(db, now - policy.runs, done)
    if policy.events is not None:
        _events(db, now - policy.events, done)
    if policy.logs is not None:
        _simple(db, "logs", "at < ?", (now - policy.logs,), done)
    if policy.webhooks is not None:
        _simple(
            db, "webhook_inbox", "status IN ('processed', 'dead') AND received_at < ?",
            (now - policy.webhooks,), done,
        )  # fmt: skip
    oldest = min((k for k in (policy.runs, policy.events) if k is not None), default=None)
    if oldest is not None:
        _simple(db, "notifications_sent", "at < ?", (now - oldest,), done)
    _simple(db, "sessions", "expires_at < ?", (now,), done)
    return done


def _runs(db: Database, cutoff: float, done: Pruned) -> None:
    """Whole run trees, so a catch-up run never outlives the run it reads outputs from."""
    ended = ", ".join(f"'{s}'" for s in _ENDED)
    eligible = (
        "SELECT DISTINCT r.root_id FROM runs AS r WHERE r.id = r.root_id"
        " AND NOT EXISTS (SELECT 1 FROM runs AS o WHERE o.root_id = r.root_id AND"
        f" (o.status NOT IN ({ended}) OR o.finished_at IS NULL OR o.finished_at >= ?))"
    )
    if done.dry_run:
        row = db.read().fetchone(
            f"SELECT count(*) FROM runs WHERE root_id IN ({eligible})", (cutoff,)
        )
        done.add("runs", int(row[0]) if row else 0)
        return
    while True:
        with db.transaction() as tx:
            roots = [r[0] for r in tx.fetchall(f"{eligible} LIMIT {BATCH}", (cutoff,))]
            if not roots:
                return
            _delete_trees(tx, roots, done)


def _delete_trees(tx: Tx, roots: Sequence[str], done: Pruned) -> None:
    marks = ", ".join("?" for _ in roots)
    runs = f"SELECT id FROM runs WHERE root_id IN ({marks})"
    for table, column in (("logs", "run_id"), ("events", "run_id"), ("attempts", "run_id"),
                          ("task_runs", "run_id")):  # fmt: skip
        done.add(table, _delete(tx, f"DELETE FROM {table} WHERE {column} IN ({runs})", roots))
    done.add("runs", _delete(tx, f"DELETE FROM runs WHERE root_id IN ({marks})", roots))


def _events(db: Database, cutoff: float, done: Pruned) -> None:
    """Events every subscriber has read (at or below the lowest cursor), not of a run that
    is kept (those go with their run)."""
    read = "seq <= COALESCE((SELECT min(seq) FROM event_cursors), seq)"
    runless = "NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = events.run_id)"
    _simple(db, "events", f"at < ? AND pending = 0 AND {read} AND {runless}", (cutoff,), done)


#: what names one row of each table for a batched delete (logs have no key: the row's own)
_KEYS = {"events": "seq", "webhook_inbox": "id", "notifications_sent": "key",
         "sessions": "id_hash"}  # fmt: skip


def _simple(db: Database, table: str, where: str, params: tuple[float, ...], done: Pruned) -> None:
    if done.dry_run:
        row = db.read().fetchone(f"SELECT count(*) FROM {table} WHERE {where}", params)
        done.add(table, int(row[0]) if row else 0)
        return
    key = _KEYS.get(table) or ("ctid" if db.dialect == "postgres" else "rowid")
    while True:
        with db.transaction() as tx:
            n = _delete(
                tx,
                f"DELETE FROM {table} WHERE {key} IN"
                f" (SELECT {key} FROM {table} WHERE {where} LIMIT {BATCH})",
                params,
            )
        done.add(table, n)
        if n < BATCH:
            return


def _delete(tx: Tx, sql: str, params: Sequence[object]) -> int:
    return tx.execute(sql, tuple(params))


class Pruner:
    """Prunes every ``policy.every`` seconds in a thread of its own (``podium up``), so the
    engine and the API never wait on it. A store that is away is waited out: the next
    round tries again; a prune that fails otherwise is reported and tried next round."""

    def __init__(
        self,
        db: Database,
        policy: RetentionPolicy,
        *,
        now: Callable[[], float],
        report: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.db, self.policy, self.now, self.report = db, policy, now, report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="podium-prune", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.policy.every):
            self.once()

    def once(self) -> Pruned | None:
        try:
            done = prune(self.db, self.policy, now=self.now())
        except StoreUnavailableError:
            return None  # the store is away: the engine says so; try next round
        except Exception as exc:  # noqa: BLE001 - a prune never stops podium up
            self.report(f"podium up: pruning failed ({type(exc).__name__}: {exc}); next try"
                        f" in {self.policy.every:g}s")  # fmt: skip
            return None
        if any(done.counts.values()):
            self.report(f"podium up: {done.summary()}")
        return done
