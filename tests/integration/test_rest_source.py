"""The rest source against a real PageServer: every pagination style, every fault class."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from podium.connectors.registry import connection_problems
from podium.connectors.registry import open_source as open_registered
from podium.connectors.source import JsonBody, JsonPage, StreamState, WriteMode
from podium.connectors.sources.rest import (
    RestSource,
    open_rest_source,
    rest_problems,
    rewind_cursor,
)
from podium.errors import TerminalTaskError
from podium.sandbox import Faults, PageServer, When

SECRET = "sk_live_abcdef123456"
_names = itertools.count()

# Three records share each timestamp, with New York offsets as Shopify sends them, so
# paging must break ties on the key and compare instants, not strings.
RECORDS = [
    {"id": 1000 + i, "updated_at": f"2025-05-01T{8 + i // 180:02d}:{i // 3 % 60:02d}:00-04:00"}
    for i in range(600)
]

STYLES: dict[str, tuple[dict[str, Any], str]] = {
    "link": ({"style": "link"}, "orders"),
    "cursor": ({"style": "cursor", "next": "next_cursor", "param": "cursor"}, "orders"),
    "next_url": ({"style": "next_url", "next": "links.next"}, "data"),
    "offset": (
        {
            "style": "offset",
            "offset_param": "offset",
            "limit_param": "limit",
            "has_more": "hasMore",
        },
        "items",
    ),
}

EVERY_FAULT = Faults(
    throttle=When.every(7),
    throttle_burst=2,
    retry_after=0.01,
    errors=When.every(5),
    error_burst=2,
    reset=When.every(11),
    truncate=When.every(13),
    slow=When.at(3),
    slow_seconds=0.5,
    seed=7,
)


def settings(url: str, style: str = "link", **stream: Any) -> dict[str, Any]:
    pagination, records = STYLES[style]
    return {
        "type": "rest",
        "base_url": url,
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "page_size": 40,
        "pagination": pagination,
        "timeout": "200ms",
        "retries": 8,
        "streams": {
            "orders": {
                "path": "/orders.json",
                "records": records,
                "primary_key": "id",
                "cursor": "updated_at",
                "cursor_param": "updated_at_min",
                **stream,
            }
        },
    }


def open_source(config: dict[str, Any], sleep: Callable[[float], None] | None = None) -> RestSource:
    name = f"shop{next(_names)}"  # limiters are shared per connection: keep tests apart
    return open_rest_source(name, config, secrets=[SECRET], sleep=sleep or (lambda s: None))


def read_all(source: RestSource, cursor: Any = None, *, full_refresh: bool = False) -> list[Any]:
    stream = source.streams()[0]
    pages = source.read(stream, StreamState(cursor=cursor), full_refresh=full_refresh)
    return [
        record for page in pages if isinstance(page, JsonPage | JsonBody) for record in page.records
    ]


def server_for(style: str, faults: Faults | None = None, **kwargs: Any) -> PageServer:
    return PageServer(RECORDS, pagination=style, token=f"Bearer {SECRET}", faults=faults, **kwargs)


def sent_param(server: PageServer, index: int, name: str) -> str | None:
    values = parse_qs(urlsplit(server.log[index][1]).query).get(name)
    return values[0] if values else None


@pytest.mark.parametrize("style", STYLES)
def test_every_page_once_through_every_fault(style: str) -> None:
    with server_for(style, EVERY_FAULT, max_page_size=40) as server:
        source = open_source(settings(server.url, style))
        records = read_all(source)
        source.close()
    assert records == list(server.records)
    statuses = {status for _, _, status in server.log}
    assert {0, 200, 429, 500, 502}.issubset(statuses)  # reset, throttled, 5xx all happened
    assert server.requests > len(RECORDS) // 40 + 10


@pytest.mark.parametrize("style", STYLES)
def test_incremental_read_sends_the_cursor_minus_lookback(style: str) -> None:
    with server_for(style) as server:
        source = open_source(settings(server.url, style, lookback="10m"))
        records = read_all(source, cursor="2025-05-01T10:10:00-04:00")
    assert sent_param(server, 0, "updated_at_min") == "2025-05-01T10:00:00-04:00"
    expected = [r for r in RECORDS if str(r["updated_at"]) >= "2025-05-01T10:00:00-04:00"]
    assert records == expected  # inclusive: the boundary timestamp is read again


def test_full_refresh_ignores_the_saved_cursor() -> None:
    with server_for("link") as server:
        records = read_all(
            open_source(settings(server.url)), "2025-05-01T10:10:00-04:00", full_refresh=True
        )
    assert sent_param(server, 0, "updated_at_min") is None
    assert len(records) == len(RECORDS)


def test_changes_between_reads_are_picked_up_from_the_cursor() -> None:
    with server_for("cursor") as server:
        source = open_source(settings(server.url, "cursor"))
        first = read_all(source)
        cursor = max(r["updated_at"] for r in first)
        changed = {**RECORDS[5], "updated_at": "2025-05-01T12:00:00-04:00", "note": "edited"}
        server.set_records([changed, *RECORDS[:5], *RECORDS[6:]])
        server.add_records([{"id": 9999, "updated_at": "2025-05-01T12:00:01-04:00"}])
        second = read_all(source, cursor)
    boundary = [r for r in RECORDS if r["updated_at"] == cursor and r["id"] != changed["id"]]
    assert second == [*boundary, changed, {"id": 9999, "updated_at": "2025-05-01T12:00:01-04:00"}]


def test_numeric_cursor_subtracts_the_lookback() -> None:
    records = [{"seq": i, "id": i} for i in range(100)]
    with PageServer(records, pagination="link", cursor_field="seq", cursor_param="since") as s:
        config = settings(s.url, cursor="seq", cursor_param="since", lookback=10)
        config["headers"] = {}
        got = read_all(open_source(config), cursor=50)
    assert sent_param(s, 0, "since") == "40"
    assert [r["seq"] for r in got] == list(range(40, 100))


def test_throttling_honoured_for_real_leaves_no_violations() -> None:
    faults = Faults(throttle=When.every(3), throttle_burst=2, retry_after=0.05)
    with server_for("link", faults) as server:
        records = read_all(open_source(settings(server.url), sleep=time.sleep))
    assert records == list(server.records)
    assert any(status == 429 for _, _, status in server.log)
    assert server.violations == 0


def test_a_client_that_ignores_retry_after_is_caught() -> None:
    faults = Faults(throttle=When.every(3), throttle_burst=2, retry_after=5)
    with server_for("link", faults) as server:
        read_all(open_source(settings(server.url)))  # the injected sleep does not wait
    assert server.violations > 0


def test_random_faults_are_reproducible_by_seed() -> None:
    def statuses(seed: int) -> list[int]:
        faults = Faults(errors=When.chance(0.2), reset=When.chance(0.1), seed=seed)
        with server_for("cursor", faults) as server:
            assert read_all(open_source(settings(server.url, "cursor"))) == RECORDS
        return [status for _, _, status in server.log]

    first = statuses(11)
    assert statuses(11) == first
    assert statuses(12) != first
    assert {0, 500}.issubset(first)


def test_pages_mode_serves_files_in_link_order(tmp_path: Path) -> None:
    for number in range(3):
        body = {"orders": RECORDS[number * 10 : number * 10 + 10]}
        (tmp_path / f"page-{number:05d}.json").write_bytes(orjson.dumps(body))
    faults = Faults(truncate=When.at(2), reset=When.at(4))
    with PageServer.from_pages_dir(tmp_path, faults=faults) as server:
        records = read_all(open_source(settings(server.url)))
    assert records == RECORDS[:30]
    assert [path for _, path, _ in server.log] == [
        "/orders.json?limit=40",
        "/orders.json?page_info=1",
        "/orders.json?page_info=1",
        "/orders.json?page_info=2",
        "/orders.json?page_info=2",
    ]


def test_a_link_is_followed_as_given_not_rebuilt() -> None:
    with server_for("link") as server:
        records = read_all(open_source(settings(server.url, params={"status": "any"})))
    assert records == RECORDS
    paths = [path for _, path, _ in server.log]
    followed = [path for path in paths if "page_info" in path]
    assert followed and all("status" not in path for path in followed)  # Shopify would 400
    # the first page may be asked for again (200 ms timeouts on a busy machine): as built
    assert {path for path in paths if path not in followed} == {paths[0]}


def test_pages_are_yielded_one_response_at_a_time() -> None:
    with server_for("link") as server:
        source = open_source(settings(server.url, params={"api_key": SECRET}))
        pages = source.read(source.streams()[0], StreamState(), full_refresh=False)
        first = next(pages)
        assert server.requests == 1
        assert isinstance(first, JsonBody)  # link paging does not read the body: bytes
        assert first.path == ("orders",) and first.count is None
        assert len(first.records) == 40 and first.count == 40  # parsed when asked
        assert first.location.startswith(f"GET {server.url}/orders.json?")
        assert "api_key=***" in first.location and SECRET not in first.location


def test_a_missing_records_path_is_terminal_and_names_stream_url_and_path() -> None:
    with server_for("link") as server:
        source = open_source(settings(server.url, records="payload.orders"))
        with pytest.raises(TerminalTaskError) as caught:
            read_all(source)
    message = str(caught.value)
    assert "stream 'orders'" in message and "'payload.orders' is missing" in message
    assert f"{server.url}/orders.json" in message and "streams.orders.records" in message


def test_records_that_are_not_a_list_are_terminal() -> None:
    with server_for("link") as server, pytest.raises(TerminalTaskError, match="is not a list"):
        read_all(open_source(settings(server.url, records="orders.0")))


def test_records_that_are_not_objects_pass_through() -> None:
    odd: list[Any] = ["text", 42, None]
    with PageServer([*odd, *RECORDS[:3]], pagination="link") as server:
        config = settings(server.url)
        assert read_all(open_source(config)) == [*odd, *RECORDS[:3]]


def test_a_bad_token_fails_once_without_printing_it() -> None:
    with (
        PageServer(RECORDS, token="Bearer the-right-one") as server,
        pytest.raises(TerminalTaskError) as caught,
    ):
        read_all(open_source(settings(server.url)))
    assert server.requests == 1
    assert "401" in str(caught.value) and SECRET not in str(caught.value)


def test_a_rate_limit_paces_requests() -> None:
    waits: list[float] = []
    with server_for("offset", max_page_size=200) as server:
        config = settings(
            server.url,
            "link",
            params={"status": "any"},
            page_size=200,
            pagination={"style": "offset"},
            records="items",
        )
        config["rate_limit"] = {"requests_per_second": 2, "burst": 1}
        records = read_all(open_source(config, sleep=waits.append))
    assert records == RECORDS
    assert sent_param(server, 0, "status") == "any" and sent_param(server, 0, "limit") == "200"
    assert len(waits) == server.requests - 1 == 3  # 200 + 200 + 200 + an empty page
    assert waits[0] == pytest.approx(0.5, abs=0.05)


def test_an_api_that_ignores_the_page_parameter_is_caught() -> None:
    with server_for("link") as server:  # a link-style server ignores offset
        config = settings(server.url, page_size=40, pagination={"style": "offset"})
        with pytest.raises(TerminalTaskError, match="previous page again"):
            read_all(open_source(config))
    assert server.requests == 2


def test_the_registry_opens_a_rest_connection(tmp_path: Path) -> None:
    with server_for("link") as server:
        config = {**settings(server.url), "dataset": "raw_shop"}
        assert connection_problems(config) == []
        source = open_registered(
            "shop_reg", config, root=tmp_path, secrets=frozenset({SECRET}), logger=None
        )
        records = [
            r
            for page in source.read(source.streams()[0], StreamState(), full_refresh=False)
            if isinstance(page, JsonPage | JsonBody)
            for r in page.records
        ]
        source.close()
    assert records == RECORDS


def test_streams_carry_the_loading_settings() -> None:
    config = settings(
        "http://127.0.0.1:9",
        lookback="10m",
        write_mode="append",
        columns={"total_price": "decimal(18,2)"},
        keep_document=True,
    )
    (stream,) = open_source(config).streams()
    assert stream.name == "orders" and stream.primary_key == ("id",)
    assert stream.cursor == "updated_at" and stream.lookback == 600.0
    assert stream.write_mode is WriteMode.APPEND and stream.keep_document is True
    assert stream.columns == {"total_price": "decimal(18,2)"}


# -- settings problems ----------------------------------------------------------------------

VALID: dict[str, Any] = {
    "type": "rest",
    "base_url": "https://shop.test/admin/api/2025-01",
    "streams": {"orders": {"path": "/orders.json", "records": "orders", "primary_key": "id"}},
}


def with_changes(**changes: Any) -> dict[str, Any]:
    config = {**VALID, "streams": {"orders": dict(VALID["streams"]["orders"])}}
    for key, value in changes.items():
        if key.startswith("s_"):
            config["streams"]["orders"][key[2:]] = value
        elif value is None:
            config.pop(key)
        else:
            config[key] = value
    return config


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"pagination": {"style": "pages"}},
            "pagination.style: expected one of link, cursor, next_url, offset, none",
        ),
        ({"s_pagination": {"style": "pages"}}, "streams.orders.pagination.style: expected one of"),
        ({"pagination": {"next": "x"}}, "pagination.style: is required"),
        ({"pagination": {"style": "cursor"}}, "pagination.next: is required"),
        ({"pagination": {"style": "cursor", "next": "n"}}, "pagination.param: is required"),
        ({"pagination": {"style": "next_url"}}, "pagination.next: is required"),
        ({"pagination": {"style": "link", "has_more": "x"}}, "pagination.has_more: unknown key"),
        ({"base_url": None}, "base_url: is required"),
        ({"base_url": "ftp://x"}, "base_url: expected an http:// or https:// URL"),
        ({"timeout": "soon"}, "timeout: 'soon' is not a duration"),
        ({"retries": -1}, "retries: expected an integer >= 0"),
        ({"page_size": 0}, "page_size: expected an integer >= 1"),
        ({"pagnation": {}}, "pagnation: unknown key; expected one of type, base_url"),
        ({"headers": {"X-Key": {"a": 1}}}, "headers.X-Key: expected a string or number"),
        ({"rate_limit": {}}, "rate_limit.requests_per_second: is required unless signal"),
        ({"rate_limit": {"signal": "ebay"}}, "rate_limit.signal: expected one of shopify, amazon"),
        ({"streams": {}}, "streams: is required"),
        ({"streams": {"orders": "x"}}, "streams.orders: expected a mapping"),
        ({"s_path": None}, "streams.orders.path: is required"),
        ({"s_write_mode": "upsert"}, "streams.orders.write_mode: expected one of append, merge"),
        (
            {"s_primary_key": None, "s_write_mode": "merge"},
            "streams.orders.write_mode: merge needs a primary_key",
        ),
        ({"s_primary_key": [1]}, "streams.orders.primary_key: expected a field name"),
        ({"s_cursor_param": "since"}, "streams.orders.cursor_param: needs cursor"),
        ({"s_lookback": "a while"}, "streams.orders.lookback: 'a while' is not a duration"),
        ({"s_schema": "strict"}, "streams.orders.schema: expected one of evolve, freeze"),
        ({"s_keep_document": "yes"}, "streams.orders.keep_document: expected true or false"),
        ({"s_colums": {}}, "streams.orders.colums: unknown key"),
        ({"s_columns": {"total": "currency"}}, "streams.orders.columns.total: unknown type"),
    ],
)
def test_rest_problems_name_the_key_path(changes: dict[str, Any], problem: str) -> None:
    problems = rest_problems(with_changes(**changes))
    assert any(p.startswith(problem) for p in problems), problems


def test_a_valid_config_has_no_problems_and_every_problem_comes_at_once() -> None:
    assert rest_problems(VALID) == []
    assert rest_problems({**settings("http://x"), "rate_limit": {"signal": "shopify"}}) == []
    many = rest_problems(with_changes(base_url=None, timeout="soon", s_path=None))
    assert len(many) == 3


def test_opening_a_misconfigured_connection_is_terminal() -> None:
    with pytest.raises(TerminalTaskError, match="connection 'shop' is misconfigured: base_url"):
        open_rest_source("shop", with_changes(base_url=None), secrets=[])


# -- cursor arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "lookback", "sent"),
    [
        ("2025-05-01T10:10:00Z", 600, "2025-05-01T10:00:00Z"),
        ("2025-05-01T10:10:00-04:00", 600, "2025-05-01T10:00:00-04:00"),
        ("2025-05-01T00:05:00+0000", 600, "2025-04-30T23:55:00+0000"),
        ("2025-05-01T10:10:00.123Z", 0.5, "2025-05-01T10:09:59.623Z"),
        ("2025-05-01T10:10:00.123456+00:00", 1, "2025-05-01T10:09:59.123456+00:00"),
        ("2025-05-01 10:10:00", 60, "2025-05-01 10:09:00"),
        ("2025-05-01T10:10", 60, "2025-05-01T10:09"),
        ("2025-05-01", 86400, "2025-04-30"),
        ("2025-05-01T10:10:00Z", 0, "2025-05-01T10:10:00Z"),
        (1500, 10, "1490"),
        (15.5, 0.5, "15.0"),
        ("not a time", 10, "not a time"),
    ],
)
def test_rewind_cursor_keeps_the_cursor_style(cursor: Any, lookback: float, sent: str) -> None:
    assert rewind_cursor(cursor, lookback) == sent
