"""The Reports API flow as a resumable state machine.

    createReport ──▶ getReport … IN_QUEUE / IN_PROGRESS … ──▶ DONE ──▶ getReportDocument
        ──▶ download the presigned URL at once (it lives 5 minutes) ──▶ gunzip ──▶ parse

The report being waited for is kept in ``state.extra["pending_report"]`` (its id and data
window). A run polls for at most ``wait`` seconds; if the report is still not done it ends
without rows, the loader commits that state (cursor unchanged), and the next run resumes
the same report instead of asking for a new one.

``CANCELLED`` (no data in the window, or reports requested too often) or ``FATAL`` is
followed by one fresh request in the same run; if that one ends the same way, a
cancelled report yields no rows (a warning; the cursor does not move, so the next run asks
for the window again) and a fatal one is a ``TerminalTaskError``. A document URL refused
when downloaded (expired) is fetched again once with ``getReportDocument``.
"""

from __future__ import annotations

import gzip
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium.connectors.http import HttpClient
from podium.connectors.sources.amazon.api import SpApi
from podium.errors import TerminalTaskError, TransientTaskError

PENDING = "pending_report"
_BASE = "/reports/2021-06-30"
_WAITING = ("IN_QUEUE", "IN_PROGRESS")


@dataclass(frozen=True)
class ReportRequest:
    report_type: str
    marketplace_ids: tuple[str, ...]
    start: str  # ISO UTC; the end is left to Amazon (now)


@dataclass
class ReportRunner:
    api: SpApi
    documents: HttpClient  # no auth, no limiter: the presigned URL is its own credential
    connection: str
    wait: float
    poll_interval: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    logger: logging.Logger | None = None

    def run(self, request: ReportRequest, extra: dict[str, Any]) -> bytes | None:
        """The finished report's content, or None (still pending, or cancelled)."""
        pending = extra.get(PENDING)
        report_id = pending["reportId"] if isinstance(pending, dict) else None
        deadline = self.clock() + self.wait
        for attempt in (1, 2):
            if report_id is None:
                report_id = self._create(request)
                extra[PENDING] = {
                    "reportId": report_id,
                    "reportType": request.report_type,
                    "start": request.start,
                }
            status, document_id = self._poll(report_id, deadline)
            if status in _WAITING:
                self._say(f"report {report_id} is still {status}; the next run resumes it")
                return None
            extra.pop(PENDING, None)
            if status == "DONE" and document_id:
                return self._download(document_id)
            if attempt == 1:
                self._say(f"report {report_id} ended {status}; requesting it once more")
                report_id = None
                continue
            if status == "CANCELLED":
                self._say(
                    f"report {report_id} was CANCELLED again (no data since {request.start}, "
                    "or requested too often); nothing loaded, the cursor is unchanged"
                )
                return None
            raise TerminalTaskError(
                f"connection {self.connection!r}: Amazon report {report_id} "
                f"({request.report_type} from {request.start}) ended {status} twice; "
                "check start_date (very old ranges fail) and try again later"
            )
        return None

    def _create(self, request: ReportRequest) -> str:
        body = {
            "reportType": request.report_type,
            "marketplaceIds": list(request.marketplace_ids),
            "dataStartTime": request.start,
        }
        answered = self.api.call("createReport", "POST", f"{_BASE}/reports", json=body)
        report_id = answered.body.get("reportId") if isinstance(answered.body, dict) else None
        if not isinstance(report_id, str) or not report_id:
            raise TerminalTaskError(
                f"connection {self.connection!r}: createReport answered without a reportId "
                f"({answered.url})"
            )
        return report_id

    def _poll(self, report_id: str, deadline: float) -> tuple[str, str | None]:
        while True:
            answered = self.api.call("getReport", "GET", f"{_BASE}/reports/{report_id}")
            body = answered.body if isinstance(answered.body, dict) else {}
            status = str(body.get("processingStatus") or "")
            if status not in _WAITING or self.clock() + self.poll_interval > deadline:
                return status, body.get("reportDocumentId")
            self.sleep(self.poll_interval)

    def _download(self, document_id: str) -> bytes:
        for attempt in (1, 2):
            answered = self.api.call("getReportDocument", "GET", f"{_BASE}/documents/{document_id}")
            document = answered.body if isinstance(answered.body, dict) else {}
            url = document.get("url")
            if not isinstance(url, str):
                raise TerminalTaskError(
                    f"connection {self.connection!r}: getReportDocument {document_id} gave no url"
                )
            try:
                return self._fetch(url, document.get("compressionAlgorithm") == "GZIP")
            except TerminalTaskError:
                if attempt == 2:
                    raise
                self._say(
                    f"the URL of report document {document_id} was refused; fetching a new one"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, url: str, gzipped: bool) -> bytes:
        """The document's bytes, unzipped; a cut GZIP stream is downloaded again."""
        failure = ""
        for _ in range(max(1, self.documents.retry.attempts)):
            content = self.documents.get(url).content
            if not gzipped:
                return content
            try:
                return gzip.decompress(content)
            except (OSError, EOFError, zlib.error) as exc:
                failure = f"{type(exc).__name__}: {exc}"
        raise TransientTaskError(
            f"connection {self.connection!r}: the report document would not unzip ({failure}); "
            "the next run downloads it again"
        )

    def _say(self, message: str) -> None:
        if self.logger is not None:
            self.logger.warning(f"connection {self.connection!r}: {message}")
