"""Users, API tokens and sessions in the store (SQLite and PostgreSQL): only hashes are kept,
roles change at once, revocation and removal take effect on the next request, sessions expire
after 12 idle hours and 7 days at most."""

from __future__ import annotations

import hashlib

import pytest

from podium.errors import NotFoundError, UsageError
from podium.server import access
from podium.store.database import Database
from podium.testing import FakeClock

PASSWORD = "correct horse battery"


def everything_stored(db: Database) -> str:
    """Every value in the access tables, as one text to search."""
    tx = db.read()
    rows = []
    for table in ("users", "api_tokens", "sessions"):
        rows += tx.fetchall(f"SELECT * FROM {table}")
    return repr(rows)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def db(database: Database, clock: FakeClock) -> Database:
    access.add_user(database, "ada", PASSWORD, "admin", now=clock())
    return database


# -- users ----------------------------------------------------------------------------------


def test_users_are_listed_with_their_roles_and_no_password(db: Database, clock: FakeClock) -> None:
    access.add_user(db, "vera", "another password", "viewer", now=clock())
    assert [(u.name, u.role) for u in access.list_users(db)] == [
        ("ada", "admin"),
        ("vera", "viewer"),
    ]
    stored = everything_stored(db)
    assert PASSWORD not in stored and "another password" not in stored
    assert "scrypt$" in stored
    assert access.has_users(db)


def test_no_users_means_no_access_control(database: Database) -> None:
    assert not access.has_users(database)
    assert access.list_users(database) == []


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("ada", "viewer", PASSWORD, "exists already"),
        ("bob", "root", PASSWORD, "unknown role 'root'; use one of: viewer, operator, admin"),
        ("bob", "viewer", "short", "at least 8 characters"),
        ("", "viewer", PASSWORD, "user name '' is not allowed"),
        ("<script>", "viewer", PASSWORD, "is not allowed"),
        ("-dash", "viewer", PASSWORD, "is not allowed"),
    ],
)
def test_a_bad_user_is_refused_with_a_reason(
    db: Database, clock: FakeClock, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        access.add_user(db, name, password, role, now=clock())
    assert [u.name for u in access.list_users(db)] == ["ada"]


def test_check_password(db: Database) -> None:
    user = access.check_password(db, "ada", PASSWORD)
    assert user is not None and (user.name, user.role) == ("ada", "admin")
    assert access.check_password(db, "ada", PASSWORD + "x") is None
    assert access.check_password(db, "nobody", PASSWORD) is None
    assert access.check_password(db, "ADA", PASSWORD) is None


def test_set_role_and_unknown_users(db: Database) -> None:
    access.set_role(db, "ada", "viewer")
    assert access.list_users(db)[0].role == "viewer"
    with pytest.raises(NotFoundError, match="no user 'bob'; list them with `podium users list`"):
        access.set_role(db, "bob", "viewer")
    with pytest.raises(UsageError, match="unknown role"):
        access.set_role(db, "ada", "superuser")


def test_a_new_password_ends_the_sessions(db: Database, clock: FakeClock) -> None:
    session_id, _ = access.create_session(db, "ada", now=clock())
    access.set_password(db, "ada", "a brand new one")
    assert access.session_of(db, session_id, now=clock()) is None
    assert access.check_password(db, "ada", PASSWORD) is None
    assert access.check_password(db, "ada", "a brand new one") is not None


def test_removing_a_user_revokes_tokens_and_ends_sessions(db: Database, clock: FakeClock) -> None:
    _id, token = access.create_token(db, "ada", "ci", now=clock())
    session_id, _ = access.create_session(db, "ada", now=clock())
    assert access.remove_user(db, "ada", now=clock()) == 1
    assert access.token_user(db, token, now=clock()) is None
    assert access.session_of(db, session_id, now=clock()) is None
    assert not access.has_users(db)
    assert [t.revoked_at for t in access.list_tokens(db, include_revoked=True)] == [clock()]
    with pytest.raises(NotFoundError):
        access.remove_user(db, "ada", now=clock())


# -- tokens ---------------------------------------------------------------------------------


def test_a_token_is_kept_only_as_its_sha256(db: Database, clock: FakeClock) -> None:
    token_id, token = access.create_token(db, "ada", "CI deploys", now=clock())
    stored = everything_stored(db)
    assert token not in stored and token[4:] not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    (info,) = access.list_tokens(db)
    assert (info.id, info.user, info.description, info.last_used_at) == (
        token_id,
        "ada",
        "CI deploys",
        None,
    )


def test_a_token_acts_as_its_user_with_the_current_role(db: Database, clock: FakeClock) -> None:
    _id, token = access.create_token(db, "ada", "", now=clock())
    user = access.token_user(db, token, now=clock())
    assert user is not None and (user.name, user.role) == ("ada", "admin")
    access.set_role(db, "ada", "viewer")
    user = access.token_user(db, token, now=clock())
    assert user is not None and user.role == "viewer"
    assert access.list_tokens(db)[0].last_used_at == clock()


@pytest.mark.parametrize("guess", ["", "pdm_", "pdm_" + "A" * 43, "Bearer x", "x" * 200])
def test_unknown_tokens_are_nobody(db: Database, clock: FakeClock, guess: str) -> None:
    access.create_token(db, "ada", "", now=clock())
    assert access.token_user(db, guess, now=clock()) is None


def test_a_revoked_token_stops_working(db: Database, clock: FakeClock) -> None:
    token_id, token = access.create_token(db, "ada", "", now=clock())
    keep_id, keep = access.create_token(db, "ada", "", now=clock())
    assert access.revoke_token(db, token_id, now=clock()) is True
    assert access.revoke_token(db, token_id, now=clock()) is False
    assert access.token_user(db, token, now=clock()) is None
    assert access.token_user(db, keep, now=clock()) is not None
    assert [t.id for t in access.list_tokens(db)] == [keep_id]
    with pytest.raises(NotFoundError, match="no token 'tok_nope'"):
        access.revoke_token(db, "tok_nope", now=clock())


def test_tokens_need_an_existing_user(db: Database, clock: FakeClock) -> None:
    with pytest.raises(NotFoundError, match="no user 'ghost'"):
        access.create_token(db, "ghost", "", now=clock())


# -- sessions -------------------------------------------------------------------------------


def test_a_session_is_kept_hashed_with_its_csrf_token(db: Database, clock: FakeClock) -> None:
    session_id, csrf = access.create_session(db, "ada", now=clock())
    assert session_id not in everything_stored(db)
    session = access.session_of(db, session_id, now=clock())
    assert session is not None
    assert (session.user.name, session.user.role, session.csrf) == ("ada", "admin", csrf)
    assert access.session_of(db, session_id + "x", now=clock()) is None
    assert access.session_of(db, "", now=clock()) is None


def test_a_session_ends_after_twelve_idle_hours(db: Database, clock: FakeClock) -> None:
    session_id, _ = access.create_session(db, "ada", now=clock())
    clock.advance(access.SESSION_IDLE - 1)
    assert access.session_of(db, session_id, now=clock()) is not None  # used: slides on
    clock.advance(access.SESSION_IDLE - 1)
    assert access.session_of(db, session_id, now=clock()) is not None
    clock.advance(access.SESSION_IDLE + 1)
    assert access.session_of(db, session_id, now=clock()) is None


def test_a_session_ends_seven_days_after_the_log_in_however_busy(
    db: Database, clock: FakeClock
) -> None:
    session_id, _ = access.create_session(db, "ada", now=clock())
    for _ in range(27):  # a request every 6 hours, up to 162 hours after the log-in
        clock.advance(6 * 3600)
        assert access.session_of(db, session_id, now=clock()) is not None
    clock.advance(6 * 3600)  # 168 hours: idle for only 6, but the week is over
    assert clock() - 1_800_000_000.0 == access.SESSION_MAX
    assert access.session_of(db, session_id, now=clock()) is None


def test_log_out_ends_only_that_session(db: Database, clock: FakeClock) -> None:
    first, _ = access.create_session(db, "ada", now=clock())
    second, _ = access.create_session(db, "ada", now=clock())
    access.end_session(db, first)
    assert access.session_of(db, first, now=clock()) is None
    assert access.session_of(db, second, now=clock()) is not None


def test_expired_sessions_are_cleared_at_the_next_log_in(db: Database, clock: FakeClock) -> None:
    access.create_session(db, "ada", now=clock())
    clock.advance(access.SESSION_IDLE + 1)
    access.create_session(db, "ada", now=clock())
    assert db.read().fetchone("SELECT COUNT(*) FROM sessions") == (1,)
