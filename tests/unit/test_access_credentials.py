"""Password hashes, API tokens, constant-time comparisons and the small pure rules of access
control (safe redirects, loopback host names, the ``server.auth`` setting, the log-in
throttle)."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from podium.errors import UsageError
from podium.server import auth
from podium.server import credentials as cred
from podium.server.login import Throttle
from podium.testing import FakeClock

# -- passwords ------------------------------------------------------------------------------


def test_a_password_hash_is_salted_scrypt_with_its_parameters() -> None:
    first, second = cred.hash_password("hunter22!"), cred.hash_password("hunter22!")
    assert first != second  # a fresh salt each time
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    expected = hashlib.scrypt(
        b"hunter22!", salt=base64.b64decode(salt), n=16384, r=8, p=1, dklen=32
    )
    assert base64.b64decode(digest) == expected
    assert "hunter22" not in first


def test_verify_accepts_only_the_same_password() -> None:
    encoded = cred.hash_password("s3cret-pass")
    assert cred.verify_password("s3cret-pass", encoded)
    assert not cred.verify_password("s3cret-pasS", encoded)
    assert not cred.verify_password("", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain",
        "bcrypt$16384$8$1$AAAA$AAAA",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$!!!$AAAA",
        "scrypt$16384$8",
    ],
)
def test_a_malformed_hash_never_matches(encoded: str) -> None:
    assert not cred.verify_password("anything", encoded)


def test_hashes_made_with_other_parameters_still_verify() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"old-password", salt=salt, n=1024, r=8, p=1, dklen=32)
    encoded = (
        f"scrypt$1024$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )
    assert cred.verify_password("old-password", encoded)
    assert not cred.verify_password("new-password", encoded)


def test_an_unknown_user_costs_as_long_as_a_wrong_password() -> None:
    """Fastest of several interleaved tries each (the least disturbed by other load)."""
    encoded = cred.hash_password("the-real-one")
    cred.burn_password_check("warm-up")
    wrong, unknown = [], []
    for _ in range(6):
        started = time.perf_counter()
        cred.verify_password("guess-one", encoded)
        wrong.append(time.perf_counter() - started)
        started = time.perf_counter()
        cred.burn_password_check("guess-one")
        unknown.append(time.perf_counter() - started)
    assert 0.6 < min(unknown) / min(wrong) < 1.6, (min(unknown), min(wrong))


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 8"), (" padded-password", "spaces"), ("long enough", None)],
)
def test_password_rules(password: str, problem: str | None) -> None:
    found = cred.password_problem(password)
    assert (found is None) if problem is None else (problem in (found or ""))


# -- tokens and secrets ---------------------------------------------------------------------


def test_tokens_are_random_prefixed_and_kept_as_sha256() -> None:
    tokens = {cred.new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert token.startswith("pdm_") and len(token) == 4 + 43
        assert cred.looks_like_token(token)
        assert cred.digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert not cred.looks_like_token("pdm_short")
    assert not cred.looks_like_token("Bearer abc")


def test_same_compares_secrets_and_refuses_empty_ones() -> None:
    assert cred.same("abc", "abc")
    assert not cred.same("abc", "abd")
    assert not cred.same("", "")
    assert not cred.same("abc", "")
    assert cred.same("ünïcode", "ünïcode")


def test_public_ids_and_secrets_are_distinct() -> None:
    assert cred.new_id("tok").startswith("tok_")
    assert len({cred.new_secret() for _ in range(20)}) == 20


# -- redirects, hosts, settings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/runs/abc?x=1", "/runs/abc?x=1"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("runs", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("/a\\b", "/"),
    ],
)
def test_only_same_site_paths_are_followed_after_log_in(value: str | None, expected: str) -> None:
    assert auth.safe_next(value) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:8642", True),
        ("127.9.9.9", True),
        ("localhost:8642", True),
        ("LOCALHOST", True),
        ("app.localhost:1", True),
        ("[::1]:8642", True),
        ("[::1]", True),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example", False),
        ("10.0.0.5:8642", False),
        ("", False),
        ("[::ffff:8.8.8.8]:1", False),
    ],
)
def test_loopback_host_names(host: str, loopback: bool) -> None:
    assert auth._is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("server", "mode"),
    [
        ({}, "auto"),
        ({"auth": "required"}, "required"),
        ({"auth": "off"}, "off"),
        ({"auth": False}, "off"),
    ],
)
def test_the_auth_setting(server: dict[str, object], mode: str) -> None:
    assert auth.auth_mode(server) == mode


def test_a_bad_auth_setting_says_what_is_allowed() -> None:
    with pytest.raises(UsageError, match=r"server.auth is 'yes'; use auto .* required, or off"):
        auth.auth_mode({"auth": "yes"})


def test_roles_are_ordered() -> None:
    viewer = auth.Principal("v", "viewer", "token")
    admin = auth.Principal("a", "admin", "session")
    assert viewer.may("viewer") and not viewer.may("operator")
    assert admin.may("viewer") and admin.may("operator") and admin.may("admin")
    with pytest.raises(ValueError, match="unknown role"):
        auth.require("root")


# -- the log-in throttle --------------------------------------------------------------------


def test_the_throttle_locks_a_key_after_the_limit_for_a_while() -> None:
    clock = FakeClock(1000.0)
    throttle = Throttle(limit=3, window=600, lock=60, clock=clock)
    for _ in range(2):
        throttle.failed("user:ada")
    assert throttle.wait_for("user:ada") == 0
    throttle.failed("user:ada")
    assert throttle.wait_for("user:ada") == 60
    assert throttle.wait_for("user:bob") == 0
    clock.advance(59)
    assert throttle.wait_for("user:ada") == pytest.approx(1)
    clock.advance(1)
    assert throttle.wait_for("user:ada") == 0
    throttle.failed("user:ada")  # still 3 within the window: locked again at once
    assert throttle.wait_for("user:ada") == 60


def test_old_failures_leave_the_window_and_success_clears_them() -> None:
    clock = FakeClock(1000.0)
    throttle = Throttle(limit=2, window=100, lock=30, clock=clock)
    throttle.failed("k")
    clock.advance(101)
    throttle.failed("k")
    assert throttle.wait_for("k") == 0
    throttle.failed("k")
    assert throttle.wait_for("k") == 30
    throttle.succeeded("k")
    assert throttle.wait_for("k") == 0


def test_the_guard_counts_a_try_when_it_admits_it_and_forgives_a_success() -> None:
    from starlette.requests import Request

    from podium.server.login import LoginGuard

    clock = FakeClock(1000.0)
    guard = LoginGuard(
        users=Throttle(limit=3, window=600, lock=60, clock=clock),
        addresses=Throttle(limit=4, window=600, lock=60, clock=clock),
    )
    request = Request({"type": "http", "client": ("10.0.0.9", 5000), "headers": []})
    assert [guard.admit(request, "ada") for _ in range(4)] == [0, 0, 0, 60]  # in flight count
    guard.succeeded(request, "ada")  # one of them was right: ada's failures are cleared
    assert guard.admit(request, "ada") == 0  # ada starts afresh; the address forgave one
    assert guard.admit(request, "bob") == 0  # the address's 4th counted try
    assert guard.admit(request, "carol") == 60  # the address has had its 4
