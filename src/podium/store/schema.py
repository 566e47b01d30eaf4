"""The store's schema as numbered migrations, written once for SQLite and PostgreSQL.

``{serial}`` becomes ``INTEGER PRIMARY KEY AUTOINCREMENT`` or ``BIGSERIAL PRIMARY KEY``;
timestamps are seconds since the epoch (``REAL`` / ``DOUBLE PRECISION``). A migration is
never edited once released: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            root_id TEXT NOT NULL,
            workflow TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            trigger TEXT NOT NULL,
            params TEXT NOT NULL,
            logical_time TEXT NOT NULL,
            dedupe_key TEXT UNIQUE,
            parent_run_id TEXT,
            parent_task_id TEXT,
            tasks_open INTEGER NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            created_at {float} NOT NULL,
            started_at {float},
            finished_at {float}
        )""",
        "CREATE INDEX runs_by_workflow ON runs (workflow, created_at)",
        "CREATE INDEX runs_by_status ON runs (status, created_at)",
        "CREATE INDEX runs_by_root ON runs (root_id)",
        """CREATE TABLE task_runs (
            run_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            root_id TEXT NOT NULL,
            workflow TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            ready_at {float},
            priority INTEGER NOT NULL,
            pool TEXT,
            up_total INTEGER NOT NULL,
            up_pending INTEGER NOT NULL,
            up_succeeded INTEGER NOT NULL DEFAULT 0,
            up_failed INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            first_attempt INTEGER NOT NULL DEFAULT 1,
            lost INTEGER NOT NULL DEFAULT 0,
            late INTEGER NOT NULL DEFAULT 0,
            released INTEGER NOT NULL DEFAULT 0,
            incomplete INTEGER NOT NULL DEFAULT 0,
            late_upstreams TEXT,
            started_at {float},
            finished_at {float},
            output TEXT,
            error TEXT,
            PRIMARY KEY (run_id, task_id)
        )""",
        "CREATE INDEX task_runs_ready ON task_runs (ready_at) WHERE ready_at IS NOT NULL",
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            status TEXT NOT NULL,
            owner TEXT NOT NULL,
            lease_expires_at {float} NOT NULL,
            pool TEXT,
            holds_slot INTEGER NOT NULL,
            started_at {float} NOT NULL,
            finished_at {float},
            error TEXT,
            PRIMARY KEY (run_id, task_id, number)
        )""",
        "CREATE INDEX attempts_running ON attempts (lease_expires_at) WHERE status = 'running'",
        """CREATE TABLE events (
            seq {serial},
            type TEXT NOT NULL,
            at {float} NOT NULL,
            run_id TEXT,
            task_id TEXT,
            payload TEXT NOT NULL,
            pending INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX events_pending ON events (seq) WHERE pending = 1",
        "CREATE INDEX events_by_run ON events (run_id, seq)",
        "CREATE INDEX events_by_type ON events (type, seq)",
        """CREATE TABLE logs (
            run_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            at {float} NOT NULL,
            stream TEXT NOT NULL,
            line TEXT NOT NULL
        )""",
        "CREATE INDEX logs_by_task ON logs (run_id, task_id, attempt)",
        """CREATE TABLE trigger_state (
            workflow TEXT NOT NULL,
            trigger_key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (workflow, trigger_key)
        )""",
        """CREATE TABLE engines (
            owner TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            url TEXT,
            started_at {float} NOT NULL,
            heartbeat_at {float} NOT NULL
        )""",
    ],
    [
        # the webhook inbox: a verified delivery is stored here before it is acknowledged
        """CREATE TABLE webhook_inbox (
            id {serial},
            connection TEXT NOT NULL,
            delivery_id TEXT NOT NULL,
            topic TEXT,
            received_at {float} NOT NULL,
            headers TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {float},
            processed_at {float},
            last_error TEXT,
            replays INTEGER NOT NULL DEFAULT 0,
            UNIQUE (connection, delivery_id)
        )""",
        "CREATE INDEX webhook_inbox_due ON webhook_inbox (status, next_attempt_at)",
        # the UI's unfiltered run list, newest first
        "CREATE INDEX runs_by_created ON runs (created_at)",
        # access control: users, API tokens and UI sessions, secrets kept only as hashes
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at {float} NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            created_at {float} NOT NULL,
            last_used_at {float},
            revoked_at {float}
        )""",
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_name TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created_at {float} NOT NULL,
            expires_at {float} NOT NULL
        )""",
        # subscribers to events (notifiers, outgoing webhooks): how far each has read
        """CREATE TABLE event_cursors (
            consumer TEXT PRIMARY KEY,
            seq INTEGER NOT NULL
        )""",
        # one alert per (run, task, state) and notifier; also outgoing webhook deliveries
        """CREATE TABLE notifications_sent (
            key TEXT PRIMARY KEY,
            notifier TEXT NOT NULL,
            at {float} NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT
        )""",
    ],
    [
        # a body-signed delivery's digest: the same body under a fresh id is a replay
        "ALTER TABLE webhook_inbox ADD COLUMN body_digest TEXT",
        "CREATE INDEX webhook_inbox_by_body ON webhook_inbox (connection, body_digest)",
        # the log API's pages: keyset on (task, attempt, time)
        "CREATE INDEX logs_by_time ON logs (run_id, task_id, attempt, at)",
    ],
    [
        # the token of each engine's last committed step: after an error at or after COMMIT
        # the engine reads it back to learn whether its step landed (see Engine.step)
        "ALTER TABLE engines ADD COLUMN last_step TEXT",
    ],
    [
        # one API account's rate budget, shared by every process on this store (a token
        # bucket per account and limit: store/budgets.py); the key never holds a secret
        """CREATE TABLE rate_budgets (
            key TEXT PRIMARY KEY,
            tokens {float} NOT NULL,
            capacity {float} NOT NULL,
            rate {float} NOT NULL,
            inflight {float} NOT NULL DEFAULT 0,
            known INTEGER NOT NULL DEFAULT 1,
            updated_at {float} NOT NULL,
            inflight_at {float} NOT NULL
        )""",
    ],
    [
        # each save of a workflow file from the web UI's builder: who, when, which file
        """CREATE TABLE workflow_saves (
            id {serial},
            at {float} NOT NULL,
            user_name TEXT NOT NULL,
            file TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            created INTEGER NOT NULL DEFAULT 0
        )""",
    ],
    [
        # a workflow whose schedules do not tick (podium pause / resume); every engine on
        # the store reads it before firing a schedule
        """CREATE TABLE paused_workflows (
            workflow TEXT PRIMARY KEY,
            paused_at {float} NOT NULL,
            paused_by TEXT NOT NULL
        )""",
    ],
    [
        # requests counted in an API's fixed windows (Klaviyo's burst and steady ones),
        # shared by every process on this store: when each went and when its answer came
        # (store/budgets.py RateWindows); the key never holds a secret
        """CREATE TABLE rate_requests (
            key TEXT NOT NULL,
            seq BIGINT NOT NULL,
            sent_at {float} NOT NULL,
            answered_at {float},
            PRIMARY KEY (key, seq)
        )""",
    ],
]


def render(statement: str, dialect: str) -> str:
    if dialect == "postgres":
        return statement.format(serial="BIGSERIAL PRIMARY KEY", float="DOUBLE PRECISION")
    return statement.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT", float="REAL")
