"""How the NetSuite simulator checks credentials: TBA signatures and OAuth 2.0 tokens.

TBA (OAuth 1.0a): the ``Authorization: OAuth …`` header is parsed, the realm, consumer key,
token and signature method checked, the timestamp must be within ``skew`` seconds of the
real time, a nonce may not come twice, and the HMAC-SHA256 signature is computed again from
the request as received (its own code, not the connector's). OAuth 2.0: the token endpoint
checks a PS256 JWT assertion (``kid``, ``iss``, ``aud``, ``scope``, ``exp``) against the
demo key's public half and issues hour-long Bearer tokens.

Any failure is NetSuite's 401 ``INVALID_LOGIN`` (the token endpoint answers the OAuth
``invalid_client``/``invalid_grant`` body), and never says which part was wrong; a refused
Bearer token also carries Oracle's documented ``WWW-Authenticate: Bearer realm="<account>",
error="invalid_token", error_description="Invalid login attempt."``. ``ns_error`` writes
every error in the documented REST shape (``tests/specs/netsuite/README.md``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jwt
import orjson

from podium.connectors.sources.netsuite.rsa import RSAPublicKey, load_private_key
from podium.sandbox.faults import Answer
from podium.sandbox.netsuite.demo import DEMO_CREDENTIALS
from podium.sandbox.paging import Request

_FIELD = re.compile(r'(\w+)="([^"]*)"')
_LOGIN = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
    "at Setup > Users/Roles > User Management > View Login Audit Trail."
)


def problem_type(status: int) -> str:
    """The ``type`` link of an error: the status's section of RFC 9110 (15.5.1 is 400,
    15.5.2 is 401, 15.6.1 is 500), or RFC 6585 for 429, which RFC 9110 does not define."""
    if status == 429:
        return "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
    return (
        f"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.{status // 100 + 1}."
        f"{status % 100 + 1}"
    )


def ns_error(
    status: int,
    title: str,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **where: str,
) -> Answer:
    """NetSuite's REST error body; ``where`` adds the documented pointers to the culprit
    (``error_query_param="limit"`` → ``o:errorQueryParam``, also ``error_header``,
    ``error_path``, ``url_path``)."""
    error: dict[str, str] = {"detail": detail, "o:errorCode": code}
    for key, value in where.items():
        head, *rest = key.split("_")
        error["o:" + head + "".join(part.title() for part in rest)] = value
    body = {"type": problem_type(status), "title": title, "status": status,
            "o:errorDetails": [error]}  # fmt: skip
    return Answer(status, orjson.dumps(body), dict(headers or {}))


def invalid_login(realm: str = "", *, bearer: bool = False) -> Answer:
    """401 ``INVALID_LOGIN``; a refused Bearer token also gets the documented
    ``WWW-Authenticate: Bearer realm=…, error="invalid_token"`` header."""
    headers = {}
    if bearer:
        headers["WWW-Authenticate"] = (
            f'Bearer realm="{realm}", error="invalid_token", '
            'error_description="Invalid login attempt."'
        )
    return ns_error(401, "Unauthorized", "INVALID_LOGIN", _LOGIN, headers=headers)


def _enc(text: str) -> str:
    return quote(text, safe="-._~")


def expected_signature(
    request: Request, oauth: Mapping[str, str], consumer_secret: str, token_secret: str
) -> str:
    """The signature the request should carry, computed from what arrived."""
    split = urlsplit(request.base + request.path)
    url = f"{split.scheme.lower()}://{split.netloc.lower()}{split.path}"
    params = [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
    params += list(request.params.items())
    text = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))
    base = f"{request.method.upper()}&{_enc(url)}&{_enc(text)}"
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()).decode()


class Credentials:
    """What the simulated account accepts, and the tokens it has issued or revoked."""

    def __init__(self, creds: Mapping[str, str] = DEMO_CREDENTIALS, *, skew: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.creds, self.skew, self._clock = dict(creds), skew, clock
        self.realm = creds["account_id"].upper().replace("-", "_")
        self.public: RSAPublicKey = load_private_key(creds["private_key"]).public_key()
        self.revoked = False
        self._lock = threading.Lock()
        self._nonces: deque[str] = deque(maxlen=50_000)
        self._seen: set[str] = set()
        self._tokens: dict[str, float] = {}
        self.replays = 0

    def revoke(self) -> None:
        """The TBA token and the OAuth 2.0 mapping are revoked; issued tokens stop working."""
        with self._lock:
            self.revoked = True
            self._tokens.clear()

    def check(self, request: Request) -> Answer | None:
        """None if the request is authenticated, else the 401 to answer."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            with self._lock:
                expires = self._tokens.get(header[7:].strip())
            if expires and expires > self._clock():
                return None
            return invalid_login(self.realm, bearer=True)
        if header.startswith("OAuth ") and self._tba_ok(request, header):
            return None
        return invalid_login()

    def _tba_ok(self, request: Request, header: str) -> bool:
        oauth = {k: unquote(v) for k, v in _FIELD.findall(header)}
        c = self.creds
        if (
            self.revoked
            or oauth.get("realm") != self.realm
            or oauth.get("oauth_consumer_key") != c["consumer_key"]
            or oauth.get("oauth_token") != c["token_id"]
            or oauth.get("oauth_signature_method") != "HMAC-SHA256"
            or oauth.get("oauth_version", "1.0") != "1.0"
        ):
            return False
        try:
            if abs(int(oauth.get("oauth_timestamp", "")) - self._clock()) > self.skew:
                return False
        except ValueError:
            return False
        want = expected_signature(request, oauth, c["consumer_secret"], c["token_secret"])
        if not hmac.compare_digest(want, oauth.get("oauth_signature", "")):
            return False
        return self._fresh(oauth.get("oauth_nonce", ""))

    def _fresh(self, nonce: str) -> bool:
        with self._lock:
            if not nonce or nonce in self._seen:
                self.replays += 1
                return False
            if len(self._nonces) == self._nonces.maxlen:
                self._seen.discard(self._nonces[0])
            self._nonces.append(nonce)
            self._seen.add(nonce)
            return True

    # -- OAuth 2.0 client credentials ----------------------------------------------------
    def token(self, request: Request) -> Answer:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return _oauth_error(400, "unsupported_grant_type")
        if self.revoked or not self._assertion_ok(form.get("client_assertion", ""), request):
            return _oauth_error(401 if not self.revoked else 400,
                                "invalid_grant" if self.revoked else "invalid_client")  # fmt: skip
        token = "at_" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self._clock() + 3600
        body = {"access_token": token, "expires_in": "3600", "token_type": "bearer"}
        return Answer(200, orjson.dumps(body))

    def _assertion_ok(self, assertion: str, request: Request) -> bool:
        """PyJWT checks the PS256 signature, the audience and the issuer; the times are
        checked here against the simulator's clock (which tests set)."""
        c = self.creds
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.public,
                algorithms=["PS256"],
                audience=request.base + request.path,
                issuer=c["client_id"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
            iat, exp = int(str(claims.get("iat", 0))), int(str(claims.get("exp", 0)))
        except (jwt.PyJWTError, ValueError):
            return False
        now = self._clock()
        scope = claims.get("scope")
        scopes = scope if isinstance(scope, list) else str(scope).split(",")
        return (
            header.get("kid") == c["certificate_id"]
            and "rest_webservices" in scopes
            and iat <= now + self.skew
            and now < exp <= iat + 3600
        )


def _oauth_error(status: int, error: str) -> Answer:
    return Answer(status, orjson.dumps({"error": error}))
