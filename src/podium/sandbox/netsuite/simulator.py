"""NetSuiteSimulator: SuiteTalk REST's SuiteQL endpoint over the generated brand.

    POST /services/rest/query/v1/suiteql?limit=&offset=   Prefer: transient, {"q": "SELECT …"}
    POST /services/rest/auth/oauth2/v1/token              client credentials (JWT assertion)

It behaves as NetSuite does where a connector can tell:

- auth: TBA signatures verified for real, OAuth 2.0 Bearer tokens (``auth.py``); 401
  ``INVALID_LOGIN`` otherwise, and after ``revoke_token()``
- concurrency, not rate: at most ``concurrency_limit`` requests in flight (15, NetSuite's
  base allowance); one more is answered 429 "Too Many Requests" at once, in NetSuite's
  error shape and without ``Retry-After``, and counted in ``violations``. ``latency``
  seconds of work per request make requests overlap as they would
- the row ceiling: an ``offset`` at or past ``row_ceiling`` (100,000) or on a page past
  ``max_pages`` (1000: at ``limit=5`` only 5,000 rows are reachable) is a 400
  ``INVALID_PARAMETER`` naming ``offset`` in ``o:errorQueryParam``; tests set the ceiling
  small to exercise slicing. A ``limit`` outside 1..1000, or an ``offset`` that is not a
  page start (a multiple of ``limit``), is refused the same way
- pages with ``links`` (``first``, ``previous``, ``next``, ``last``, ``self``, each href
  carrying ``limit`` and ``offset``), ``count``, ``hasMore``, ``offset``,
  ``totalResults``; each row has ``"links": []``, null columns are left out
- dates in rows as the user's Date Format preference shows them (``date_format``:
  ``M/D/YYYY`` by default, or ``D/M/YYYY``), in the account's time zone, to the minute;
  ``TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS') AS col`` gives the same instant as ISO text
- ``Prefer: transient``: Oracle's example sends it, but no refusal without it is
  documented, so such a request is answered and counted in ``missing_prefer``
- errors in the documented shape (``type``, ``title``, ``status``, ``o:errorDetails``
  with ``detail``, ``o:errorCode`` and, where known, ``o:errorQueryParam``/``o:errorPath``);
  ``tests/specs/netsuite/README.md`` lists what is documented and what is assumed
- only the query shapes the connector sends are understood (``suiteql.py``)

Generic faults (5xx bursts, resets, truncation, slow pages) come from the SandboxServer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from podium.sandbox.brand import Brand
from podium.sandbox.clock import SimClock
from podium.sandbox.faults import Answer
from podium.sandbox.netsuite.auth import Credentials, ns_error
from podium.sandbox.netsuite.demo import DEMO_CREDENTIALS, DEMO_TIMEZONE
from podium.sandbox.netsuite.records import DATE_FORMATS, Row, Tables
from podium.sandbox.netsuite.suiteql import QueryError, bounded, matching, page_answer, parse
from podium.sandbox.paging import Request

SUITEQL = "/services/rest/query/v1/suiteql"
TOKEN = "/services/rest/auth/oauth2/v1/token"


class NetSuiteSimulator:
    """See the module docstring; thread-safe (the server answers from many threads)."""

    def __init__(
        self,
        brand: Brand,
        clock: SimClock,
        *,
        timezone: str = DEMO_TIMEZONE,
        concurrency_limit: int = 15,
        row_ceiling: int = 100_000,
        max_pages: int = 1000,
        date_format: str = "M/D/YYYY",
        latency: float = 0.0,
        credentials: Mapping[str, str] = DEMO_CREDENTIALS,
        skew: float = 300.0,
    ) -> None:
        self.brand, self.clock, self.zone = brand, clock, ZoneInfo(timezone)
        self.concurrency_limit, self.row_ceiling, self.latency = (
            concurrency_limit,
            row_ceiling,
            latency,
        )
        self.max_pages = max_pages
        if date_format not in DATE_FORMATS:
            raise ValueError(f"date_format: expected one of {DATE_FORMATS}, got {date_format!r}")
        self.date_format = date_format
        self.credentials = Credentials(credentials, skew=skew)
        self.violations = 0
        self.missing_prefer = 0  # SuiteQL requests that came without Prefer: transient
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._tables: tuple[datetime, Tables] | None = None
        self._matches: dict[str, list[Row]] = {}  # per query without its lower bound

    def revoke_token(self) -> None:
        """The access token (and the OAuth 2.0 certificate mapping) is revoked from now on."""
        self.credentials.revoke()

    def tables(self) -> Tables:
        """Every table as of ``clock.now()``, rebuilt only when the clock has moved."""
        now = self.clock.now()
        with self._lock:
            if self._tables is None or self._tables[0] != now:
                self._tables = (now, Tables(self.brand, now, self.zone, self.date_format))
                self._matches = {}
            return self._tables[1]

    def answer(self, request: Request) -> Answer:
        with self._lock:
            if self._in_flight >= self.concurrency_limit:
                self.violations += 1
                return ns_error(
                    429, "Too Many Requests", "CONCURRENCY_LIMIT_EXCEEDED",
                    "Concurrent request limit exceeded. Request blocked.",
                )  # fmt: skip
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._route(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _route(self, request: Request) -> Answer:
        if request.path == TOKEN and request.method == "POST":
            return self.credentials.token(request)
        refused = self.credentials.check(request)
        if refused is not None:
            return refused
        if request.path != SUITEQL:
            return ns_error(404, "Not Found", "NONEXISTENT_ID", f"No resource at {request.path}")
        if request.method != "POST":
            return ns_error(405, "Method Not Allowed", "INVALID_METHOD", "Use POST for SuiteQL.")
        if request.headers.get("prefer", "").lower() != "transient":
            with self._lock:
                self.missing_prefer += 1  # documented in the example, no refusal documented
        return self._suiteql(request)

    def _suiteql(self, request: Request) -> Answer:
        try:
            body = orjson.loads(request.body)
            text = body["q"] if isinstance(body, dict) else None
            if not isinstance(text, str):
                raise QueryError('The body must be {"q": "SELECT …"}.')
            query = parse(text, self.zone)
        except (orjson.JSONDecodeError, KeyError, QueryError) as exc:
            detail = str(exc) if isinstance(exc, QueryError) else 'The body must be {"q": "…"}.'
            return ns_error(400, "Bad Request", "INVALID_PARAMETER", detail, error_path="q")
        tables = self.tables()
        with self._lock:
            unbounded = self._matches.get(query.unbounded)
        if unbounded is None:
            unbounded = matching(tables.tables()[query.table], query)
            with self._lock:
                if self._tables is not None and self._tables[1] is tables:
                    if len(self._matches) >= 16:
                        self._matches.clear()
                    self._matches[query.unbounded] = unbounded
        matched = bounded(unbounded, query)
        return page_answer(request, matched, query, self.row_ceiling, self.max_pages)
