"""Secrets users hold and the hashes podium keeps of them: passwords, API tokens, session ids.

Nothing here touches the store or the clock; ``podium.server.access`` keeps the hashes.

- Passwords: scrypt with a per-user random salt, encoded with its parameters
  (``scrypt$N$r$p$SALT$HASH``, base64) so they can be raised later without a migration.
- API tokens: ``pdm_`` + 32 random bytes (URL-safe base64); kept as SHA-256 hex. A token is
  shown once, when it is created.
- Session ids and CSRF tokens: 32 random bytes; the session id is kept as SHA-256 hex.

Every comparison of a secret or of a hash is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

TOKEN_PREFIX = "pdm_"
MIN_PASSWORD = 8
_SCRYPT = (2**14, 8, 1)  # N, r, p: ~16 MiB and ~50 ms per check
_MAX_MEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    """The encoded scrypt hash of ``password`` with a fresh random salt."""
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (a ``hash_password`` result)."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def burn_password_check(password: str) -> None:
    """Spends the time a real password check would: the "unknown user" path of a log-in
    must not answer faster than the "wrong password" path."""
    verify_password(password, _dummy_hash())


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters"
    if password != password.strip():
        return "the password must not start or end with spaces"
    return None


def new_token() -> str:
    """A new API token (``pdm_…``); show it once, keep only ``digest(token)``."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """A random session id or CSRF token."""
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    """A short public id for a stored credential, e.g. ``tok_3f9a1c2b``."""
    return f"{prefix}_{secrets.token_hex(4)}"


def digest(secret: str) -> str:
    """The SHA-256 hex digest podium stores of a token or session id."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two secrets (False when either is empty)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) > len(TOKEN_PREFIX) + 20


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEM, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
