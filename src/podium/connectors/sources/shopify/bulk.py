"""Bulk Operations for full syncs: start a job, poll it, fetch its JSONL, rebuild nodes.

    run ─▶ bulkOperationRunQuery ─(OPERATION_IN_PROGRESS: adopt it if it is ours,
           │                        else wait for it; any other userError ─▶
           │                        ``BulkRefused``: the source pages instead)
           ▼
    poll currentBulkOperation every ``poll_interval`` ─▶ COMPLETED ─▶ download ─▶ nodes
           │  FAILED / CANCELED / EXPIRED ─▶ ``BulkFailed`` (the source falls back to paging)
           └ still running after ``timeout`` ─▶ ``BulkPending`` (the job id stays in the
             stream's state, so the next run resumes it instead of starting again)

The download goes to a temporary file with its own client, without the access token
(the URL is pre-signed storage), and is checked against the job's ``objectCount`` so a
cut body is fetched again. An expired URL (403/404/410) raises ``BulkUrlExpired``. The
clients share one TLS context (``_tls``): loading the CA bundle for each took 25–45 ms,
more than a small stream's whole file.

The file's lines are rebuilt into nodes by ``jsonl.assemble`` (streamed in one pass
when children stay near their parent, else spilled into SQLite), so memory stays bounded
however large the export.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx

from podium.connectors.sources.shopify.graphql import ShopifyGraphql
from podium.errors import TransientTaskError

DONE = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")
_RUN = (
    "mutation Run($query: String!) { bulkOperationRunQuery(query: $query) { "
    "bulkOperation { id status } userErrors { field message code } } }"
)
_POLL = (
    "query { currentBulkOperation(type: QUERY) { id status errorCode objectCount "
    "url partialDataUrl query } }"
)


class BulkFailed(Exception):
    """The job ended without a file (FAILED, CANCELED, EXPIRED)."""


class BulkRefused(BulkFailed):
    """Shopify would not run the query as a bulk operation (a userError such as
    "a connection field within a list field"); the same query pages fine."""


class BulkPending(Exception):
    """The job is still running when this run's patience ran out."""


class BulkUrlExpired(Exception):
    """The result URL no longer serves the file."""


@dataclass
class BulkJob:
    id: str
    status: str = "CREATED"
    url: str | None = None
    object_count: int = 0
    error: str | None = None


class BulkRunner:
    """Runs bulk queries for one connection; ``sleep``/``clock`` injectable for tests."""

    def __init__(
        self,
        graphql: ShopifyGraphql,
        *,
        poll_interval: float,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self.graphql, self.poll_interval, self.timeout = graphql, poll_interval, timeout
        self._sleep, self._clock, self._logger = sleep, clock, logger

    def start(self, query: str) -> str:
        """A running job for ``query``: a new one, or the one already running it."""
        deadline = self._clock() + self.timeout
        while True:
            payload = self.graphql.execute(_RUN, {"query": query})["bulkOperationRunQuery"]
            job = payload.get("bulkOperation")
            if job:
                return str(job["id"])
            errors = payload.get("userErrors") or [{}]
            if errors[0].get("code") != "OPERATION_IN_PROGRESS":
                raise BulkRefused(f"Shopify refused the bulk query: {errors[0].get('message')}")
            current = self.graphql.execute(_POLL)["currentBulkOperation"] or {}
            if current.get("query") == query and current.get("status") not in DONE:
                return str(current["id"])  # ours, from a run that did not see it finish
            if self._clock() >= deadline:
                raise TransientTaskError(
                    f"connection {self.graphql.name!r}: another bulk operation "
                    f"({current.get('id')}) has been running for over {self.timeout:g}s; "
                    "Shopify runs one at a time per app; the task's retries will try again"
                )
            self._sleep(self.poll_interval)

    def wait(self, job_id: str) -> BulkJob:
        """The job once it is done; ``BulkPending`` past the timeout, ``BulkFailed``."""
        deadline = self._clock() + self.timeout
        while True:
            current = self.graphql.execute(_POLL)["currentBulkOperation"] or {}
            if current.get("id") != job_id:
                raise BulkFailed(f"bulk operation {job_id} is no longer the current one")
            job = BulkJob(
                job_id,
                str(current.get("status")),
                current.get("url"),
                int(current.get("objectCount") or 0),
                current.get("errorCode"),
            )
            if job.status == "COMPLETED":
                return job
            if job.status in DONE:
                raise BulkFailed(f"bulk operation {job_id} ended {job.status} ({job.error})")
            if self._clock() >= deadline:
                raise BulkPending(job_id)
            self._sleep(self.poll_interval)

    def download(self, job: BulkJob, path: Path, attempts: int = 5) -> None:
        """The job's file at ``path``, complete (``objectCount`` lines) or an error."""
        if not job.url:
            path.write_bytes(b"")
            return
        last = ""
        timeout = httpx.Timeout(60.0)
        with httpx.Client(timeout=timeout, follow_redirects=True, verify=_tls()) as client:
            for attempt in range(1, attempts + 1):
                try:
                    lines = _fetch(client, job.url, path)
                except BulkUrlExpired:
                    raise
                except (httpx.HTTPError, _Retry) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if lines == job.object_count:
                        return
                    last = f"{lines} lines of the {job.object_count} the job reported"
                self._sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
        raise TransientTaskError(
            f"connection {self.graphql.name!r}: the file of bulk operation {job.id} could not "
            f"be downloaded whole after {attempts} attempts (last: {last})"
        )


class _Retry(Exception):
    pass


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle), made once per process."""
    return httpx.create_ssl_context()


def _fetch(client: httpx.Client, url: str, path: Path) -> int:
    """Streams ``url`` into ``path``; the number of complete lines."""
    with client.stream("GET", url) as response:
        if response.status_code in (403, 404, 410):
            raise BulkUrlExpired(f"{response.status_code} from the bulk result URL")
        if response.status_code != 200:
            raise _Retry(f"{response.status_code} from the bulk result URL")
        lines, tail = 0, b""
        with path.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                lines += chunk.count(b"\n")
                tail = chunk[-1:] or tail
    if tail and tail != b"\n":
        raise _Retry("the file ends inside a line")
    return lines
