"""Paginators: given the request just made and what came back, the next request or None.

    LinkHeaderPaginator    ``Link: <url>; rel="next"`` (Shopify REST, GitHub): the URL is
                           followed exactly as given; no header means the last page
    BodyCursorPaginator    a cursor or next token in the body (``next_cursor``,
                           ``payload.NextToken``) sent back as a query parameter
    NextUrlPaginator       a full URL in the body (``links.next``, JSON:API, Klaviyo)
    OffsetPaginator        ``offset``/``limit`` parameters; stops on ``has_more`` false or,
                           without one, on a short page (NetSuite, many REST APIs)

A page with no records always ends offset paging; the others stop only when the server
stops linking (SP-API finance pages may be empty yet carry a ``NextToken``).
``read_path(body, "links.next")`` reads a dotted path from a parsed body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import urljoin

from podium.connectors.http import HttpRequest, HttpResponse
from podium.errors import TerminalTaskError


@dataclass(frozen=True)
class Fetched:
    """One page as a paginator sees it: what was asked, what came back, how many records."""

    request: HttpRequest
    response: HttpResponse
    body: Any
    count: int


class Paginator(Protocol):
    # whether ``next`` reads ``Fetched.body``; if not, a source may leave the body unparsed
    reads_body: bool

    def first(self, request: HttpRequest) -> HttpRequest:
        """The first request, given the stream's own (adds e.g. ``offset=0``)."""

    def next(self, fetched: Fetched) -> HttpRequest | None:
        """The request for the following page, or None after the last one."""


_MISSING = object()


def read_path(value: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted ``path`` (``payload.NextToken``; digits index lists), or
    ``default`` when any step is missing. An empty path is the value itself."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""")


def link_url(header: str, rel: str = "next") -> str | None:
    """The URL of the ``rel`` link in an RFC 8288 ``Link`` header."""
    for match in _LINK.finditer(header):
        found = _REL.search(match.group(2))
        if found and rel in (found.group(1) or found.group(2) or "").split():
            return match.group(1)
    return None


def _params(request: HttpRequest) -> dict[str, str]:
    return dict(request.params or {})


class LinkHeaderPaginator:
    reads_body = False

    def __init__(self, rel: str = "next") -> None:
        self.rel = rel

    def first(self, request: HttpRequest) -> HttpRequest:
        return request

    def next(self, fetched: Fetched) -> HttpRequest | None:
        url = link_url(fetched.response.headers.get("Link", ""), self.rel)
        if not url:
            return None
        absolute = urljoin(fetched.response.real_url, url)
        return HttpRequest(fetched.request.method, absolute, None, fetched.request.json)


class BodyCursorPaginator:
    """The token at ``next_path`` in the body goes back as ``param``; with
    ``keep_params=False`` it is the only parameter (SP-API ``getReports``)."""

    reads_body = True

    def __init__(self, next_path: str, param: str, *, keep_params: bool = True) -> None:
        self.next_path, self.param, self.keep_params = next_path, param, keep_params

    def first(self, request: HttpRequest) -> HttpRequest:
        return request

    def next(self, fetched: Fetched) -> HttpRequest | None:
        token = read_path(fetched.body, self.next_path)
        if token is None or token == "" or isinstance(token, bool | dict | list):
            return None
        params = _params(fetched.request) if self.keep_params else {}
        params[self.param] = str(token)
        return replace(fetched.request, params=params)


class NextUrlPaginator:
    """Follows the URL at ``next_path`` in the body (relative URLs resolve against the page)."""

    reads_body = True

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path

    def first(self, request: HttpRequest) -> HttpRequest:
        return request

    def next(self, fetched: Fetched) -> HttpRequest | None:
        url = read_path(fetched.body, self.next_path)
        if not isinstance(url, str) or not url:
            return None
        absolute = urljoin(fetched.response.real_url, url)
        return HttpRequest(fetched.request.method, absolute, None, fetched.request.json)


class OffsetPaginator:
    """``offset_param`` advances by the records received; ``limit_param`` is ``page_size``.

    With ``has_more_path`` the body decides (and must carry it); without, a page shorter
    than ``page_size`` is the last, so ``page_size`` must not exceed the server's maximum.
    """

    def __init__(
        self,
        offset_param: str = "offset",
        limit_param: str = "limit",
        page_size: int = 100,
        has_more_path: str | None = None,
    ) -> None:
        self.offset_param, self.limit_param = offset_param, limit_param
        self.page_size, self.has_more_path = page_size, has_more_path
        self.reads_body = has_more_path is not None

    def first(self, request: HttpRequest) -> HttpRequest:
        params = _params(request)
        params.setdefault(self.offset_param, "0")
        params[self.limit_param] = str(self.page_size)
        return replace(request, params=params)

    def next(self, fetched: Fetched) -> HttpRequest | None:
        if fetched.count == 0 or not self._has_more(fetched):
            return None
        params = _params(fetched.request)
        params[self.offset_param] = str(int(params.get(self.offset_param, 0)) + fetched.count)
        return replace(fetched.request, params=params)

    def _has_more(self, fetched: Fetched) -> bool:
        if self.has_more_path is None:
            return fetched.count >= self.page_size
        more = read_path(fetched.body, self.has_more_path, _MISSING)
        if more is _MISSING:
            raise TerminalTaskError(
                f"{fetched.response.url}: the body has no {self.has_more_path!r} to say "
                "whether more pages follow; check pagination.has_more"
            )
        return more is True or (isinstance(more, str) and more.lower() == "true")
