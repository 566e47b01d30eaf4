"""What a PageServer serves: pages of sorted records in four pagination styles, or
pre-rendered page files. The protocol is documented in ``podium.sandbox.pages``.
"""

from __future__ import annotations

import base64
import bisect
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from podium.sandbox.faults import Answer, error_answer

STYLES = ("link", "cursor", "next_url", "offset")
_DEFAULT_PATHS = {"link": "orders", "cursor": "orders", "next_url": "data", "offset": "items"}


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _order(value: Any) -> tuple[Any, ...]:
    """A sort key comparing numbers as numbers and ISO timestamps as instants."""
    if value is None:
        return (0,)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value))
    text = str(value)
    if _NUMBER.fullmatch(text):  # query parameters arrive as text
        return (1, float(text))
    if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-":
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return (3, text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return (2, parsed.timestamp())
    return (3, text)


def _token(values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _untoken(token: str) -> Any:
    padded = token + "=" * (-len(token) % 4)
    return orjson.loads(base64.urlsafe_b64decode(padded))


def _nest(path: str, value: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    parts = path.split(".")
    for part in reversed(parts[1:]):
        value = {part: value}
    return {parts[0]: value, **extra}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]  # names in lower case
    base: str  # the server's URL (with the app's prefix, under a SandboxServer)
    body: bytes = b""


class RecordsApp:
    """Renders pages of a sorted record list in one of the four pagination styles."""

    def __init__(
        self,
        style: str,
        records_path: str,
        cursor_field: str,
        cursor_param: str,
        key: str,
        page_size: int,
        max_page_size: int,
    ) -> None:
        if style not in STYLES:
            raise ValueError(f"pagination {style!r}: expected one of {', '.join(STYLES)}")
        self.style, self.records_path = style, records_path or _DEFAULT_PATHS[style]
        self.cursor_field, self.cursor_param, self.key = cursor_field, cursor_param, key
        self.page_size, self.max_page_size = page_size, max_page_size
        self.lock = threading.Lock()
        self.sorted: list[dict[str, Any]] = []
        self.keys: list[tuple[Any, ...]] = []

    def set_records(self, records: Iterable[dict[str, Any]]) -> None:
        pairs = sorted(((self._key_of(r), r) for r in records), key=lambda p: p[0])
        with self.lock:
            self.keys, self.sorted = [p[0] for p in pairs], [p[1] for p in pairs]

    def _key_of(self, record: Any) -> tuple[Any, ...]:
        if not isinstance(record, dict):  # served first, as is: for quarantine tests
            return ((0,), (0,))
        return (_order(record.get(self.cursor_field)), _order(record.get(self.key)))

    def answer(self, request: Request) -> Answer:
        params = request.params
        try:
            limit = min(int(params.get("limit", self.page_size)), self.max_page_size)
            if self.style == "link" and "page_info" in params:
                extra = sorted(set(params) - {"page_info", "limit"})
                if extra:
                    return error_answer(
                        400, f"page_info cannot be combined with {', '.join(extra)}"
                    )
                position = _untoken(params["page_info"])
            else:
                position = self._position(params)
            return self._render(request, position, max(limit, 1))
        except (ValueError, TypeError, KeyError):
            return error_answer(400, "invalid limit, offset or page token")

    def _position(self, params: Mapping[str, str]) -> dict[str, Any]:
        token = params.get("cursor") if self.style == "cursor" else params.get("page[cursor]")
        after = _untoken(token) if token and self.style in ("cursor", "next_url") else None
        return {
            "min": params.get(self.cursor_param),
            "after": after,
            "offset": int(params.get("offset", 0)),
        }

    def _render(self, request: Request, position: dict[str, Any], limit: int) -> Answer:
        with self.lock:
            keys, records = self.keys, self.sorted
        start = 0
        if position.get("min") is not None:
            start = bisect.bisect_left(keys, (_order(position["min"]),))
        if position.get("after") is not None:
            after = tuple(tuple(part) for part in position["after"])
            start = max(start, bisect.bisect_right(keys, after))
        offset = int(position.get("offset") or 0) if self.style == "offset" else 0
        page = records[start + offset : start + offset + limit]
        more = bool(page) and start + offset + limit < len(records)
        last = keys[start + offset + len(page) - 1] if page else None
        slice_ = _Slice(page, more, last, limit, offset, len(records) - start)
        return self._body(request, position, slice_)

    def _body(self, request: Request, position: dict[str, Any], s: _Slice) -> Answer:
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if self.style == "link" and s.has_more:
            info = _token({"min": position.get("min"), "after": s.last})
            query = urlencode({"limit": s.limit, "page_info": info})
            headers["Link"] = f'<{request.base}{request.path}?{query}>; rel="next"'
        elif self.style == "cursor":
            extra["next_cursor"] = _token(s.last) if s.has_more else None
        elif self.style == "next_url":
            query = urlencode({**request.params, "page[cursor]": _token(s.last)})
            extra["links"] = {
                "next": f"{request.base}{request.path}?{query}" if s.has_more else None
            }
        elif self.style == "offset":
            extra = {
                "hasMore": s.has_more,
                "offset": s.offset,
                "count": len(s.page),
                "totalResults": s.total,
            }
        return Answer(200, orjson.dumps(_nest(self.records_path, s.page, extra)), headers)


@dataclass(frozen=True)
class _Slice:
    page: list[dict[str, Any]]
    has_more: bool
    last: Any
    limit: int
    offset: int
    total: int


class PagesApp:
    """Serves ``page-NNNNN.json`` files in order, linked like Shopify's REST API."""

    def __init__(self, directory: Path) -> None:
        self.files = sorted(directory.glob("page-*.json"))
        if not self.files:
            raise ValueError(f"{directory}: no page-NNNNN.json files to serve")

    def answer(self, request: Request) -> Answer:
        try:
            index = int(request.params.get("page_info", 0))
            body = self.files[index].read_bytes()
        except (ValueError, IndexError):
            return error_answer(400, "invalid page_info")
        headers = {}
        if index + 1 < len(self.files):
            headers["Link"] = f'<{request.base}{request.path}?page_info={index + 1}>; rel="next"'
        return Answer(200, body, headers)
