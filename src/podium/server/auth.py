"""Access control for every route: who is asking (a session, an API token, or the local
user) and whether their role allows it.

Roles, each including the ones before it: ``viewer`` (read everything but secrets),
``operator`` (start, retry and cancel runs; replay webhooks), ``admin`` (users, tokens).

INTERFACE (stable; routes depend only on these names):
- ``Principal``: who is asking.
- ``require(role)``: a FastAPI dependency returning the ``Principal`` or refusing the request
  (401 JSON for ``/api/...`` routes without credentials, a redirect to ``/login`` for UI
  pages, 403 when the role is too low).
- ``csrf_field(request)``: the hidden ``<input>`` a UI form must carry; ``require`` checks
  it on every unsafe (POST/PUT/DELETE) UI request authenticated by a session cookie.

This first version is a stand-in: everyone is the local admin. The access-control work
replaces the bodies, not the names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: str  # "session", "token" or "local"

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def require(role: str) -> Callable[[Request], Principal]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> Principal:
        return Principal("local", "admin", "local")

    return dependency


def csrf_field(request: Request) -> str:
    return ""
