"""Login with Amazon as an httpx.Auth, through the HttpClient, against a mock transport."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest

from podium.connectors.http import HttpClient, HttpRetry
from podium.connectors.sources.amazon.auth import HEADER, LwaAuth
from podium.core.masking import Masker
from podium.errors import TerminalTaskError

TOKEN_URL = "https://api.amazon.test/auth/o2/token"
REFRESH = "Atzr|refresh-secret"


class FakeAmazon:
    """LWA plus one API path; tokens are numbered, ``valid`` decides which still work."""

    def __init__(self) -> None:
        self.issued = 0
        self.valid: set[str] = set()
        self.lwa: list[int] = []  # statuses LWA will answer, in turn (default 200)
        self.token_forms: list[dict[str, str]] = []
        self.api_tokens: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.token_forms.append(dict(parse_qsl(request.content.decode())))
            status = self.lwa.pop(0) if self.lwa else 200
            if status == 200:
                self.issued += 1
                token = f"Atza|token-{self.issued}"
                self.valid.add(token)
                return httpx.Response(200, json={"access_token": token, "expires_in": 3600})
            error = {400: "invalid_grant", 401: "invalid_client"}.get(status, "server_error")
            return httpx.Response(status, json={"error": error, "error_description": "no"})
        token = request.headers.get(HEADER)
        self.api_tokens.append(token)
        if token not in self.valid:
            return httpx.Response(403, json={"errors": [{"code": "Unauthorized"}]})
        return httpx.Response(200, json={"payload": {}})


def client_for(
    fake: FakeAmazon, now: Callable[[], float] = lambda: 0.0
) -> tuple[HttpClient, LwaAuth]:
    holder: list[HttpClient] = []

    def on_token(token: str) -> None:
        holder[0].mask = Masker([REFRESH, token])

    auth = LwaAuth(
        TOKEN_URL,
        client_id="cid",
        client_secret="csecret",
        refresh_token=REFRESH,
        connection="amz",
        on_token=on_token,
        clock=now,
    )
    client = HttpClient(
        "https://sellingpartnerapi.test",
        secrets=[REFRESH],
        transport=httpx.MockTransport(fake),
        auth=auth,
        retry=HttpRetry(attempts=3),
        sleep=lambda s: None,
    )
    holder.append(client)
    return client, auth


def test_the_token_is_exchanged_once_and_sent_in_the_header() -> None:
    fake = FakeAmazon()
    client, auth = client_for(fake)
    for _ in range(3):
        assert client.get_json("/orders/v0/orders").status == 200
    assert fake.token_forms == [
        {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH,
            "client_id": "cid",
            "client_secret": "csecret",
        }
    ]
    assert fake.api_tokens == ["Atza|token-1"] * 3
    assert client.mask("sent Atza|token-1") == "sent ***"


def test_a_token_near_its_expiry_is_refreshed_before_use() -> None:
    fake, now = FakeAmazon(), [0.0]
    client, _ = client_for(fake, lambda: now[0])
    client.get("/a")
    now[0] = 3600 - 30  # inside the one-minute margin
    client.get("/b")
    assert fake.api_tokens == ["Atza|token-1", "Atza|token-2"]


def test_a_token_refused_by_the_api_is_refreshed_once() -> None:
    fake = FakeAmazon()
    client, _ = client_for(fake)
    client.get("/a")
    fake.valid.clear()  # expired early, on Amazon's side
    assert client.get("/b").status == 200
    assert fake.api_tokens == ["Atza|token-1", "Atza|token-1", "Atza|token-2"]


def test_a_revoked_refresh_token_is_terminal_and_not_asked_again() -> None:
    fake = FakeAmazon()
    fake.lwa = [400]
    client, _ = client_for(fake)
    for _ in range(3):
        with pytest.raises(TerminalTaskError) as failure:
            client.get("/a")
        message = str(failure.value)
        assert "refresh_token" in message and "invalid_grant" in message
        assert REFRESH not in message
    assert len(fake.token_forms) == 1 and fake.api_tokens == []


def test_bad_client_credentials_name_them() -> None:
    fake = FakeAmazon()
    fake.lwa = [401]
    client, _ = client_for(fake)
    with pytest.raises(TerminalTaskError, match="client_id and client_secret"):
        client.get("/a")


def test_an_unavailable_token_endpoint_is_retried() -> None:
    fake = FakeAmazon()
    fake.lwa = [503, 500]
    client, _ = client_for(fake)
    assert client.get("/a").status == 200
    assert len(fake.token_forms) == 3


def test_a_garbled_token_answer_is_retried() -> None:
    fake = FakeAmazon()
    calls: list[int] = []

    def garbled_first(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL and not calls:
            calls.append(1)
            return httpx.Response(200, content=orjson.dumps({"access_tok": 1})[:8])
        return fake(request)

    client = HttpClient(
        transport=httpx.MockTransport(garbled_first),
        auth=LwaAuth(
            TOKEN_URL, client_id="c", client_secret="s", refresh_token=REFRESH, connection="a"
        ),
        sleep=lambda s: None,
    )
    assert client.get("https://sellingpartnerapi.test/a").status == 200
