"""NetSuite's error answers, turned into errors that say what to fix.

NetSuite's REST errors look like::

    {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2", "title": "Unauthorized",
     "status": 401, "o:errorDetails": [{"detail": "Invalid login attempt. …",
                                       "o:errorCode": "INVALID_LOGIN"}]}

``HttpClient`` quotes only a body's ``title``, so the auth flows (which see every answer
first) raise these themselves: a 401 names the credential settings to check, a 400 quotes
the SuiteQL error. Neither is retried: a revoked token fails once, not in a storm.
"""

from __future__ import annotations

import httpx
import orjson

from podium.errors import TerminalTaskError


def error_detail(content: bytes) -> str:
    """``o:errorCode: detail`` from a NetSuite error body, or ``""``."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return ""
    details = body.get("o:errorDetails") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return ""
    first = details[0]
    return f"{first.get('o:errorCode', 'ERROR')}: {first.get('detail', '')}"[:300]


def check_answer(connection: str, response: httpx.Response, credentials: str) -> None:
    """Raise ``TerminalTaskError`` for a 401 (naming ``credentials``) or a 400."""
    status = response.status_code
    if status not in (400, 401):
        return
    response.read()
    detail = error_detail(response.content) or response.reason_phrase
    where = f"{response.request.method} {response.request.url.copy_with(query=None)}"
    if status == 401:
        raise TerminalTaskError(
            f"connection {connection!r}: NetSuite rejected the credentials ({where} returned "
            f"401 {detail}); check {credentials}: the token may be revoked or expired, or "
            "the role may have lost its Log in using Access Tokens / REST Web Services "
            "permission; nothing was loaded and the cursor did not move"
        )
    raise TerminalTaskError(
        f"connection {connection!r}: NetSuite refused the SuiteQL query ({where} returned "
        f"400 {detail}); this is a bug in the netsuite source or a record type the "
        "account lacks: report it with this message"
    )
