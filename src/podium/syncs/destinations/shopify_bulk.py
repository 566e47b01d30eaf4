"""One mutation over many records as a Shopify bulk operation (reverse-etl-apis.md §2.5).

    JSONL of variables ─▶ stagedUploadsCreate ─▶ multipart POST to the staged target
      ─▶ bulkOperationRunMutation (OPERATION_IN_PROGRESS: wait for the running one)
      ─▶ poll currentBulkOperation(type: MUTATION) every bulk_poll_interval
      ─▶ COMPLETED: read the result JSONL; each line's ``__lineNumber`` names its input
         line, its ``data.<mutation>.userErrors`` or top-level ``errors`` that record's fate

Shopify runs one bulk mutation at a time per shop (before API 2026-01), so jobs of one
shop are serialised in this process by a lock per shop; another process's job is waited
for. A job that FAILs, or still runs after ``bulk_timeout``, fails the batch as a whole
(retryable): nothing is recorded and the next attempt sends it again, which the
idempotent mutations podium uses make safe. Bulk operations are not charged against the
query-cost bucket beyond their few requests.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from podium.connectors.sources.shopify.bulk import BulkJob, BulkRunner
from podium.connectors.sources.shopify.graphql import ShopifyGraphql
from podium.errors import TransientTaskError
from podium.syncs.destination import WriterEnv
from podium.syncs.destinations.shopify_client import UserErrors, single_document

_STAGE = (
    "mutation($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { "
    "stagedTargets { url parameters { name value } } userErrors { field message } } }"
)
_RUN = (
    "mutation($mutation: String!, $path: String!) { bulkOperationRunMutation("
    "mutation: $mutation, stagedUploadPath: $path) { bulkOperation { id status } "
    "userErrors { field message code } } }"
)
_POLL = "{ currentBulkOperation(type: MUTATION) { id status errorCode objectCount url } }"
_DONE = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")
_SHOPS: dict[str, threading.Lock] = {}
_SHOPS_LOCK = threading.Lock()


def shop_lock(shop: str) -> threading.Lock:
    """The lock serialising this process's bulk mutations on ``shop`` (its base URL)."""
    with _SHOPS_LOCK:
        return _SHOPS.setdefault(shop, threading.Lock())


class BulkMutations:
    """Runs bulk mutations for one writer; ``sleep``/``clock`` injectable."""

    def __init__(
        self,
        graphql: ShopifyGraphql,
        env: WriterEnv,
        *,
        shop: str,
        poll_interval: float,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graphql, self.env, self.shop = graphql, env, shop
        self.poll_interval, self.timeout = poll_interval, timeout
        self._sleep, self._clock = sleep, clock

    def __call__(self, mutation: str, lines: Sequence[Mapping[str, Any]]) -> list[UserErrors]:
        """Each line's userErrors, in the order of ``lines``."""
        with shop_lock(self.shop):
            path = self._stage(lines)
            job = self._start(single_document(mutation), path)
            self.env.count("bulk_operations")
            done = self._wait(job)
            return self._results(done, mutation, len(lines))

    def _stage(self, lines: Sequence[Mapping[str, Any]]) -> str:
        body = b"".join(orjson.dumps(dict(line)) + b"\n" for line in lines)
        given = {
            "resource": "BULK_MUTATION_VARIABLES",
            "filename": "podium-sync.jsonl",
            "mimeType": "text/jsonl",
            "httpMethod": "POST",
            "fileSize": str(len(body)),
        }
        staged = self.graphql.execute(_STAGE, {"input": [given]})["stagedUploadsCreate"]
        targets = staged.get("stagedTargets") or []
        if staged.get("userErrors") or not targets:
            raise self._failed(f"stagedUploadsCreate refused the file: {staged.get('userErrors')}")
        form = {p["name"]: p["value"] for p in targets[0]["parameters"]}
        self._upload(str(targets[0]["url"]), form, body)
        return str(form["key"])

    def _upload(self, url: str, form: dict[str, str], body: bytes, attempts: int = 5) -> None:
        """The multipart POST to the staged target (pre-signed storage: no access token,
        so not through the connection's client); retried on 5xx and network errors."""
        last = ""
        with httpx.Client(timeout=httpx.Timeout(60.0)) as client:
            for attempt in range(1, attempts + 1):
                self.env.count("requests")
                try:
                    files = {"file": ("podium-sync.jsonl", body, "text/jsonl")}
                    answer = client.post(url, data=form, files=files)
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                else:
                    if answer.status_code in (200, 201, 204):
                        return
                    last = f"HTTP {answer.status_code}"
                    if answer.status_code < 500:
                        break
                self.env.count("retries")
                self._sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
        raise self._failed(f"the upload of the bulk file failed ({last})")

    def _start(self, document: str, path: str) -> str:
        deadline = self._clock() + self.timeout
        while True:
            variables = {"mutation": document, "path": path}
            ran = self.graphql.execute(_RUN, variables)["bulkOperationRunMutation"]
            if ran.get("bulkOperation"):
                return str(ran["bulkOperation"]["id"])
            errors = ran.get("userErrors") or [{}]
            if errors[0].get("code") != "OPERATION_IN_PROGRESS":
                raise self._failed(f"Shopify refused the bulk mutation: {errors[0].get('message')}")
            if self._clock() >= deadline:
                raise self._failed(f"another bulk mutation ran for over {self.timeout:g}s")
            self._sleep(self.poll_interval)

    def _wait(self, job_id: str) -> BulkJob:
        deadline = self._clock() + self.timeout
        while True:
            current = self.graphql.execute(_POLL).get("currentBulkOperation") or {}
            status = str(current.get("status"))
            if current.get("id") != job_id:
                raise self._failed(f"bulk operation {job_id} is no longer the current one")
            if status == "COMPLETED":
                count = int(current.get("objectCount") or 0)
                return BulkJob(job_id, status, current.get("url"), count)
            if status in _DONE:
                raise self._failed(f"bulk operation {job_id} ended {status}")
            if self._clock() >= deadline:
                raise self._failed(f"bulk operation {job_id} still runs after {self.timeout:g}s")
            self._sleep(self.poll_interval)

    def _results(self, job: BulkJob, mutation: str, count: int) -> list[UserErrors]:
        runner = BulkRunner(
            self.graphql, poll_interval=self.poll_interval, timeout=self.timeout, sleep=self._sleep
        )
        found: dict[int, UserErrors] = {}
        with tempfile.TemporaryDirectory(prefix="podium-shopify-sync-") as work:
            path = Path(work) / "result.jsonl"
            self.env.count("requests")
            runner.download(job, path)
            with path.open("rb") as lines:
                for raw in lines:
                    if raw.strip():
                        line = orjson.loads(raw)
                        found[int(line["__lineNumber"])] = _line_errors(line, mutation)
        missing = [n for n in range(count) if n not in found]
        if missing:
            raise self._failed(f"the result of bulk operation {job.id} lacks lines {missing[:5]}")
        return [found[n] for n in range(count)]

    def _failed(self, what: str) -> TransientTaskError:
        return TransientTaskError(
            f"connection {self.graphql.name!r}: {what}; nothing of this batch was recorded"
            " and the next attempt sends it again (safe: the mutations are idempotent)"
        )


def _line_errors(line: Mapping[str, Any], mutation: str) -> UserErrors:
    """A result line's userErrors, or its top-level errors as userErrors."""
    if line.get("errors"):
        return [{"field": None, "message": str(e.get("message"))} for e in line["errors"]]
    payload = (line.get("data") or {}).get(mutation) or {}
    return [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
