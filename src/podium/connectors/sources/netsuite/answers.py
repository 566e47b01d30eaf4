"""NetSuite's error answers, turned into errors that say what to fix.

NetSuite's REST errors look like (Oracle, "Error Handling in REST Web Services")::

    {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2", "title": "Unauthorized",
     "status": 401, "o:errorDetails": [{"detail": "Invalid login attempt. …",
                                       "o:errorCode": "INVALID_LOGIN"}]}

with, where NetSuite can tell, ``o:errorQueryParam`` (the query parameter at fault),
``o:errorHeader``, ``o:errorPath`` or ``o:urlPath``. ``HttpClient`` quotes only a body's
``title``, so the auth flows (which see every answer first) raise ``NetSuiteRefusal`` for
every 4xx that a retry cannot mend (all but 408 and 429): it quotes the ``o:errorCode`` and
``detail`` and says what to do for that code. The source adds the stream it was reading
(``for_stream``). None is retried: a revoked token fails once, not in a storm.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

from podium.errors import TerminalTaskError

RETRIED = frozenset({408, 429})


@dataclass(frozen=True)
class Refused:
    """What a NetSuite 4xx said: its status, code, detail and the culprit it named."""

    status: int
    code: str
    detail: str
    query_param: str = ""
    header: str = ""

    @classmethod
    def read(cls, status: int, content: bytes, reason: str = "") -> Refused:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        details = body.get("o:errorDetails") if isinstance(body, dict) else None
        if not isinstance(details, list) or not details or not isinstance(details[0], dict):
            return cls(status, "ERROR", reason or "no NetSuite error body")
        first = details[0]
        return cls(
            status,
            str(first.get("o:errorCode") or "ERROR"),
            str(first.get("detail") or "")[:300],
            str(first.get("o:errorQueryParam") or ""),
            str(first.get("o:errorHeader") or ""),
        )


def error_detail(content: bytes) -> str:
    """``o:errorCode: detail`` from a NetSuite error body, or ``""``."""
    refused = Refused.read(0, content)
    return "" if refused.code == "ERROR" else f"{refused.code}: {refused.detail}"


class NetSuiteRefusal(TerminalTaskError):
    """A 4xx NetSuite will answer again: names the code and what to do about it."""

    def __init__(self, connection: str, where: str, refused: Refused, credentials: str) -> None:
        self.connection, self.where, self.refused = connection, where, refused
        self.credentials = credentials
        super().__init__(self.describe())

    def describe(self, stream: str = "", max_rows: int = 0) -> str:
        r = self.refused
        who = f"connection {self.connection!r}" + (f", stream {stream!r}" if stream else "")
        return (
            f"{who}: NetSuite refused {self.where} ({r.status} {r.code}: {r.detail}); "
            f"{self._advice(max_rows)}; nothing was loaded from this answer and the cursor "
            "did not move"
        )

    def for_stream(self, stream: str, max_rows: int) -> TerminalTaskError:
        return TerminalTaskError(self.describe(stream, max_rows))

    def _advice(self, max_rows: int) -> str:
        r = self.refused
        if r.status == 401 or r.code == "INVALID_LOGIN":
            return (
                f"check {self.credentials}: the token may be revoked or expired, or the role "
                "may have lost its Log in using Access Tokens / REST Web Services permission"
            )
        if r.status == 403 or r.code == "INSUFFICIENT_PERMISSION":
            return (
                "the integration's role lacks a permission this read needs: grant it REST "
                "Web Services and view access to the records queried (transactions, "
                "customers, items, inventory)"
            )
        if r.query_param == "offset":
            rows = f" (now {max_rows})" if max_rows else ""
            return (
                "the account returns fewer rows per query than max_rows_per_query"
                f"{rows} allows: lower max_rows_per_query so reads are sliced under the "
                "account's ceiling"
            )
        if r.query_param == "limit":
            return "set page_size to a number from 5 to 1000"
        if r.code == "INVALID_HEADER":
            return f"NetSuite refused the {r.header or 'named'} header: see its detail"
        return (
            "the SuiteQL was refused: the account may lack a record type or field it reads "
            "(a feature not enabled), or this is a bug in the netsuite source; report it "
            "with this message"
        )


def check_answer(connection: str, response: httpx.Response, credentials: str) -> None:
    """Raise ``NetSuiteRefusal`` for a 4xx other than 408/429 (see the module docstring)."""
    status = response.status_code
    if not 400 <= status < 500 or status in RETRIED:
        return
    response.read()
    refused = Refused.read(status, response.content, response.reason_phrase)
    where = f"{response.request.method} {response.request.url.copy_with(query=None)}"
    raise NetSuiteRefusal(connection, where, refused, credentials)
