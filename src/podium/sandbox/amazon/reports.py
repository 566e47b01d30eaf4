"""The Reports API (2021-06-30) as the simulator serves it: Amazon's settlement reports.

Amazon makes a ``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`` report for each closed
settlement period (every 14 days of the brand here; ``render.settlements``); it "cannot be
requested or scheduled", only found with ``getReports``. So ``createReport`` refuses the
settlement types, and ``GET_DATE_RANGE_FINANCIAL_TRANSACTION_DATA`` too (Amazon's trackers
report "Request for report type … is not allowed at this time"; it is not in Amazon's
report type values); other types are not served.

``getReports`` filters by ``reportTypes`` (or pages with ``nextToken``, which must come
alone, as the model says), ``processingStatuses``, ``createdSince`` (default 90 days ago;
reports are kept 90 days) and ``createdUntil``, ``pageSize`` 1–100 (default 10), newest
first. A settlement report appears when its period closes, ``IN_QUEUE``; each ``getReport``
poll moves it along, ``IN_PROGRESS`` then ``DONE`` with a ``reportDocumentId``
(``polls_to_done`` polls in all). One with no rows ends ``CANCELLED``. ``getReportDocument``
hands out a presigned-like URL valid for 5 minutes (real *and* simulated time) pointing at
``/documents/<id>``, GZIP-compressed when ``compress`` is set; an expired URL gets S3's 403
``AccessDenied`` XML.

``disburse()`` closes the open period at once, as a disbursement initiated in Seller
Central does. Faults: ``sabotage_next(status, after_polls)`` makes the next settlement report to appear
stay ``IN_PROGRESS`` for that many polls and then end ``CANCELLED`` or ``FATAL`` (or
``DONE``); ``expire_next_url()`` makes the next document URL expired on arrival.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from podium.sandbox.amazon.access import sp_error
from podium.sandbox.amazon.render import (
    MARKETPLACE_ID,
    SETTLEMENT_REPORT_TYPE,
    Settlement,
    iso,
    settlement_document,
    settlement_rows,
    settlements,
)
from podium.sandbox.brand import Brand
from podium.sandbox.faults import Answer

URL_LIFETIME = timedelta(minutes=5)
_NOT_CREATABLE = (
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE",
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
    "GET_V2_SETTLEMENT_REPORT_DATA_XML",
)
_NOT_ALLOWED = ("GET_DATE_RANGE_FINANCIAL_TRANSACTION_DATA",)
_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
RETENTION = timedelta(days=90)


class _Refused(ValueError):
    """A getReports parameter the API refuses with 400 ``InvalidInput``."""


@dataclass
class _Report:
    report_id: str
    report_type: str
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
    """Settlement reports, documents and their URLs; see the module docstring."""

    brand: Brand
    now: Callable[[], datetime]
    polls_to_done: int = 3
    compress: bool = True
    reports: dict[str, _Report] = field(default_factory=dict)
    _urls: dict[str, _Url] = field(default_factory=dict)
    _sabotage: list[tuple[str, int]] = field(default_factory=list)
    _expire_next: int = 0
    disbursed: list[datetime] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def disburse(self) -> None:
        """The seller pays out now: the open settlement period closes and its report (new,
        ``IN_QUEUE``) appears at once."""
        with self._lock:
            self.disbursed.append(self.now())

    def sabotage_next(self, status: str = "CANCELLED", after_polls: int = 5) -> None:
        self._sabotage.append((status, after_polls))

    def expire_next_url(self, count: int = 1) -> None:
        self._expire_next += count

    def create(self, body: bytes) -> Answer:
        try:
            spec = orjson.loads(body or b"{}")
            kind = spec["reportType"]
            marketplaces = spec["marketplaceIds"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return sp_error(400, "InvalidInput", f"Invalid createReport body: {exc}")
        if not isinstance(marketplaces, list) or not 1 <= len(marketplaces) <= 25:
            return sp_error(400, "InvalidInput", "marketplaceIds must list 1 to 25 marketplaces")
        if kind in _NOT_CREATABLE:
            return sp_error(
                400, "InvalidInput",
                f"Report type {kind} cannot be requested; Amazon makes it each settlement "
                "period: find it with getReports.",
            )  # fmt: skip
        if kind in _NOT_ALLOWED:
            return sp_error(
                400, "InvalidInput", f"Request for report type {kind} is not allowed at this time"
            )
        return sp_error(400, "InvalidInput", f"Report type {kind} is not served by this simulator.")

    def _settle(self) -> None:
        """A settlement report for every period closed by now (called with the lock held)."""
        for settlement in settlements(self.brand, self.now(), self.disbursed):
            report_id = str(50_001 + settlement.number)
            if report_id not in self.reports:
                self.reports[report_id] = self._settlement_report(report_id, settlement)

    def _settlement_report(self, report_id: str, settlement: Settlement) -> _Report:
        rows = settlement_rows(self.brand, settlement)
        return _Report(
            report_id, SETTLEMENT_REPORT_TYPE, settlement.end, settlement.start,
            settlement.end, settlement_document(settlement, rows), not rows,
            sabotage=self._sabotage.pop(0) if self._sabotage else None,
        )  # fmt: skip

    def list(self, params: Mapping[str, str], parse: Callable[[str], datetime]) -> Answer:
        """``getReports``; see the module docstring."""
        try:
            query = self._query(params, parse)
        except (_Refused, ValueError) as exc:
            return sp_error(400, "InvalidInput", str(exc))
        since, until = (
            datetime.fromisoformat(query["since"]),
            datetime.fromisoformat(query["until"]),
        )
        kept = self.now() - RETENTION
        with self._lock:
            self._settle()
            matching = sorted(
                (
                    r for r in self.reports.values()
                    if r.report_type in query["types"] and since <= r.created <= until
                    and r.created >= kept
                    and (not query["statuses"] or r.status in query["statuses"])
                ),
                key=lambda r: (r.created, r.report_id),
                reverse=True,
            )  # fmt: skip
            offset, size = query["offset"], query["size"]
            body: dict[str, Any] = {
                "reports": [self._body(r) for r in matching[offset : offset + size]]
            }
        if offset + size < len(matching):
            token = orjson.dumps({**query, "offset": offset + size})
            body["nextToken"] = base64.urlsafe_b64encode(token).decode()
        return Answer(200, orjson.dumps(body))

    def _query(self, params: Mapping[str, str], parse: Callable[[str], datetime]) -> dict[str, Any]:
        if "nextToken" in params:
            if len(params) > 1:
                raise _Refused("nextToken must be the only parameter")
            try:
                query: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(params["nextToken"]))
            except (ValueError, orjson.JSONDecodeError):
                raise _Refused("Invalid nextToken") from None
            return query
        types = [t for t in params.get("reportTypes", "").split(",") if t]
        if not types:
            raise _Refused("Either reportTypes or nextToken is required")
        if len(types) > 10:
            raise _Refused("reportTypes takes at most 10 report types")
        statuses = [s for s in params.get("processingStatuses", "").split(",") if s]
        if any(s not in _STATUSES for s in statuses):
            raise _Refused(f"processingStatuses must be among {', '.join(_STATUSES)}")
        size_text = params.get("pageSize", "10")
        if not size_text.isdigit() or not 1 <= int(size_text) <= 100:
            raise _Refused("pageSize must be between 1 and 100")
        now = self.now()
        since = parse(params["createdSince"]) if "createdSince" in params else now - RETENTION
        until = parse(params["createdUntil"]) if "createdUntil" in params else now
        return {
            "types": types, "statuses": statuses, "size": int(size_text),
            "since": since.isoformat(), "until": until.isoformat(), "offset": 0,
        }  # fmt: skip

    def get(self, report_id: str) -> Answer:
        with self._lock:
            self._settle()
            report = self.reports.get(report_id)
            if report is None:
                return sp_error(404, "NotFound", f"Report {report_id} not found.")
            report.polls += 1
            report.status = self._status(report)
            body = self._body(report)
        return Answer(200, orjson.dumps(body))

    def _body(self, report: _Report) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reportId": report.report_id,
            "reportType": report.report_type,
            "marketplaceIds": [MARKETPLACE_ID],
            "dataStartTime": iso(report.start),
            "dataEndTime": iso(report.end),
            "createdTime": iso(report.created),
            "processingStatus": report.status,
        }
        if report.status == "DONE":
            body["reportDocumentId"] = f"amzn1.spdoc.1.4.na.{report.report_id}"
        return body

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
