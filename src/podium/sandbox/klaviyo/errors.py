"""Klaviyo's error answers: ``{"errors": [{"id", "status", "code", "title", "detail",
"source"[, "meta"]}]}``, with ``Retry-After`` on a 429."""

from __future__ import annotations

import itertools
import math
import uuid
from typing import Any

import orjson

from podium.sandbox.faults import Answer

_COUNTER = itertools.count(1)


class ApiError(Exception):
    """An error the simulator answers with, in Klaviyo's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        source: dict[str, Any] | None = None,
        *,
        retry_after: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.source = source or {}
        self.retry_after = retry_after
        self.meta = meta  # e.g. ``duplicate_profile_id`` on a 409 ``duplicate_profile``


def error_answer(error: ApiError) -> Answer:
    item: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"klaviyo-error-{next(_COUNTER)}")),
        "status": error.status,
        "code": error.code,
        "title": error.title,
        "detail": error.detail,
        "source": error.source,
    }
    if error.meta is not None:
        item["meta"] = error.meta
    body = {"errors": [item]}
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = _seconds(error.retry_after)
    return Answer(error.status, orjson.dumps(body), headers, "application/vnd.api+json")


def _seconds(value: float) -> str:
    """Whole seconds as Klaviyo sends them, or a fraction when the windows are shrunk."""
    if value >= 1:
        return str(math.ceil(value))
    return f"{max(value, 0.001):.3f}"
