"""Running an ``http`` task: one call, one call per row, or one per batch of rows.

Each call goes through podium's ``HttpClient``: 5xx, 408, 429 and connection errors are
tried up to 3 times within the attempt (after the server's ``Retry-After`` when it gives
one); any other status outside ``expect`` fails the attempt for good (4xx: retrying would
send the same request again). When the client gives up, the attempt fails retryably and
the task's ``retries`` decide.

Every call carries an ``Idempotency-Key`` (unless the task sets its own), the same on every
attempt, so a receiver that honours it does not act twice on a retried task:

    one call                    RUN:TASK
    per row with key: COLS      WORKFLOW:TASK:ROWKEY   (the same in every run)
    per row without key         RUN:TASK:HASH-OF-ROW
    per batch                   as per row, with a hash of the batch's keys (or rows)

With ``key``, the rows answered as expected are remembered in ``_podium.http_sent``
(``podium.outgoing.sent``), written every 200 rows or 2 seconds and when the attempt ends
however it ends; rows already there are skipped. The output says what happened, never
what was sent: ``{"calls", "statuses", "rows", "sent", "skipped"}`` (and, for one call,
the ``status`` and the JSON ``response``, masked).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from podium.connectors.http import RETRYABLE, HttpClient, HttpResponse, HttpRetry
from podium.errors import TerminalTaskError, TransientTaskError
from podium.kinds.base import Job
from podium.kinds.http_options import default_method, mode_of
from podium.outgoing import rows as row_source
from podium.outgoing.sent import SentBook, sent_keys
from podium.outgoing.templates import UnresolvedReference, render, render_text

CALL_RETRY = HttpRetry(attempts=3, backoff=0.5, max_backoff=10.0, max_retry_after=60.0)
#: statuses the client hands back to us (we decide): everything it would not retry
_ANSWERS = frozenset(s for s in range(100, 500) if s not in RETRYABLE)
LOGGED_CALLS = 20  # one log line per call for the first calls, then a summary
_EXCERPT = 200
_SECRET_HEADER_WORDS = ("auth", "token", "key", "secret", "signature", "cookie", "session")
_NO_BODY = object()


@dataclass(frozen=True)
class Plan:
    """What the task's options say to do."""

    task: str
    workflow: str
    url: str
    method: str
    headers: Mapping[str, str]
    body: Any
    expect: frozenset[int]
    mode: str
    for_each: Mapping[str, Any]

    @classmethod
    def of(cls, job: Job) -> Plan:
        options = job.options
        mode = mode_of(options)
        body = options.get("body", _NO_BODY)
        if body is _NO_BODY and mode != "single":
            body = "{{ row }}" if mode == "row" else "{{ rows }}"
        return cls(
            task=job.key[1],
            workflow=job.workflow,
            url=job.target,
            method=default_method(options),
            headers=dict(options.get("headers") or {}),
            body=body,
            expect=frozenset(options.get("expect") or ()),
            mode=mode,
            for_each=dict(options.get("for_each") or {}),
        )

    def expected(self, status: int) -> bool:
        return status in self.expect if self.expect else 200 <= status < 300

    def expect_text(self) -> str:
        return ", ".join(map(str, sorted(self.expect))) if self.expect else "2xx"


@dataclass
class Unit:
    """One call's worth: the row or rows it sends, and what identifies it."""

    scope: dict[str, Any]
    idempotency_key: str
    label: str  # for messages: "" or " (row key 1001)"
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HttpPlan:
    """What an http task needs from the project, resolved once (``prepare``)."""

    warehouse: Mapping[str, Any]
    secrets: frozenset[str]


def run_http_task(job: Job, log: logging.Logger, cancelled: threading.Event) -> dict[str, Any]:
    """Makes the task's calls; the output described in the module docstring."""
    root = Path(job.project_root)
    project: HttpPlan = job.prepared
    plan = Plan.of(job)
    scope = base_scope(job)
    units, total, skipped = _units(plan, job, scope, project.warehouse, root)
    client = HttpClient(
        secrets=project.secrets,
        retry=CALL_RETRY,
        name=plan.task,
        logger=log,
        accept=_ANSWERS | plan.expect,
    )
    log.addFilter(_TaskWording(plan.task))
    sender = Sender(plan, client, log)
    book = SentBook(
        plan.workflow, plan.task, job.key[0], partial(_warehouse, project.warehouse, root)
    )
    ended = False
    try:
        for unit in units:
            if cancelled.is_set():
                break
            sender.send(unit)
            book.add(unit.keys, sender.last_status)
        ended = True
    finally:
        client.close()
        _remember(book, log, raise_errors=ended)
    return sender.output(rows=total, sent=book.count, skipped=skipped)


def _remember(book: SentBook, log: logging.Logger, *, raise_errors: bool) -> None:
    """Writes the sent rows not written yet; when the attempt is failing anyway, a failure
    to write is logged rather than hiding the attempt's own error."""
    try:
        book.flush(force=True)
    except Exception as exc:  # noqa: BLE001 - reported here, raised when nothing else is
        log.error(
            "could not note %d sent rows in _podium.http_sent (%s); the next run sends them "
            "again with the same Idempotency-Key",
            len(book.pending),
            exc,
        )
        if raise_errors:
            raise


class _TaskWording(logging.Filter):
    """The HTTP client's retry lines name a connection; here they are about the task."""

    def __init__(self, task: str) -> None:
        super().__init__()
        self.prefix, self.wording = f"connection {task!r}: ", f"task {task!r}: "

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.prefix):
            record.msg = self.wording + record.msg[len(self.prefix) :]
        return True


def base_scope(job: Job) -> dict[str, Any]:
    run_id, task, attempt = job.key
    return {
        "params": dict(job.params),
        "upstream": dict(job.upstream),
        "trigger": dict(job.trigger),
        "run": {
            "id": run_id,
            "task": task,
            "attempt": attempt,
            "workflow": job.workflow,
            "logical_time": job.logical_time,
            "idempotency_key": job.idempotency_key,
        },
    }


# -- what to send -----------------------------------------------------------------------------


def _units(
    plan: Plan, job: Job, scope: dict[str, Any], warehouse: Mapping[str, Any], root: Path
) -> tuple[list[Unit], int, int]:
    """The calls to make, how many rows there were, and how many were sent before."""
    if plan.mode == "single":
        return [Unit(scope, job.idempotency_key, "")], 0, 0
    found = _rows(plan, scope, warehouse, root)
    columns = list(plan.for_each.get("key") or ())
    keyed = [(row, _key(plan, row, columns, i)) for i, row in enumerate(found)]
    skipped = 0
    if columns:
        with _warehouse(warehouse, root) as sql:
            already = sent_keys(sql, plan.workflow, plan.task)
        keyed, skipped = _unsent(keyed, already)
    if plan.mode == "row":
        return [_row_unit(plan, job, scope, row, key) for row, key in keyed], len(found), skipped
    size = int(plan.for_each.get("batch") or 100)
    batches = [keyed[i : i + size] for i in range(0, len(keyed), size)]
    return [_batch_unit(plan, job, scope, b) for b in batches], len(found), skipped


def _unsent(
    keyed: list[tuple[Any, str | None]], already: set[str]
) -> tuple[list[tuple[Any, str | None]], int]:
    """The rows whose key was not sent before (nor repeats an earlier row's), and how many
    were left out."""
    fresh, seen, skipped = [], set(already), 0
    for row, key in keyed:
        if key in seen:
            skipped += 1
            continue
        if key is not None:
            seen.add(key)
        fresh.append((row, key))
    return fresh, skipped


def _rows(
    plan: Plan, scope: Mapping[str, Any], warehouse: Mapping[str, Any], root: Path
) -> list[Any]:
    if "query" in plan.for_each:
        return row_source.query_rows(plan.task, str(plan.for_each["query"]), warehouse, root)
    return row_source.upstream_rows(plan.task, str(plan.for_each.get("rows", "")), scope)


def _key(plan: Plan, row: Any, columns: list[str], index: int) -> str | None:
    return row_source.row_key(plan.task, row, columns, index) if columns else None


def _row_unit(plan: Plan, job: Job, scope: dict[str, Any], row: Any, key: str | None) -> Unit:
    if key is not None:
        return Unit(
            {**scope, "row": row},
            _bounded(f"{plan.workflow}:{plan.task}:{key}"),
            f" (row key {key})",
            [key],
        )
    digest = _digest(row)
    return Unit({**scope, "row": row}, f"{job.idempotency_key}:{digest}", f" (row {digest})")


def _batch_unit(
    plan: Plan, job: Job, scope: dict[str, Any], batch: list[tuple[Any, str | None]]
) -> Unit:
    rows = [row for row, _ in batch]
    keys = [key for _, key in batch if key is not None]
    if keys:
        digest = _digest(keys)
        ikey, label = f"{plan.workflow}:{plan.task}:batch-{digest}", f" (batch of {len(rows)})"
    else:
        digest = _digest(rows)
        ikey, label = f"{job.idempotency_key}:batch-{digest}", f" (batch of {len(rows)})"
    return Unit({**scope, "rows": rows}, ikey, label, keys)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _bounded(key: str) -> str:
    """Idempotency keys stay short: receivers cap them (Stripe: 255 characters)."""
    return key if len(key) <= 200 else f"{key[:150]}:{_digest(key)}"


def _warehouse(warehouse: Mapping[str, Any], root: Path) -> Any:
    from podium.transforms.warehouse_sql import open_warehouse_sql

    return open_warehouse_sql(warehouse, root)


# -- sending ----------------------------------------------------------------------------------


class Sender:
    """Makes the calls, checks their statuses and counts them."""

    def __init__(self, plan: Plan, client: HttpClient, log: logging.Logger) -> None:
        self.plan, self.client, self.log = plan, client, log
        self.statuses: Counter[int] = Counter()
        self.calls = 0
        self.last_status = 0
        self.response: Any = None

    def send(self, unit: Unit) -> None:
        url, headers, body = self._request(unit)
        started = time.monotonic()
        try:
            response = self.client.request(
                self.plan.method,
                url,
                json=None if body is _NO_BODY else body,
                headers=headers,
            )
        except TransientTaskError as exc:
            raise TransientTaskError(self._relabel(exc, unit)) from None
        except TerminalTaskError as exc:  # an invalid URL
            raise TerminalTaskError(self._relabel(exc, unit)) from None
        self.calls += 1
        self.statuses[response.status] += 1
        self.last_status = response.status
        self._log_call(response, unit, time.monotonic() - started)
        if not self.plan.expected(response.status):
            raise TerminalTaskError(self._unexpected(response, unit))
        if self.plan.mode == "single":
            self.response = _json_answer(response)

    def _request(self, unit: Unit) -> tuple[str, dict[str, str], Any]:
        plan = self.plan
        try:
            url = str(render_text(plan.url, unit.scope, "url", encode=_url_piece))
            headers = {
                name: str(render_text(value, unit.scope, f"headers.{name}"))
                for name, value in plan.headers.items()
            }
            body = _NO_BODY if plan.body is _NO_BODY else render(plan.body, unit.scope, "body")
        except UnresolvedReference as exc:
            raise TerminalTaskError(
                self.client.mask(
                    f"task {plan.task!r}{unit.label}: {exc}; correct the reference or the "
                    "task's depends_on/params"
                )
            ) from None
        self.client.mask.add(*(v for k, v in headers.items() if _is_secret_header(k)))
        if not any(k.lower() == "idempotency-key" for k in headers):
            headers["Idempotency-Key"] = unit.idempotency_key
        headers.setdefault("User-Agent", "podium-http-task")
        return url, headers, body

    def _relabel(self, exc: Exception, unit: Unit) -> str:
        """The client's message, naming the task instead of a connection."""
        text = str(exc).removeprefix(f"connection {self.plan.task!r}: ")
        return self.client.mask(f"task {self.plan.task!r}{unit.label}: {text}")

    def _unexpected(self, response: HttpResponse, unit: Unit) -> str:
        status = f"{response.status} {response.reason}".rstrip()
        excerpt = _excerpt(response.content)
        earlier = f" ({self.calls - 1} earlier calls went through)" if self.calls > 1 else ""
        return self.client.mask(
            f"task {self.plan.task!r}{unit.label}: {self.plan.method} {response.url} returned "
            f"{status}{': ' + excerpt if excerpt else ''}; expected {self.plan.expect_text()}"
            f"{earlier}. {_hint(response.status)}"
        )

    def _log_call(self, response: HttpResponse, unit: Unit, seconds: float) -> None:
        if self.calls <= LOGGED_CALLS:
            self.log.info(
                self.client.mask(
                    f"{self.plan.method} {response.url} -> {response.status}"
                    f"{unit.label} in {seconds * 1000:.0f} ms"
                )
            )
        elif self.calls == LOGGED_CALLS + 1:
            self.log.info("further calls are counted in the output, not logged one by one")

    def output(self, *, rows: int, sent: int, skipped: int) -> dict[str, Any]:
        result: dict[str, Any] = {
            "calls": self.calls,
            "statuses": {str(s): n for s, n in sorted(self.statuses.items())},
            "rows": rows,
            "sent": sent,
            "skipped": skipped,
        }
        if self.plan.mode == "single" and self.calls:
            result["status"] = self.last_status
            if self.response is not None:
                result["response"] = self.client.mask.data(self.response)
        return result


def _url_piece(text: str) -> str:
    return quote(text, safe="")


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered != "idempotency-key" and any(w in lowered for w in _SECRET_HEADER_WORDS)


def _excerpt(content: bytes) -> str:
    text = " ".join(content.decode("utf-8", "replace").split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _json_answer(response: HttpResponse, limit: int = 65_536) -> Any:
    if not response.content or len(response.content) > limit:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _hint(status: int) -> str:
    if status in (401, 403):
        return "Check the credentials in the task's headers (and their ${VARIABLES})"
    if status in (404, 405, 410):
        return "Check the task's URL and method"
    if status == 409:
        return "The receiver reports a conflict (sent before?); add 409 to expect: if that is fine"
    if status in (400, 413, 415, 422):
        return "Check the body the task sends (body:, for_each:) against what the receiver wants"
    return "Check the receiver's documentation; add the status to expect: if it means success"
