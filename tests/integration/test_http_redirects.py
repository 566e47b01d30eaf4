"""Redirects through the connectors' HTTP client, between two real servers on 127.0.0.1.

The two servers listen on different ports, so they are different origins: a redirect from
the API to the other must reach it without any credential, whether it came from the
connection's headers, an auth flow, or a value podium knows to be secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from podium.connectors.http import HttpClient, HttpRequest, HttpRetry
from podium.errors import TerminalTaskError

SHOP_TOKEN = "shpat_redirect_secret_0001"
API_KEY = "key_redirect_secret_0002"
CUSTOM = "custom-secret-value-0003"
AMZ_TOKEN = "Atza|redirect-secret-0004"
SECRETS = (SHOP_TOKEN, API_KEY, CUSTOM, AMZ_TOKEN)


class Recorder:
    """A server that keeps each request's method, path and headers; ``routes`` maps a path
    to a redirect (status, location) or answers JSON."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.routes: dict[str, tuple[int, str]] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                owner.seen.append((self.command, self.path, dict(self.headers.items())))
                status, location = owner.routes.get(self.path.split("?")[0], (200, ""))
                body = b"" if location else json.dumps({"ok": True}).encode()
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = handle_one  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class AmazonLikeAuth(httpx.Auth):
    """Adds a token header on each request, as the SP-API's LWA flow does."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-amz-access-token"] = AMZ_TOKEN
        yield request


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    api, other = Recorder(), Recorder()
    yield api, other
    api.close()
    other.close()


@contextmanager
def client(base_url: str) -> Iterator[HttpClient]:
    headers = {
        "X-Shopify-Access-Token": SHOP_TOKEN,
        "X-Api-Key": API_KEY,
        "X-Partner": CUSTOM,  # a header whose name says nothing: its value is a secret
        "Accept": "application/json",
    }
    with HttpClient(
        base_url,
        headers=headers,
        secrets=[CUSTOM],
        auth=AmazonLikeAuth(),
        retry=HttpRetry(attempts=1),
        name="shop",
    ) as made:
        yield made


def has_secret(headers: dict[str, str]) -> list[str]:
    return [f"{k}: {v}" for k, v in headers.items() for s in SECRETS if s in v]


def test_a_redirect_to_another_origin_carries_no_credential(
    servers: tuple[Recorder, Recorder],
) -> None:
    api, other = servers
    api.routes["/orders"] = (302, f"{other.url}/download?part=1")
    with client(api.url) as http:
        response = http.get_json("/orders")
    assert response.json() == {"ok": True} and response.real_url.startswith(other.url)
    ((_, _, to_api),) = api.seen
    assert len(has_secret(to_api)) == 4  # the API itself got every credential
    ((method, path, to_other),) = other.seen
    assert (method, path) == ("GET", "/download?part=1")
    assert has_secret(to_other) == []
    assert {k.lower() for k in to_other} & {"x-api-key", "x-amz-access-token", "x-partner"} == set()
    assert to_other.get("Accept") == "application/json"  # ordinary headers go on


def test_a_redirect_within_the_origin_keeps_the_credentials(
    servers: tuple[Recorder, Recorder],
) -> None:
    api, _ = servers
    api.routes["/old"] = (301, "/new")
    with client(api.url) as http:
        assert http.get_json("/old").json() == {"ok": True}
    assert [path for _, path, _ in api.seen] == ["/old", "/new"]
    assert len(has_secret(api.seen[1][2])) == 4


def test_later_hops_on_the_other_origin_stay_without_credentials(
    servers: tuple[Recorder, Recorder],
) -> None:
    api, other = servers
    api.routes["/start"] = (302, f"{other.url}/hop")
    other.routes["/hop"] = (302, f"{other.url}/end")
    with client(api.url) as http:
        assert http.get_json("/start").json() == {"ok": True}
    assert [path for _, path, _ in other.seen] == ["/hop", "/end"]
    assert all(has_secret(headers) == [] for _, _, headers in other.seen)


def test_a_body_is_never_resent_to_another_origin(servers: tuple[Recorder, Recorder]) -> None:
    api, other = servers
    api.routes["/token"] = (307, f"{other.url}/steal")
    with client(api.url) as http, pytest.raises(TerminalTaskError) as info:
        http.send(HttpRequest("POST", "/token", data={"client_secret": CUSTOM}))
    assert "to another origin" in str(info.value) and "with its body; refused" in str(info.value)
    assert CUSTOM not in str(info.value)
    assert other.seen == []


def test_endless_redirects_stop_with_a_clear_error(servers: tuple[Recorder, Recorder]) -> None:
    api, _ = servers
    api.routes["/loop"] = (302, "/loop")
    with client(api.url) as http, pytest.raises(TerminalTaskError, match="more than 10 redirects"):
        http.get("/loop")
