"""Rate budgets: one API account's token bucket as a row of the store, shared by every
process (engines, workers, hosts) on it; or, for an API that counts requests in fixed
windows (Klaviyo), its recent requests as rows (``RateWindows``, at the end).

A row per (account, limit), keyed by text that names the account without its secret
(``shopify:shop.example:app=3f2a…``: a hash stands for the token). Its columns:

    tokens       what is left at ``updated_at``; negative while requests are queued (each
                 taker reserved its tokens and sleeps until the level is back at zero)
    capacity     the most that can be saved up (a burst, a bucket's size)
    rate         tokens restored a second
    inflight     tokens taken for requests not yet settled (answered). Once out of debt the
                 level refills to ``capacity - inflight`` only: a request the server has not
                 counted yet still holds its place in the bucket
    known        0 while the bucket's size is not known (Shopify's GraphQL bucket, until the
                 first answer says); one request at a time goes out to find out

``take`` and ``settle`` each run one short transaction holding the row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's write transactions are serial already). The level only
ever errs low: a refill never runs past what the server could have restored, a server's
word can lower the level but only an answer's refund raises it. ``updated_at`` never goes
back, so a host whose clock is behind adds nothing until it catches up.
"""

from __future__ import annotations

from dataclasses import dataclass

from podium.store.database import Database, Tx

STALE = 30.0  # seconds without a take after which nothing can still be in flight
_COLUMNS = "tokens, capacity, rate, inflight, known, updated_at, inflight_at"


@dataclass(frozen=True)
class Shape:
    """A bucket as the client believes it before the server says (``known=False``: not at
    all; then ``capacity`` and ``rate`` are placeholders).

    ``queue``: a taker finding too little reserves its tokens anyway and waits for its
    slot (fair, exact: for buckets of one token a request). Without it (a cost bucket
    whose answers refund part of what was taken, Shopify's GraphQL), a taker finding too
    little takes nothing and asks again after the wait it is told, so a refund that
    lands meanwhile is spent at once; the level then refills to ``capacity`` regardless
    of what is in flight (the margin the client keeps covers a request counted late)."""

    capacity: float
    rate: float
    known: bool = True
    queue: bool = True


@dataclass(frozen=True)
class Learnt:
    """What a server's answer said about the bucket."""

    charged: float | None = None  # what it finally charged for the request (None: as taken)
    available: float | None = None  # what it says is left now
    capacity: float | None = None
    rate: float | None = None
    drain: bool = False  # it refused the request: nothing is left
    pause: float = 0.0  # ... and nothing comes back for this many seconds (Retry-After)
    strict: bool = False  # its ``available`` already counts every request in flight


@dataclass
class _Row:
    tokens: float
    capacity: float
    rate: float
    inflight: float
    known: bool
    updated_at: float
    inflight_at: float

    def refill(self, now: float, queue: bool = True) -> None:
        """The level at ``now`` (never a moment back)."""
        if now - self.inflight_at > STALE:
            self.inflight = 0.0
        elapsed = max(0.0, now - self.updated_at)
        ceiling = max(0.0, self.capacity - (self.inflight if queue else 0.0))
        self.tokens = max(self.tokens, min(ceiling, self.tokens + elapsed * self.rate))
        self.updated_at = max(self.updated_at, now)


class RateBudgets:
    """The ``rate_budgets`` table of one store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def take(
        self, key: str, cost: float, shape: Shape, now: float, *, settle: float = 0.0
    ) -> tuple[bool, float]:
        """Takes ``cost`` tokens of ``key`` (made with ``shape`` if new), first settling
        ``settle`` tokens this caller took before and never settled. Returns (taken,
        seconds): taken, wait that long before sending (0: now); not taken (a bucket
        that does not ``queue`` short of tokens, or one whose size another request is
        finding out), ask again after that long."""
        with self.db.transaction() as tx:
            row = self._locked(tx, key, shape, now)
            assert row is not None  # noqa: S101 - made from the shape when absent
            row.inflight = max(0.0, row.inflight - settle)
            row.refill(now, shape.queue)
            if not row.known and row.inflight > 0:
                self._write(tx, key, row)
                return False, 0.0
            if row.known:
                cost = min(cost, row.capacity)
            if row.known and not shape.queue and row.tokens < cost:
                self._write(tx, key, row)
                return False, (cost - row.tokens) / row.rate
            row.tokens -= cost
            row.inflight += cost
            row.inflight_at = max(row.inflight_at, now)
            self._write(tx, key, row)
        if not row.known or row.tokens >= 0:
            return True, 0.0
        return True, -row.tokens / row.rate

    def settle(
        self, key: str, spent: float, learnt: Learnt, now: float, *, queue: bool = True
    ) -> None:
        """The request that took ``spent`` tokens of ``key`` was answered; ``learnt`` is
        what the answer said (``queue`` as the bucket's ``Shape``)."""
        with self.db.transaction() as tx:
            row = self._locked(tx, key, None, now)
            if row is None:
                return
            row.refill(now, queue)
            row.inflight = max(0.0, row.inflight - spent)
            row.rate = learnt.rate if learnt.rate and learnt.rate > 0 else row.rate
            row.capacity = learnt.capacity if learnt.capacity else row.capacity
            if learnt.charged is not None:
                row.tokens += max(0.0, spent - learnt.charged)
            if learnt.available is not None:
                left = learnt.available - (row.inflight if learnt.strict else 0.0)
                row.tokens = left - row.inflight if not row.known else min(row.tokens, left)
                row.known = True
            if learnt.drain:
                row.tokens = min(row.tokens, -learnt.pause * row.rate)
            if row.tokens > 0:
                held = row.inflight if queue else 0.0
                row.tokens = min(row.tokens, max(0.0, row.capacity - held))
            self._write(tx, key, row)

    def level(self, key: str) -> tuple[float, float, float, float, bool] | None:
        """(tokens, capacity, rate, inflight, known) as stored, for tests and ``podium``'s
        own look at a budget."""
        row = self.db.read().fetchone(
            "SELECT tokens, capacity, rate, inflight, known FROM rate_budgets WHERE key = ?",
            (key,),
        )
        if row is None:
            return None
        return float(row[0]), float(row[1]), float(row[2]), float(row[3]), bool(row[4])

    def _locked(self, tx: Tx, key: str, shape: Shape | None, now: float) -> _Row | None:
        select = f"SELECT {_COLUMNS} FROM rate_budgets WHERE key = ?{tx.for_update}"
        found = tx.fetchone(select, (key,))
        if found is None and shape is not None:
            tx.execute(
                f"INSERT INTO rate_budgets (key, {_COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, shape.capacity, shape.capacity, shape.rate, int(shape.known), now, now),
            )
            found = tx.fetchone(select, (key,))
        if found is None:
            return None
        tokens, capacity, rate, inflight, known, updated_at, inflight_at = found
        return _Row(
            float(tokens),
            float(capacity),
            float(rate),
            float(inflight),
            bool(known),
            float(updated_at),
            float(inflight_at),
        )

    @staticmethod
    def _write(tx: Tx, key: str, row: _Row) -> None:
        tx.execute(
            "UPDATE rate_budgets SET tokens = ?, capacity = ?, rate = ?, inflight = ?,"
            " known = ?, updated_at = ?, inflight_at = ? WHERE key = ?",
            (
                row.tokens,
                row.capacity,
                row.rate,
                row.inflight,
                int(row.known),
                row.updated_at,
                row.inflight_at,
                key,
            ),
        )


PATIENCE = 5.0  # seconds a request may stay unanswered before it is taken as counted


class RateWindows:
    """The ``rate_requests`` table of one store: each key's recent requests, when each
    went (``sent_at``) and when its answer came (``answered_at``, NULL in flight).

    A request goes once, for each window of ``most`` requests in ``seconds``, every
    request ``most`` or more before it was answered at least ``seconds`` ago: the server
    counts a request between the two, so no fixed window of ``seconds`` holds more than
    ``most`` however unevenly requests travel (the klaviyo source's ``WindowPacer`` does
    the same in one process). ``take`` and ``answer`` each run one short transaction,
    serialised per key (``Tx.lock``); rows older than every window are deleted by
    ``take``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def take(
        self, key: str, windows: list[tuple[int, float]], now: float, *, answered: int = -1
    ) -> tuple[int | None, float]:
        """A place for one request of ``key``, first marking this caller's earlier
        request ``answered`` (its seq; -1: none) answered by ``now``. Returns (seq,
        seconds): send after that long; (None, seconds): a request whose answer time
        decides is still in flight, ask again after that long."""
        widest = max(seconds for _, seconds in windows)
        with self.db.transaction() as tx:
            tx.lock(f"rate_requests:{key}")
            if answered >= 0:
                self._answer(tx, key, answered, now)
            last = tx.fetchone("SELECT max(seq) FROM rate_requests WHERE key = ?", (key,))
            seq = int(last[0]) + 1 if last and last[0] is not None else 0
            at = now
            for most, seconds in windows:
                found = tx.fetchone(
                    "SELECT max(answered_at), min(CASE WHEN answered_at IS NULL THEN sent_at"
                    " END) FROM rate_requests WHERE key = ? AND seq <= ?",
                    (key, seq - most),
                )
                latest, waiting = found if found else (None, None)
                if waiting is not None:  # in flight: wait for its answer
                    if float(waiting) + PATIENCE > now:
                        return None, min(0.05, float(waiting) + PATIENCE - now)
                    tx.execute(  # unanswered that long: counted by now
                        "UPDATE rate_requests SET answered_at = ? WHERE key = ? AND seq <= ?"
                        " AND answered_at IS NULL",
                        (now, key, seq - most),
                    )  # (sent PATIENCE ago, so no earlier than it went)
                    latest = now if latest is None else max(float(latest), now)
                if latest is not None:
                    at = max(at, float(latest) + seconds)
            tx.execute(
                "INSERT INTO rate_requests (key, seq, sent_at, answered_at) VALUES (?, ?, ?, ?)",
                (key, seq, at, None),
            )
            tx.execute(
                "DELETE FROM rate_requests WHERE key = ? AND answered_at < ? AND seq < ?",
                (key, now - widest, seq - max(most for most, _ in windows)),
            )
        return seq, at - now

    def answer(self, key: str, seq: int, now: float) -> None:
        """Request ``seq`` of ``key`` was answered at ``now``."""
        with self.db.transaction() as tx:
            self._answer(tx, key, seq, now)

    @staticmethod
    def _answer(tx: Tx, key: str, seq: int, now: float) -> None:
        tx.execute(
            "UPDATE rate_requests SET answered_at = CASE WHEN sent_at > ? THEN sent_at ELSE ? END"
            " WHERE key = ? AND seq = ? AND answered_at IS NULL",
            (now, now, key, seq),
        )
