"""The checks Klaviyo makes on a write's JSON:API body, as ``ApiError``s with a pointer.

    profile_body(body, pointer)   (id, attributes, meta) of one ``profile`` resource
    identifiers(...)              ``email`` looks like one, ``phone_number`` is E.164
    linkage(body, kind, most)     the ``[{"type", "id"}]`` of a relationship request

Every problem is a 400 ``invalid`` whose ``source.pointer`` names the field
(``/data/attributes/email``), so a sync can say which row and field to fix.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from podium.sandbox.klaviyo.errors import ApiError

PROFILE_ATTRIBUTES = frozenset({
    "email", "phone_number", "external_id", "_kx", "first_name", "last_name", "organization",
    "locale", "title", "image", "location", "properties",
})  # fmt: skip
LOCATION = frozenset({"address1", "address2", "city", "country", "latitude", "longitude",
                      "region", "zip", "timezone", "ip"})  # fmt: skip
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def invalid(detail: str, pointer: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, {"pointer": pointer})


def parse(body: bytes, limit: int) -> Any:
    if len(body) > limit:
        raise ApiError(413, "request_too_large", "Request entity too large.",
                       f"The request body is {len(body)} bytes; at most {limit} are accepted.",
                       {"pointer": "/data"})  # fmt: skip
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise invalid("The request body is not valid JSON.", "/data") from None


def resource(data: Any, kind: str, pointer: str = "/data") -> dict[str, Any]:
    """``data`` (found at ``pointer``), checked to be a resource of type ``kind``."""
    if not isinstance(data, dict):
        raise invalid(f"{pointer} must be an object.", pointer)
    if data.get("type") != kind:
        raise invalid(f"{pointer}/type must be '{kind}', not {data.get('type')!r}.",
                      f"{pointer}/type")  # fmt: skip
    return data


def profile_body(
    data: Any, pointer: str, *, needs_identifier: bool
) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """(``id``, attributes, meta) of a ``profile`` resource at ``pointer``, checked."""
    data = resource(data, "profile", pointer)
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise invalid(f"{pointer}/attributes must be an object.", f"{pointer}/attributes")
    for name, value in attributes.items():
        where = f"{pointer}/attributes/{name}"
        if name not in PROFILE_ATTRIBUTES:
            raise invalid(f"'{name}' is not a valid profile attribute.", where)
        if name in ("location", "properties") and value is not None:
            if not isinstance(value, dict):
                raise invalid(f"'{name}' must be an object.", where)
            extra = sorted(set(value) - LOCATION) if name == "location" else []
            if extra:
                raise invalid(f"'{extra[0]}' is not a valid location field.", f"{where}/{extra[0]}")
        elif (
            name not in ("location", "properties")
            and value is not None
            and not isinstance(value, str)
        ):
            raise invalid(f"'{name}' must be a string.", where)
    identifiers(attributes, pointer)
    if needs_identifier and not any(attributes.get(n) for n in ("email", "phone_number",
                                                                 "external_id")):  # fmt: skip
        raise invalid("One of email, phone_number or external_id is required.",
                      f"{pointer}/attributes")  # fmt: skip
    pid = data.get("id")
    if pid is not None and not isinstance(pid, str):
        raise invalid("'id' must be a string.", f"{pointer}/id")
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise invalid("'meta' must be an object.", f"{pointer}/meta")
    return pid, attributes, meta


def identifiers(attributes: dict[str, Any], pointer: str) -> None:
    email, phone = attributes.get("email"), attributes.get("phone_number")
    if email is not None and not _EMAIL.match(email):
        raise invalid(f"Invalid email address: {email!r}.", f"{pointer}/attributes/email")
    if phone is not None and not _E164.match(phone):
        raise invalid(f"Invalid phone number: {phone!r}; send it in E.164 (+15005550006).",
                      f"{pointer}/attributes/phone_number")  # fmt: skip


def linkage(document: Any, kind: str, most: int) -> list[str]:
    """The ids of a relationship request ``{"data": [{"type": kind, "id"}…]}``."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise invalid("/data must be a list of {type, id}.", "/data")
    if len(data) > most:
        raise invalid(f"At most {most} {kind}s can be sent in one request; got {len(data)}.",
                      "/data")  # fmt: skip
    ids = []
    for n, item in enumerate(data):
        if not isinstance(item, dict) or item.get("type") != kind:
            raise invalid(f"/data/{n}/type must be '{kind}'.", f"/data/{n}/type")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise invalid(f"/data/{n}/id must be a {kind} id.", f"/data/{n}/id")
        ids.append(item["id"])
    return ids
