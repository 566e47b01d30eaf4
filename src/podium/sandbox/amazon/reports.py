"""The Reports API (2021-06-30) as the simulator serves it.

``createReport`` snapshots the report's rows at once (as of the simulated now) and answers
202 with a ``reportId``. Each ``getReport`` poll moves it along: ``IN_QUEUE``, then
``IN_PROGRESS``, then ``DONE`` with a ``reportDocumentId`` (``polls_to_done`` polls in
all). A report with no rows ends ``CANCELLED``, as Amazon's do. ``getReportDocument``
hands out a presigned-like URL valid for 5 minutes (real *and* simulated time) pointing
at ``/documents/<id>``, GZIP-compressed when ``compress`` is set; an expired URL gets
S3's 403 ``AccessDenied`` XML.

Faults: ``sabotage_next(status, after_polls)`` makes the next report stay
``IN_PROGRESS`` for that many polls and then end ``CANCELLED`` or ``FATAL``;
``expire_next_url()`` makes the next document URL expired on arrival.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from podium.sandbox.amazon.access import sp_error
from podium.sandbox.amazon.render import (
    MARKETPLACE_ID,
    REPORT_TYPE,
    iso,
    report_document,
    report_rows,
)
from podium.sandbox.brand import Brand
from podium.sandbox.faults import Answer

URL_LIFETIME = timedelta(minutes=5)
_NOT_CREATABLE = (
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE",
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
)


@dataclass
class _Report:
    report_id: str
    created: datetime
    start: datetime
    end: datetime
    document: bytes
    empty: bool
    polls: int = 0
    sabotage: tuple[str, int] | None = None
    status: str = "IN_QUEUE"


@dataclass
class _Url:
    document_id: str
    expires_real: float
    expires_sim: datetime


@dataclass
class ReportDesk:
    """Reports, documents and their URLs; see the module docstring."""

    brand: Brand
    now: Callable[[], datetime]
    polls_to_done: int = 3
    compress: bool = True
    reports: dict[str, _Report] = field(default_factory=dict)
    created: int = 0
    _urls: dict[str, _Url] = field(default_factory=dict)
    _sabotage: list[tuple[str, int]] = field(default_factory=list)
    _expire_next: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(50_001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sabotage_next(self, status: str = "CANCELLED", after_polls: int = 5) -> None:
        self._sabotage.append((status, after_polls))

    def expire_next_url(self, count: int = 1) -> None:
        self._expire_next += count

    def create(self, body: bytes, parse: Callable[[str], datetime]) -> Answer:
        try:
            spec = orjson.loads(body or b"{}")
            kind = spec["reportType"]
            now = self.now()
            start = (
                parse(spec["dataStartTime"])
                if spec.get("dataStartTime")
                else now - timedelta(days=30)
            )
            end = parse(spec["dataEndTime"]) if spec.get("dataEndTime") else now
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return sp_error(400, "InvalidInput", f"Invalid createReport body: {exc}")
        if kind in _NOT_CREATABLE:
            return sp_error(400, "InvalidInput", f"Report type {kind} cannot be requested.")
        if kind != REPORT_TYPE:
            return sp_error(400, "InvalidInput", f"Invalid reportType {kind}.")
        if end > now or start >= end:
            return sp_error(
                400,
                "InvalidInput",
                "dataEndTime must be after dataStartTime and not in the future.",
            )
        rows = list(report_rows(self.brand, start, end))
        with self._lock:
            report_id = str(next(self._ids))
            sabotage = self._sabotage.pop(0) if self._sabotage else None
            self.reports[report_id] = _Report(
                report_id, now, start, end, report_document(rows), not rows, sabotage=sabotage
            )
            self.created += 1
        return Answer(202, orjson.dumps({"reportId": report_id}))

    def get(self, report_id: str) -> Answer:
        with self._lock:
            report = self.reports.get(report_id)
            if report is None:
                return sp_error(404, "NotFound", f"Report {report_id} not found.")
            report.polls += 1
            report.status = self._status(report)
            body: dict[str, Any] = {
                "reportId": report.report_id,
                "reportType": REPORT_TYPE,
                "marketplaceIds": [MARKETPLACE_ID],
                "dataStartTime": iso(report.start),
                "dataEndTime": iso(report.end),
                "createdTime": iso(report.created),
                "processingStatus": report.status,
            }
            if report.status == "DONE":
                body["reportDocumentId"] = f"amzn1.spdoc.1.4.na.{report.report_id}"
        return Answer(200, orjson.dumps(body))

    def _status(self, report: _Report) -> str:
        if report.status in ("DONE", "CANCELLED", "FATAL"):
            return report.status
        if report.sabotage is not None:
            status, after = report.sabotage
            return status if report.polls > after else "IN_PROGRESS"
        if report.polls < self.polls_to_done:
            return "IN_QUEUE" if report.polls == 1 else "IN_PROGRESS"
        return "CANCELLED" if report.empty else "DONE"

    def document(self, document_id: str, base: str) -> Answer:
        report_id = document_id.rsplit(".", 1)[-1]
        with self._lock:
            report = self.reports.get(report_id)
            if report is None or report.status != "DONE":
                return sp_error(404, "NotFound", f"Report document {document_id} not found.")
            expired = self._expire_next > 0
            self._expire_next -= 1 if expired else 0
            ttl = timedelta(0) if expired else URL_LIFETIME
            signature = hashlib.sha256(f"{document_id}:{time.time_ns()}".encode()).hexdigest()
            self._urls[signature] = _Url(
                document_id, time.monotonic() + ttl.total_seconds(), self.now() + ttl
            )
        url = (
            f"{base}/documents/{report_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Expires={int(URL_LIFETIME.total_seconds())}&X-Amz-Signature={signature}"
        )
        body: dict[str, Any] = {"reportDocumentId": document_id, "url": url}
        if self.compress:
            body["compressionAlgorithm"] = "GZIP"
        return Answer(200, orjson.dumps(body))

    def download(self, report_id: str, signature: str) -> Answer:
        with self._lock:
            url = self._urls.get(signature)
            report = self.reports.get(report_id)
        if url is None or report is None or not url.document_id.endswith("." + report_id):
            return _s3_denied(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if time.monotonic() >= url.expires_real or self.now() >= url.expires_sim:
            return _s3_denied("AccessDenied", "Request has expired")
        data = gzip.compress(report.document) if self.compress else report.document
        return Answer(200, data, content_type="application/octet-stream")


def _s3_denied(code: str, message: str) -> Answer:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Answer(403, body.encode(), content_type="application/xml")
