"""Users, API tokens and UI sessions in the store: only hashes are kept.

The CLI (``podium users``, ``podium tokens``) and the server (log-in, ``require``) share these
functions. Time is passed in (``now``, seconds since the epoch); nothing here reads a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podium.errors import NotFoundError, UsageError
from podium.server import credentials as cred
from podium.store.database import Database, Tx

ROLES = ("viewer", "operator", "admin")
SESSION_IDLE = 12 * 3600.0  # a session ends after 12 h without a request …
SESSION_MAX = 7 * 24 * 3600.0  # … and 7 days after the log-in at the latest
_SLIDE_EVERY = 300.0  # how stale a session's expiry may get before a request extends it
_TOKEN_TOUCH_EVERY = 60.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: float


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user: str
    description: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: float


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    return role


def has_users(db: Database) -> bool:
    """Whether any user may log in: access control is on once one exists."""
    return db.read().fetchone("SELECT 1 FROM users WHERE disabled = 0 LIMIT 1") is not None


# -- users ----------------------------------------------------------------------------------


def add_user(db: Database, name: str, password: str, role: str, *, now: float) -> User:
    _check_name(name)
    check_role(role)
    _check_password(password)
    encoded = cred.hash_password(password)
    with db.transaction() as tx:
        if _user_row(tx, name, include_disabled=True) is not None:
            raise UsageError(
                f"user {name!r} exists already; change it with `podium users set-role {name}"
                " ROLE` or `podium users set-password`"
            )
        tx.execute(
            "INSERT INTO users (name, password_hash, role, created_at, disabled)"
            " VALUES (?, ?, ?, ?, 0)",
            (name, encoded, role, now),
        )
    return User(name, role, now)


def list_users(db: Database) -> list[User]:
    rows = db.read().fetchall(
        "SELECT name, role, created_at FROM users WHERE disabled = 0 ORDER BY name"
    )
    return [User(r[0], r[1], float(r[2])) for r in rows]


def set_role(db: Database, name: str, role: str) -> None:
    check_role(role)
    with db.transaction() as tx:
        _existing(tx, name)
        tx.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))


def set_password(db: Database, name: str, password: str) -> None:
    """A new password; the user's sessions end (their tokens stay valid)."""
    _check_password(password)
    encoded = cred.hash_password(password)
    with db.transaction() as tx:
        _existing(tx, name)
        tx.execute("UPDATE users SET password_hash = ? WHERE name = ?", (encoded, name))
        tx.execute("DELETE FROM sessions WHERE user_name = ?", (name,))


def remove_user(db: Database, name: str, *, now: float) -> int:
    """Removes ``name``, ends their sessions and revokes their tokens (returned: how many)."""
    with db.transaction() as tx:
        _existing(tx, name)
        revoked = tx.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL",
            (now, name),
        )
        tx.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        tx.execute("DELETE FROM users WHERE name = ?", (name,))
    return revoked


def check_password(db: Database, name: str, password: str) -> User | None:
    """The user ``name`` if ``password`` is theirs. An unknown name costs the same time as a
    wrong password, so answers do not tell which names exist."""
    row = _user_row(db.read(), name) if _NAME.fullmatch(name) else None
    if row is None:
        cred.burn_password_check(password)
        return None
    if not cred.verify_password(password, row[1]):
        return None
    return User(row[0], row[2], float(row[3]))


# -- API tokens -----------------------------------------------------------------------------


def create_token(db: Database, user: str, description: str, *, now: float) -> tuple[str, str]:
    """A new token for ``user``: ``(id, token)``. The token itself is never stored."""
    token = cred.new_token()
    token_id = cred.new_id("tok")
    with db.transaction() as tx:
        _existing(tx, user)
        tx.execute(
            "INSERT INTO api_tokens (id, user_name, token_hash, description, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_id, user, cred.digest(token), description, now),
        )
    return token_id, token


def list_tokens(db: Database, *, include_revoked: bool = False) -> list[TokenInfo]:
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = db.read().fetchall(
        "SELECT id, user_name, description, created_at, last_used_at, revoked_at"
        f" FROM api_tokens{where} ORDER BY user_name, created_at"
    )
    return [TokenInfo(r[0], r[1], r[2], float(r[3]), r[4], r[5]) for r in rows]


def revoke_token(db: Database, token_id: str, *, now: float) -> bool:
    """Revokes the token ``token_id``; False when it was revoked already."""
    with db.transaction() as tx:
        row = tx.fetchone("SELECT revoked_at FROM api_tokens WHERE id = ?", (token_id,))
        if row is None:
            raise NotFoundError(f"no token {token_id!r}; list them with `podium tokens list`")
        if row[0] is not None:
            return False
        tx.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
    return True


def token_user(db: Database, token: str, *, now: float) -> User | None:
    """The user a live token belongs to, or None (unknown, revoked, or the user is gone)."""
    if not cred.looks_like_token(token):
        return None
    hashed = cred.digest(token)
    row = db.read().fetchone(
        "SELECT t.id, t.token_hash, t.last_used_at, u.name, u.role, u.created_at"
        " FROM api_tokens t JOIN users u ON u.name = t.user_name"
        " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled = 0",
        (hashed,),
    )
    if row is None or not cred.same(row[1], hashed):
        return None
    if row[2] is None or now - float(row[2]) > _TOKEN_TOUCH_EVERY:
        with db.transaction() as tx:
            tx.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, row[0]))
    return User(row[3], row[4], float(row[5]))


# -- sessions -------------------------------------------------------------------------------


def create_session(db: Database, user: str, *, now: float) -> tuple[str, str]:
    """A new UI session for ``user``: ``(session id for the cookie, CSRF token)``."""
    session_id, csrf = cred.new_secret(), cred.new_secret()
    with db.transaction() as tx:
        tx.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
        tx.execute(
            "INSERT INTO sessions (id_hash, user_name, csrf, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (cred.digest(session_id), user, csrf, now, now + SESSION_IDLE),
        )
    return session_id, csrf


def session_of(db: Database, session_id: str, *, now: float) -> Session | None:
    """The live session behind a cookie, its expiry slid forward; None when unknown or over."""
    if not session_id:
        return None
    hashed = cred.digest(session_id)
    row = db.read().fetchone(
        "SELECT s.id_hash, s.csrf, s.created_at, s.expires_at, u.name, u.role, u.created_at"
        " FROM sessions s JOIN users u ON u.name = s.user_name"
        " WHERE s.id_hash = ? AND u.disabled = 0",
        (hashed,),
    )
    if row is None or not cred.same(row[0], hashed) or float(row[3]) <= now:
        return None
    expires = min(now + SESSION_IDLE, float(row[2]) + SESSION_MAX)
    if expires - float(row[3]) > _SLIDE_EVERY:
        with db.transaction() as tx:
            tx.execute("UPDATE sessions SET expires_at = ? WHERE id_hash = ?", (expires, hashed))
    else:
        expires = float(row[3])
    return Session(User(row[4], row[5], float(row[6])), row[1], expires)


def end_session(db: Database, session_id: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM sessions WHERE id_hash = ?", (cred.digest(session_id),))


# -- checks ---------------------------------------------------------------------------------


def _user_row(tx: Tx, name: str, *, include_disabled: bool = False) -> tuple | None:
    clause = "" if include_disabled else " AND disabled = 0"
    return tx.fetchone(
        f"SELECT name, password_hash, role, created_at FROM users WHERE name = ?{clause}",
        (name,),
    )


def _existing(tx: Tx, name: str) -> None:
    if _user_row(tx, name) is None:
        raise NotFoundError(f"no user {name!r}; list them with `podium users list`")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"user name {name!r} is not allowed: use 1-64 letters, digits, '.', '_', '@'"
            " or '-', starting with a letter or digit"
        )


def _check_password(password: str) -> None:
    problem = cred.password_problem(password)
    if problem:
        raise UsageError(problem)
