"""Each paginator: the next request from the request just made and its response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from podium.connectors.http import HttpRequest, HttpResponse
from podium.connectors.pagination import (
    BodyCursorPaginator,
    Fetched,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    link_url,
    read_path,
)
from podium.errors import TerminalTaskError

URL = "https://shop.test/admin/api/2025-01/orders.json"


def fetched(
    body: Any = None,
    *,
    params: Mapping[str, str] | None = None,
    headers: dict[str, str] | None = None,
    count: int = 0,
    url: str = URL,
) -> Fetched:
    request = HttpRequest("GET", url, params)
    response = HttpResponse(200, headers or {}, b"", url)
    return Fetched(request, response, body, count)


# -- read_path, link_url -------------------------------------------------------------------


def test_read_path_follows_dots_and_list_indexes() -> None:
    body = {"payload": {"NextToken": "t1", "Orders": [{"id": 1}]}, "links": {"next": None}}
    assert read_path(body, "payload.NextToken") == "t1"
    assert read_path(body, "payload.Orders.0.id") == 1
    assert read_path(body, "links.next", "absent") is None
    assert read_path(body, "links.prev", "absent") == "absent"
    assert read_path(body, "payload.Orders.5", "absent") == "absent"
    assert read_path(body, "") is body


def test_link_url_picks_the_relation_asked_for() -> None:
    header = (
        '<https://s.test/o.json?page_info=p1&limit=50>; rel="previous", '
        '<https://s.test/o.json?page_info=n1,x&limit=50>; rel="next"'
    )
    assert link_url(header) == "https://s.test/o.json?page_info=n1,x&limit=50"
    assert link_url(header, "previous") == "https://s.test/o.json?page_info=p1&limit=50"
    assert link_url("<https://s.test/a>; rel=next") == "https://s.test/a"
    assert link_url('<https://s.test/a>; rel="first last"', "last") == "https://s.test/a"
    assert link_url("") is None


# -- Link header ----------------------------------------------------------------------------


def test_link_header_is_followed_exactly_as_given() -> None:
    paginator = LinkHeaderPaginator()
    first = HttpRequest("GET", "/orders.json", {"status": "any", "limit": "250"})
    assert paginator.first(first) == first
    link = '<https://shop.test/admin/api/2025-01/orders.json?limit=250&page_info=abc>; rel="next"'
    following = paginator.next(fetched(params=first.params, headers={"Link": link}))
    assert following == HttpRequest("GET", f"{URL}?limit=250&page_info=abc", None)


def test_link_header_relative_urls_resolve_against_the_page() -> None:
    following = LinkHeaderPaginator().next(
        fetched(headers={"Link": '</admin/api/2025-01/orders.json?page_info=z>; rel="next"'})
    )
    assert following is not None and following.url == f"{URL}?page_info=z"


def test_no_link_header_or_no_next_relation_ends_paging() -> None:
    paginator = LinkHeaderPaginator()
    assert paginator.next(fetched()) is None
    assert paginator.next(fetched(headers={"Link": '<x>; rel="previous"'})) is None


# -- cursor in the body ---------------------------------------------------------------------


def test_body_cursor_goes_back_with_the_original_params() -> None:
    paginator = BodyCursorPaginator("next_cursor", "cursor")
    page = fetched({"next_cursor": "c2"}, params={"limit": "50", "cursor": "c1"})
    following = paginator.next(page)
    assert following is not None
    assert following.url == URL and following.params == {"limit": "50", "cursor": "c2"}


def test_body_cursor_alone_when_the_api_takes_only_the_token() -> None:
    paginator = BodyCursorPaginator("payload.NextToken", "nextToken", keep_params=False)
    page = fetched({"payload": {"NextToken": "tok=="}}, params={"reportTypes": "X"})
    following = paginator.next(page)
    assert following is not None and following.params == {"nextToken": "tok=="}


@pytest.mark.parametrize("body", [{"next_cursor": None}, {"next_cursor": ""}, {}, []])
def test_body_cursor_stops_without_a_token(body: Any) -> None:
    assert BodyCursorPaginator("next_cursor", "cursor").next(fetched(body)) is None


def test_body_cursor_continues_through_an_empty_page_that_carries_a_token() -> None:
    page = fetched({"payload": {"NextToken": "t2", "Events": []}}, count=0)
    assert BodyCursorPaginator("payload.NextToken", "NextToken").next(page) is not None


# -- next URL in the body -------------------------------------------------------------------


def test_next_url_is_followed() -> None:
    paginator = NextUrlPaginator("links.next")
    nxt = "https://a.test/api/events?page%5Bcursor%5D=bmV4dA"
    following = paginator.next(fetched({"links": {"next": nxt}}, params={"sort": "datetime"}))
    assert following == HttpRequest("GET", nxt, None)


def test_next_url_relative_and_missing() -> None:
    paginator = NextUrlPaginator("links.next")
    relative = paginator.next(fetched({"links": {"next": "?page=2"}}))
    assert relative is not None and relative.url == f"{URL}?page=2"
    assert paginator.next(fetched({"links": {"next": None}})) is None
    assert paginator.next(fetched({"data": []})) is None


# -- offset ---------------------------------------------------------------------------------


def test_offset_first_request_sets_offset_and_limit() -> None:
    paginator = OffsetPaginator("offset", "limit", page_size=100)
    first = paginator.first(HttpRequest("GET", "/q", {"q": "x"}))
    assert first.params == {"q": "x", "offset": "0", "limit": "100"}


def test_offset_advances_by_the_records_received() -> None:
    paginator = OffsetPaginator(page_size=100, has_more_path="hasMore")
    page = fetched({"hasMore": True}, params={"offset": "200", "limit": "100"}, count=100)
    following = paginator.next(page)
    assert following is not None and following.params == {"offset": "300", "limit": "100"}


def test_offset_stops_when_has_more_is_false_even_on_a_full_page() -> None:
    paginator = OffsetPaginator(page_size=2, has_more_path="hasMore")
    assert paginator.next(fetched({"hasMore": False}, params={"offset": "0"}, count=2)) is None


def test_offset_without_has_more_stops_on_a_short_page() -> None:
    paginator = OffsetPaginator("start", "count", page_size=3)
    assert paginator.next(fetched([1, 2], params={"start": "0"}, count=2)) is None
    following = paginator.next(fetched([1, 2, 3], params={"start": "3"}, count=3))
    assert following is not None and following.params == {"start": "6"}


def test_offset_stops_on_an_empty_page_whatever_has_more_says() -> None:
    paginator = OffsetPaginator(page_size=10, has_more_path="hasMore")
    assert paginator.next(fetched({"hasMore": True}, params={"offset": "0"}, count=0)) is None


def test_offset_with_has_more_missing_from_the_body_is_terminal() -> None:
    paginator = OffsetPaginator(page_size=10, has_more_path="hasMore")
    with pytest.raises(TerminalTaskError, match="no 'hasMore'.*check pagination.has_more"):
        paginator.next(fetched({"items": []}, params={"offset": "0"}, count=10))
