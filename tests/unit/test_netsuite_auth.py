"""NetSuite auth: TBA signatures, the PS256 JWT, and how refusals read."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import httpx
import jwt
import orjson
import pytest

from podium.connectors.sources.netsuite.answers import check_answer
from podium.connectors.sources.netsuite.oauth2 import make_assertion
from podium.connectors.sources.netsuite.rsa import load_private_key
from podium.connectors.sources.netsuite.tba import (
    TbaAuth,
    TbaCredentials,
    authorization,
    base_string,
    base_url,
    realm_of,
)
from podium.errors import TerminalTaskError
from podium.sandbox.netsuite.auth import Credentials, expected_signature
from podium.sandbox.netsuite.demo import DEMO_CREDENTIALS
from podium.sandbox.paging import Request

CREDS = TbaCredentials("1234567_SB1", "ck", "c s&cret", "tok", "t/secret")
URL = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql"


def test_realm_is_upper_case_with_underscore() -> None:
    assert realm_of("1234567-sb1") == realm_of("1234567_sb1") == "1234567_SB1"


def test_base_url_drops_query_default_port_and_case() -> None:
    assert base_url("HTTPS://Host.Example:443/a/b?x=1") == "https://host.example/a/b"
    assert base_url("http://127.0.0.1:8080/ns/x") == "http://127.0.0.1:8080/ns/x"


def test_base_string_sorts_and_encodes_query_and_oauth_params() -> None:
    text = base_string(
        "post", URL + "?offset=0", [("offset", "0"), ("limit", "1000"), ("a b", "é")]
    )
    assert text.startswith("POST&https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2F")
    assert text.endswith("&a%2520b%3D%25C3%25A9%26limit%3D1000%26offset%3D0")


def test_the_header_matches_an_independent_signature() -> None:
    header = authorization(CREDS, "POST", URL + "?limit=1000&offset=0",
                           [("limit", "1000"), ("offset", "0")], timestamp=1_700_000_000,
                           nonce="abc123")  # fmt: skip
    assert header.startswith(
        'OAuth realm="1234567_SB1", oauth_consumer_key="ck", oauth_token="tok"'
    )
    assert 'oauth_signature_method="HMAC-SHA256"' in header and 'oauth_version="1.0"' in header
    fields = dict(part.split("=", 1) for part in header[6:].split(", "))
    oauth = {k: httpx.QueryParams(f"v={v.strip(chr(34))}")["v"] for k, v in fields.items()}
    request = Request("POST", "/services/rest/query/v1/suiteql", {"limit": "1000", "offset": "0"},
                      {}, "https://1234567-sb1.suitetalk.api.netsuite.com")  # fmt: skip
    assert oauth["oauth_signature"] == expected_signature(request, oauth, "c s&cret", "t/secret")


def test_every_attempt_is_signed_with_a_new_nonce() -> None:
    nonces = iter(["n1", "n2"])
    auth = TbaAuth(CREDS, clock=lambda: 1_700_000_000.0, nonce=lambda: next(nonces))
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={"items": []})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.post(URL, params={"limit": "5"})
        client.post(URL, params={"limit": "5"})
    assert 'oauth_nonce="n1"' in seen[0] and 'oauth_nonce="n2"' in seen[1]


def test_a_401_names_the_credential_settings_not_their_values() -> None:
    body = {"title": "Unauthorized", "status": 401,
            "o:errorDetails": [{"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}]}  # fmt: skip
    response = httpx.Response(401, content=orjson.dumps(body), request=httpx.Request("POST", URL))
    with pytest.raises(TerminalTaskError) as caught:
        check_answer("erp", response, "auth.token_id / auth.token_secret")
    assert "INVALID_LOGIN: Invalid login attempt." in str(caught.value)
    assert "auth.token_id" in str(caught.value) and "'erp'" in str(caught.value)


TOKEN_URL = "http://127.0.0.1:1/netsuite/services/rest/auth/oauth2/v1/token"


def test_the_assertion_is_a_ps256_jwt_that_pyjwt_verifies() -> None:
    c = DEMO_CREDENTIALS
    key = load_private_key(c["private_key"])
    assertion = make_assertion(key, c["client_id"], c["certificate_id"], TOKEN_URL, 1_700_000_000)
    assert jwt.get_unverified_header(assertion) == {
        "alg": "PS256",
        "typ": "JWT",
        "kid": c["certificate_id"],
    }
    claims = jwt.decode(
        assertion,
        key.public_key(),
        algorithms=["PS256"],
        audience=TOKEN_URL,
        issuer=c["client_id"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["scope"] == ["rest_webservices"]
    assert (claims["iat"], claims["exp"]) == (1_700_000_000, 1_700_003_600)
    head, body, signature = assertion.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}AAAA"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key.public_key(), algorithms=["PS256"], audience=TOKEN_URL,
                   options={"verify_exp": False})  # fmt: skip


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_accepts_the_ps256_signature(tmp_path: Path) -> None:
    c = DEMO_CREDENTIALS
    key = load_private_key(c["private_key"])
    assertion = make_assertion(key, c["client_id"], c["certificate_id"], TOKEN_URL, 1_700_000_000)
    head, body, signature = assertion.split(".")
    key_file, sig_file, data = tmp_path / "k.pem", tmp_path / "sig", tmp_path / "data"
    key_file.write_text(c["private_key"])
    data.write_bytes(f"{head}.{body}".encode())
    sig_file.write_bytes(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
         "rsa_pss_saltlen:32", "-prverify", str(key_file), "-signature", str(sig_file), str(data)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Verified OK" in result.stdout, result.stdout + result.stderr


def test_the_simulator_accepts_the_assertion_and_refuses_a_forged_one() -> None:
    c = DEMO_CREDENTIALS
    key = load_private_key(c["private_key"])
    token_url = TOKEN_URL
    creds = Credentials(c, clock=lambda: 1_700_000_000.0)

    def ask(assertion: str) -> int:
        form = httpx.QueryParams({
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        })  # fmt: skip
        request = Request("POST", "/services/rest/auth/oauth2/v1/token", {}, {},
                          "http://127.0.0.1:1/netsuite", str(form).encode())  # fmt: skip
        return creds.token(request).status

    good = make_assertion(key, c["client_id"], c["certificate_id"], token_url, 1_700_000_000.0)
    assert ask(good) == 200
    head, claims, signature = good.split(".")
    forged = dict(orjson.loads(base64.urlsafe_b64decode(claims + "==")), iss="someone-else")
    forged_claims = base64.urlsafe_b64encode(orjson.dumps(forged)).decode().rstrip("=")
    assert ask(f"{head}.{forged_claims}.{signature}") == 401
    late = make_assertion(key, c["client_id"], c["certificate_id"], token_url, 1_600_000_000.0)
    assert ask(late) == 401


def test_a_key_that_is_not_pem_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as caught:
        load_private_key("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert "MIIE" not in str(caught.value)


# -- OAuth 1.0a against oauthlib, the reference implementation --------------------------------

ODD = TbaCredentials("1234567_SB1", "ck+/=", "c s&cret é", "tok~en", "t/secret%20")
SIGNED = [
    ("GET", URL, []),
    ("POST", URL + "?limit=1000&offset=0", [("limit", "1000"), ("offset", "0")]),
    ("GET", URL + "?a%20b=%C3%A9&a%20b=z&q=x%2By", [("a b", "é"), ("a b", "z"), ("q", "x+y")]),
    (
        "PUT",
        "https://1234567-SB1.Suitetalk.Api.Netsuite.com:443/services/rest/record/v1/customer/7",
        [],
    ),
    ("GET", "http://127.0.0.1:8080/netsuite/services/rest/query/v1/suiteql?x=%2F", [("x", "/")]),
]


@pytest.mark.parametrize("creds", [CREDS, ODD], ids=["plain", "odd-characters"])
@pytest.mark.parametrize(("method", "url", "query"), SIGNED)
def test_signatures_equal_oauthlibs_for_the_same_inputs(
    creds: TbaCredentials, method: str, url: str, query: list[tuple[str, str]]
) -> None:
    from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

    ours = authorization(creds, method, url, query, timestamp=1_700_000_000, nonce="n0nce42")
    reference = Client(
        creds.consumer_key,
        client_secret=creds.consumer_secret,
        resource_owner_key=creds.token_id,
        resource_owner_secret=creds.token_secret,
        signature_method=SIGNATURE_HMAC_SHA256,
        realm=realm_of(creds.account_id),
        timestamp="1700000000",
        nonce="n0nce42",
    )
    _, headers, _ = reference.sign(url, http_method=method)

    def signature(header: str) -> str:
        fields = dict(part.split("=", 1) for part in header[6:].split(", "))
        return httpx.QueryParams(f"v={fields['oauth_signature'].strip(chr(34))}")["v"]

    assert signature(ours) == signature(headers["Authorization"])
    # the simulator computes the same signature from what arrives
    split = httpx.URL(url)
    arrived = Request(
        method, split.path, dict(query), {}, f"{split.scheme}://{split.netloc.decode()}", b""
    )
    oauth = {
        "oauth_consumer_key": creds.consumer_key,
        "oauth_token": creds.token_id,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1700000000",
        "oauth_nonce": "n0nce42",
        "oauth_version": "1.0",
    }
    if len({k for k, _ in query}) == len(query):  # the simulator keeps one value per name
        simulated = expected_signature(arrived, oauth, creds.consumer_secret, creds.token_secret)
        assert simulated == signature(ours)
