"""Reading Amazon's settlement reports: listed, waited for while processing, downloaded.

    getReports(reportTypes, createdSince, pageSize) … nextToken alone … ──▶ each report,
        oldest first ──▶ DONE: getReportDocument ──▶ download the presigned URL at once (it
        lives 5 minutes) ──▶ gunzip ──▶ its content

Settlement reports are made by Amazon ("cannot be requested or scheduled"), so nothing is
created. The model says a ``nextToken`` must be sent "as the only parameter". A report
still ``IN_QUEUE``/``IN_PROGRESS`` is polled with ``getReport`` for at most ``wait``
seconds (``poll_interval`` apart); if it is still not done the read stops before it, so the
cursor stays before it and the next run lists it again. A ``CANCELLED`` one has no data
(skipped, with a warning); a ``FATAL`` one is a ``TerminalTaskError`` naming it (it cannot
be asked for again). A document URL refused when downloaded (expired) is fetched again
once with ``getReportDocument``.
"""

from __future__ import annotations

import gzip
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from podium.connectors.http import HttpClient
from podium.connectors.sources.amazon.api import SpApi
from podium.errors import TerminalTaskError, TransientTaskError

_BASE = "/reports/2021-06-30"
_WAITING = ("IN_QUEUE", "IN_PROGRESS")


@dataclass
class ReportReader:
    api: SpApi
    documents: HttpClient  # no auth, no limiter: the presigned URL is its own credential
    connection: str
    wait: float
    poll_interval: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    logger: logging.Logger | None = None

    def read(self, report_type: str, since: str) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Each report of ``report_type`` created since ``since`` (ISO UTC), oldest first,
        with its content; stops before one still processing after ``wait`` seconds."""
        deadline = self.clock() + self.wait
        for report in self._list(report_type, since):
            report_id = str(report.get("reportId"))
            status = str(report.get("processingStatus") or "")
            document_id = report.get("reportDocumentId")
            if status in _WAITING:
                status, document_id = self._poll(report_id, deadline)
            if status in _WAITING:
                self._say(f"report {report_id} is still {status}; the next run reads it")
                return
            if status == "DONE" and isinstance(document_id, str):
                yield report, self._download(document_id)
            elif status == "CANCELLED":
                self._say(f"report {report_id} ({report_type}) was CANCELLED: no data in it")
            else:
                raise TerminalTaskError(
                    f"connection {self.connection!r}: Amazon's report {report_id} "
                    f"({report_type}) ended {status or 'without a status'}; it cannot be "
                    "requested again: download it from Seller Central, or set start_date "
                    "after its period"
                )

    def _list(self, report_type: str, since: str) -> list[dict[str, Any]]:
        params = {"reportTypes": report_type, "createdSince": since, "pageSize": "100"}
        found: list[dict[str, Any]] = []
        for answered, body in self.api.pages("getReports", f"{_BASE}/reports", params, v0=False):
            reports = body.get("reports")
            if not isinstance(reports, list):
                raise TerminalTaskError(
                    f"connection {self.connection!r}: getReports answered without a reports "
                    f"list ({answered.url}); check base_url"
                )
            found.extend(r for r in reports if isinstance(r, dict))
        return sorted(found, key=lambda r: (str(r.get("createdTime")), str(r.get("reportId"))))

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
