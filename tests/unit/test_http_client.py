"""HttpClient against a real PageServer: what it retries, what it never retries, masking."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from podium.connectors.http import (
    HttpClient,
    HttpRequest,
    HttpRetry,
    UnparsableBodyError,
    shared_ssl_context,
)
from podium.connectors.ratelimit import (
    AmazonRateLimit,
    ShopifyCallLimit,
    TokenBucket,
    shared_limiter,
)
from podium.errors import TerminalTaskError, TransientTaskError
from podium.sandbox import ALWAYS, Faults, PageServer, When
from podium.testing import FakeClock

SECRET = "shpat_0123456789abcdef"
RECORDS = [{"id": i, "updated_at": f"2025-05-01T10:00:{i:02d}Z"} for i in range(10)]


class Waits:
    """An injected sleep that records each wait instead of waiting (and moves a fake
    clock by it, when given one)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.waits: list[float] = []
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


def serve(faults: Faults | None = None, **kwargs: object) -> PageServer:
    return PageServer(RECORDS, faults=faults, **kwargs)  # type: ignore[arg-type]


def client_for(server: PageServer, waits: Waits, **kwargs: object) -> HttpClient:
    options: dict[str, object] = {
        "name": "shop",
        "secrets": [SECRET],
        "sleep": waits,
        "rand": lambda: 1.0,
        "timeout": 5.0,
    }
    options.update(kwargs)
    return HttpClient(server.url, **options)  # type: ignore[arg-type]


@pytest.fixture
def healthy() -> Iterator[PageServer]:
    with serve() as server:
        yield server


def test_a_healthy_page_is_parsed_once_and_masked(healthy: PageServer, waits: Waits) -> None:
    with client_for(healthy, waits) as client:
        response = client.get_json("/orders.json", {"limit": "3", "api_key": SECRET})
    assert response.status == 200
    assert [r["id"] for r in response.json()["orders"]] == [0, 1, 2]
    assert SECRET not in response.url and "api_key=***" in response.url
    assert SECRET in response.real_url
    assert waits.waits == []


def test_retry_after_is_honoured_for_each_429(waits: Waits) -> None:
    faults = Faults(throttle=When.at(1), throttle_burst=2, retry_after=3)
    with serve(faults) as server, client_for(server, waits) as client:
        response = client.get_json("/orders.json")
    assert response.status == 200
    assert waits.waits == [3.0, 3.0]
    assert [entry[2] for entry in server.log] == [429, 429, 200]


def test_retry_after_is_capped(waits: Waits) -> None:
    faults = Faults(throttle=When.at(1), retry_after=3600)
    retry = HttpRetry(max_retry_after=60)
    with serve(faults) as server, client_for(server, waits, retry=retry) as client:
        client.get_json("/orders.json")
    assert waits.waits == [60.0]


def test_retry_after_as_an_http_date(waits: Waits) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": "Fri, 15 Jan 2027 08:00:20 GMT"}),
            httpx.Response(200, json={"orders": []}),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    client = HttpClient("http://api.test", sleep=waits, clock=clock, transport=transport)
    assert client.get_json("/orders.json").json() == {"orders": []}
    assert waits.waits == [20.0]  # 1_800_000_000 is 2027-01-15T08:00:00Z


def test_a_5xx_burst_backs_off_exponentially_then_recovers(waits: Waits) -> None:
    faults = Faults(errors=When.at(1), error_burst=3)
    with serve(faults) as server, client_for(server, waits) as client:
        assert client.get_json("/orders.json").status == 200
    assert [entry[2] for entry in server.log] == [500, 502, 503, 200]
    assert waits.waits == [0.5, 1.0, 2.0]


def test_jitter_draws_between_half_and_all_of_the_backoff(waits: Waits) -> None:
    faults = Faults(errors=When.at(1))
    with serve(faults) as server, client_for(server, waits, rand=lambda: 0.0) as client:
        client.get_json("/orders.json")
    assert waits.waits == [0.25]


def test_a_reset_connection_is_retried(waits: Waits) -> None:
    with serve(Faults(reset=When.at(1))) as server, client_for(server, waits) as client:
        response = client.get_json("/orders.json")
    assert len(response.json()["orders"]) == 10
    assert [entry[2] for entry in server.log] == [0, 200]


def test_a_truncated_body_is_fetched_again(waits: Waits) -> None:
    with serve(Faults(truncate=When.at(1))) as server, client_for(server, waits) as client:
        response = client.get_json("/orders.json")
    assert len(response.json()["orders"]) == 10
    assert server.requests == 2


def test_a_body_the_decoder_refuses_is_fetched_again_and_json_is_what_it_decoded(
    waits: Waits,
) -> None:
    class Orders(msgspec.Struct):
        orders: list[dict[str, object]]

    decoder = msgspec.json.Decoder(Orders)
    with serve(Faults(truncate=When.at(1))) as server, client_for(server, waits) as client:
        response = client.send(HttpRequest("GET", "/orders.json"), decode=decoder.decode)
    assert server.requests == 2 and len(waits.waits) == 1
    assert isinstance(response.json(), Orders) and len(response.json().orders) == 10


def test_a_body_the_decoder_always_refuses_fails_retryably_naming_it(waits: Waits) -> None:
    def refuse(content: bytes) -> object:
        raise ValueError("not an order page")

    with (
        serve() as server,
        client_for(server, waits, retry=HttpRetry(attempts=2)) as client,
        pytest.raises(TransientTaskError, match="not an order page"),
    ):
        client.send(HttpRequest("GET", "/orders.json"), decode=refuse)
    assert server.requests == 2


def test_a_truncated_body_read_without_parsing_fails_retryably(waits: Waits) -> None:
    with serve(Faults(truncate=When.at(1))) as server, client_for(server, waits) as client:
        response = client.get("/orders.json", {"token": SECRET})
    with pytest.raises(UnparsableBodyError) as caught:
        response.json()
    assert isinstance(caught.value, TransientTaskError)
    assert SECRET not in str(caught.value)


def test_a_page_slower_than_the_timeout_is_retried(waits: Waits) -> None:
    faults = Faults(slow=When.at(1), slow_seconds=1.0)
    with serve(faults) as server, client_for(server, waits, timeout=0.15) as client:
        response = client.get_json("/orders.json")
    assert response.status == 200
    assert server.requests == 2
    assert len(waits.waits) == 1


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "check the access token / API key for connection 'shop'"),
        (403, "scopes or permissions"),
        (404, "check the path/base_url of connection 'shop'"),
        (400, "check the request's parameters"),
    ],
)
def test_client_errors_are_terminal_at_once(status: int, hint: str, waits: Waits) -> None:
    with (
        serve(Faults(status=status)) as server,
        client_for(server, waits) as client,
        pytest.raises(TerminalTaskError) as caught,
    ):
        client.get_json(f"/orders.json?access_token={SECRET}")
    message = str(caught.value)
    assert server.requests == 1
    assert waits.waits == []
    assert "connection 'shop'" in message and f"returned {status}" in message
    assert hint in message
    assert SECRET not in message and "access_token=***" in message


def test_a_wrong_token_is_terminal_and_never_printed(waits: Waits) -> None:
    wrong = "Bearer wrong-token-value-42"
    with (
        serve(token="Bearer right-token-value") as server,
        client_for(server, waits, headers={"Authorization": wrong}) as client,
        pytest.raises(TerminalTaskError) as caught,
    ):
        client.get_json("/orders.json")
    message = str(caught.value)
    assert server.requests == 1
    assert "401 Unauthorized: [API] Invalid API key" in message
    assert "wrong-token-value-42" not in message


def test_exhausted_retries_are_transient_and_name_the_last_failure(
    waits: Waits, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("podium.test.http")
    retry = HttpRetry(attempts=3)
    with (
        serve(Faults(errors=ALWAYS)) as server,
        client_for(server, waits, retry=retry, logger=logger) as client,
        caplog.at_level(logging.WARNING, logger="podium.test.http"),
        pytest.raises(TransientTaskError) as caught,
    ):
        client.get_json(f"/orders.json?key={SECRET}")
    message = str(caught.value)
    assert server.requests == 3
    assert "failed after 3 attempts" in message
    assert "last: 503 Service Unavailable" in message
    assert not isinstance(caught.value, TerminalTaskError)
    assert len(caplog.records) == 2 and "retry 1/2" in caplog.records[0].getMessage()
    assert SECRET not in message + caplog.text


def test_connection_refused_is_transient(waits: Waits) -> None:
    with serve() as server:
        url = server.url
    client = HttpClient(url, sleep=waits, retry=HttpRetry(attempts=2), name="shop")
    with pytest.raises(TransientTaskError, match="connection failed"):
        client.get("/orders.json")
    assert len(waits.waits) == 1


# -- rate limits ---------------------------------------------------------------------------


def test_token_bucket_spends_its_burst_then_paces() -> None:
    clock, waits = FakeClock(), Waits()
    bucket = TokenBucket(2.0, burst=2, clock=clock, sleep=waits)
    for _ in range(4):
        bucket.acquire()
    assert waits.waits == [0.5, 1.0]  # reserved: the 3rd waits one token, the 4th two
    clock.advance(10)
    bucket.acquire()
    assert waits.waits == [0.5, 1.0]


def test_shopify_call_limit_waits_when_the_bucket_is_nearly_full(waits: Waits) -> None:
    clock = FakeClock()
    limiter = ShopifyCallLimit(leak_per_s=2.0, clock=clock, sleep=waits)
    header = {ShopifyCallLimit.HEADER: "39/40"}
    with serve(headers=header) as server, client_for(server, waits, limiter=limiter) as client:
        client.get_json("/orders.json")
        assert waits.waits == []
        client.get_json("/orders.json")
    assert waits.waits == [1.0]  # 39 used + 1 must leave 2 free of 40: wait for 2 to leak


def test_shopify_graphql_cost_paces_by_points(waits: Waits) -> None:
    clock = FakeClock()
    limiter = ShopifyCallLimit(clock=clock, sleep=waits)
    body = {
        "extensions": {
            "cost": {
                "requestedQueryCost": 200,
                "throttleStatus": {
                    "maximumAvailable": 2000,
                    "currentlyAvailable": 100,
                    "restoreRate": 100,
                },
            }
        }
    }
    limiter.observe_graphql(body)
    limiter.acquire()
    assert waits.waits == [1.0]


def test_amazon_rate_follows_the_header_and_a_429_drains_the_bucket() -> None:
    clock = FakeClock()
    waits = Waits(clock)
    limiter = AmazonRateLimit(rate_per_s=10, burst=5, clock=clock, sleep=waits)
    header = {AmazonRateLimit.HEADER: "0.5"}
    faults = Faults(throttle=When.at(2), retry_after=0)
    with (
        serve(faults, headers=header) as server,
        client_for(server, waits, limiter=limiter) as client,
    ):
        client.get_json("/orders.json")
        assert limiter.bucket.rate == 0.5
        client.get_json("/orders.json")  # 429 then 200
    # the burst covers the 2nd request; its 429 (Retry-After: 0, as SP-API sends none)
    # empties the bucket, so the retry waits a full 1 / rate
    assert waits.waits == [0.0, 2.0]


def test_shared_limiter_is_one_per_key() -> None:
    first = shared_limiter("test:shared:a", lambda: TokenBucket(1, 1))
    again = shared_limiter("test:shared:a", lambda: TokenBucket(5, 5))
    other = shared_limiter("test:shared:b", lambda: TokenBucket(1, 1))
    assert first is again and first is not other


def test_clients_share_one_verifying_tls_context() -> None:
    """Loading the CA bundle costs ~20 ms: a client opened per attempt must not pay it."""
    first, second = HttpClient("https://a.example"), HttpClient("https://b.example")
    try:
        contexts = [c._client._transport._pool._ssl_context for c in (first, second)]  # type: ignore[attr-defined]
        assert contexts[0] is contexts[1] is shared_ssl_context()
        assert contexts[0].verify_mode is ssl.CERT_REQUIRED and contexts[0].check_hostname
    finally:
        first.close()
        second.close()
