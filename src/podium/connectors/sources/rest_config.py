"""Reading a ``rest`` connection's settings, noting every problem under its key path.

``parse_rest_settings(settings)`` returns the typed config and the problems; each problem
starts with the key path inside the connection (``streams.orders.pagination.style: …``)
so ``podium validate`` can place it at a file and line. The shape is documented in
``podium.connectors.sources.rest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.connectors.source import Stream
from podium.connectors.sources.options import STREAM_OPTIONS, read_stream
from podium.core.durations import parse_duration
from podium.settings.describe import DURATION, Option, Settings

STYLES = ("link", "cursor", "next_url", "offset", "none")
SIGNALS = ("shopify", "amazon")
_TEXT = {"type": "string"}
_URL = {"type": "string", "pattern": "^https?://"}
_SCALARS = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
_PAGE_SIZE = {"type": "integer", "minimum": 1}
_STYLE_OPTIONS = {
    "style": Option("style", {"type": "string", "enum": list(STYLES)}, "how pages follow"),
    "rel": Option("rel", _TEXT, "link: the Link header relation to follow (default next)"),
    "next": Option("next", _TEXT, "cursor, next_url: the dotted path of the token or URL"),
    "param": Option("param", _TEXT, "cursor: the query parameter the token goes back in"),
    "keep_params": Option("keep_params", {"type": "boolean"}, "cursor: resend the params"),
    "offset_param": Option("offset_param", _TEXT, "offset: its query parameter"),
    "limit_param": Option("limit_param", _TEXT, "offset: the page size's query parameter"),
    "has_more": Option("has_more", _TEXT, "offset: the dotted path of the more-pages flag"),
}
_STYLE_KEYS = {
    "link": ("style", "rel"),
    "cursor": ("style", "next", "param", "keep_params"),
    "next_url": ("style", "next"),
    "offset": ("style", "offset_param", "limit_param", "has_more"),
    "none": ("style",),
}
_REQUIRED = {"cursor": ("next", "param"), "next_url": ("next",)}


def _pagination_schema() -> dict[str, Any]:
    """One object per style, keyed by ``style``."""
    branches = []
    for style, keys in _STYLE_KEYS.items():
        branch = Settings(tuple(_STYLE_OPTIONS[k] for k in keys)).json_schema()
        branch["properties"]["style"] = {"const": style}
        branch["required"] = ["style", *_REQUIRED.get(style, ())]
        branches.append({"if": _style_is(style), "then": branch})
    return {
        "type": "object",
        "properties": {k: o.json_schema() for k, o in _STYLE_OPTIONS.items()},
        "required": ["style"],
        "allOf": branches,
        "description": f"how to get the next page: style {', '.join(STYLES)}",
    }


def _style_is(style: str) -> dict[str, Any]:
    return {"properties": {"style": {"const": style}}, "required": ["style"]}


PAGINATION = Option("pagination", _pagination_schema(), "how to get the next page")
_RATE_LIMIT = Settings(
    (
        Option("requests_per_second", {"type": "number", "exclusiveMinimum": 0}, "steady rate"),
        Option("burst", {"type": "number", "minimum": 1}, "requests allowed at once"),
        Option("signal", {"type": "string", "enum": list(SIGNALS)},
               "pace by the API's own throttle headers (shopify, amazon)"),
    ),
    also={"anyOf": [{"required": ["requests_per_second"]}, {"required": ["signal"]}]},
)  # fmt: skip
STREAM_SETTINGS = Settings(
    (
        *STREAM_OPTIONS.options,
        Option("path", _TEXT, "the stream's path under base_url", required=True),
        Option("records", _TEXT, "the dotted path of the list of records in a page"),
        Option("cursor_param", _TEXT, "the query parameter the saved cursor is sent in"),
        Option("params", _SCALARS, "query parameters (added to the connection's)"),
        Option("page_size", _PAGE_SIZE, "records per page (default: the connection's)"),
        PAGINATION,
    ),
    doc="One stream of a rest connection.",
)
SETTINGS = Settings(
    (
        Option("type", {"const": "rest"}, "any JSON API over HTTP", required=True),
        Option("base_url", _URL, "the API's root URL", required=True),
        Option("headers", _SCALARS, "sent with every request; secrets as ${VAR}"),
        Option("params", _SCALARS, "query parameters sent with every request"),
        Option("page_size", _PAGE_SIZE, "records per page"),
        Option("page_size_param", _TEXT, "the page size's query parameter (default limit)"),
        PAGINATION,
        Option("rate_limit", _RATE_LIMIT.json_schema(), "how fast to call the API"),
        Option("timeout", DURATION, "per request (default 30s)"),
        Option("retries", {"type": "integer", "minimum": 0}, "tries after a failure (5)"),
        Option(
            "streams",
            {"type": "object", "minProperties": 1,
             "additionalProperties": STREAM_SETTINGS.json_schema()},
            "each stream by name, with its path (to read; a connection only synced to"
            " needs none)",
        ),
    ),
    doc="A rest connection: any JSON API over HTTP.",
)  # fmt: skip
CONNECTION_KEYS = SETTINGS.names
STREAM_KEYS = STREAM_SETTINGS.names


@dataclass(frozen=True)
class PaginationConfig:
    style: str = "none"
    next: str = ""  # cursor, next_url: dotted path in the body
    param: str = ""  # cursor: the query parameter the token goes back in
    keep_params: bool = True  # cursor: resend the stream's parameters with the token
    offset_param: str = "offset"
    limit_param: str = "limit"
    has_more: str | None = None  # offset: dotted path of the "more pages" flag
    rel: str = "next"  # link: the relation to follow


@dataclass(frozen=True)
class RateLimitConfig:
    requests_per_second: float | None = None
    burst: float | None = None
    signal: str | None = None  # shopify | amazon


@dataclass(frozen=True)
class StreamConfig:
    stream: Stream
    path: str
    records: str
    cursor_param: str | None
    params: Mapping[str, str]
    page_size: int | None
    pagination: PaginationConfig


@dataclass(frozen=True)
class RestConfig:
    base_url: str
    headers: Mapping[str, str]
    page_size_param: str
    rate_limit: RateLimitConfig | None
    timeout: float
    retries: int
    streams: tuple[StreamConfig, ...]


class _Reader:
    """One mapping of settings at ``path``; every problem found lands in ``problems``."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: list[str]) -> None:
        self.data, self.path, self.problems = data, path, problems

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.at(key)}: {message}")

    def unknown(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                self.problem(str(key), f"unknown key; expected one of {', '.join(allowed)}")

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {value!r}")
            return default
        return value

    def number(
        self, key: str, default: float | None, *, integer: bool = False, minimum: float = 0.0
    ) -> float | None:
        value = self.data.get(key)
        if value is None:
            return default
        kind = int if integer else int | float
        if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
            what = "an integer" if integer else "a number"
            self.problem(key, f"expected {what} >= {minimum:g}, got {value!r}")
            return default
        return float(value)

    def duration(self, key: str, default: float) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.problem(key, str(exc))
            return default

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and value not in choices:
            self.problem(key, f"expected one of {', '.join(choices)}, got {value!r}")
            return default
        return value if isinstance(value, str) else default

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, f"expected true or false, got {value!r}")
            return default
        return value

    def sub(self, key: str) -> _Reader | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem(key, f"expected a mapping, got {value!r}")
            return None
        return _Reader(value, self.at(key), self.problems)

    def scalars(self, key: str) -> dict[str, str]:
        """A mapping of plain values (query parameters, headers) as strings."""
        reader = self.sub(key)
        result: dict[str, str] = {}
        for name, value in (reader.data if reader else {}).items():
            if isinstance(value, Mapping | list) or value is None:
                self.problem(f"{key}.{name}", f"expected a string or number, got {value!r}")
            else:
                result[str(name)] = _scalar_text(value)
        return result


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_rest_settings(settings: Any) -> tuple[RestConfig | None, list[str]]:
    """The typed config of a ``rest`` connection, and every problem in it."""
    problems: list[str] = []
    if not isinstance(settings, Mapping):
        return None, [f"expected a mapping of settings (base_url:, streams: …), got {settings!r}"]
    top = _Reader(settings, "", problems)
    top.unknown(CONNECTION_KEYS)
    base_url = top.text("base_url", "", required=True) or ""
    if "base_url" in top.data and not base_url.startswith(("http://", "https://")):
        top.problem("base_url", f"expected an http:// or https:// URL, got {base_url!r}")
    page_size = top.number("page_size", None, integer=True, minimum=1)
    pagination = _pagination(top.sub("pagination"))
    shared = (top.scalars("params"), page_size, pagination)
    config = RestConfig(
        base_url=base_url.rstrip("/"),
        headers=top.scalars("headers"),
        page_size_param=top.text("page_size_param", "limit") or "limit",
        rate_limit=_rate_limit(top.sub("rate_limit")),
        timeout=top.duration("timeout", 30.0),
        retries=int(top.number("retries", 5, integer=True) or 0),
        streams=_streams(top, shared),
    )
    return config, problems


def _streams(
    top: _Reader, shared: tuple[dict[str, str], float | None, PaginationConfig]
) -> tuple[StreamConfig, ...]:
    if "streams" not in top.data:
        return ()  # a destination only: reading it needs streams (open_rest_source says so)
    streams = top.sub("streams")
    if streams is None or not streams.data:
        top.problem("streams", "is required: name at least one stream with its path")
        return ()
    result = []
    for name in streams.data:
        reader = streams.sub(str(name))
        if reader is None:
            continue
        result.append(_stream(str(name), reader, shared))
    return tuple(result)


def _stream(
    name: str, r: _Reader, shared: tuple[dict[str, str], float | None, PaginationConfig]
) -> StreamConfig:
    params, page_size, pagination = shared
    r.unknown(STREAM_KEYS)
    stream = read_stream(name, r.data, r.path, r.problems)
    cursor_param = r.text("cursor_param")
    if cursor_param and not stream.cursor:
        r.problem("cursor_param", "needs cursor: the record field whose saved value it sends")
    own_size = r.number("page_size", page_size, integer=True, minimum=1)
    return StreamConfig(
        stream=stream,
        path=r.text("path", "", required=True) or "",
        records=r.text("records", "") or "",
        cursor_param=cursor_param,
        params={**params, **r.scalars("params")},
        page_size=int(own_size) if own_size else None,
        pagination=_pagination(r.sub("pagination")) if "pagination" in r.data else pagination,
    )


def _pagination(r: _Reader | None) -> PaginationConfig:
    if r is None:
        return PaginationConfig()
    style = r.choice("style", STYLES, None)
    if "style" not in r.data:
        r.problem("style", f"is required: one of {', '.join(STYLES)}")
    if style is None:
        return PaginationConfig()
    r.unknown(_STYLE_KEYS[style])
    required = style in ("cursor", "next_url")
    return PaginationConfig(
        style=style,
        next=r.text("next", "", required=required) or "",
        param=r.text("param", "", required=style == "cursor") or "",
        keep_params=r.flag("keep_params", True),
        offset_param=r.text("offset_param", "offset") or "offset",
        limit_param=r.text("limit_param", "limit") or "limit",
        has_more=r.text("has_more"),
        rel=r.text("rel", "next") or "next",
    )


def _rate_limit(r: _Reader | None) -> RateLimitConfig | None:
    if r is None:
        return None
    r.unknown(_RATE_LIMIT.names)
    rate = r.number("requests_per_second", None, minimum=0.0001)
    signal = r.choice("signal", SIGNALS, None)
    if rate is None and signal is None:
        r.problem("requests_per_second", "is required unless signal: shopify or amazon is set")
    burst = r.number("burst", None, minimum=1)
    return RateLimitConfig(requests_per_second=rate, burst=burst, signal=signal)
