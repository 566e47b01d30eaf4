"""Turning SP-API answers into warehouse records: finance entries and report rows.

Finance events have no id. Each charge, fee or promotion of each item of each event
becomes one record keyed by what identifies it (``FINANCE_KEY``): the event type, the
order, when it was posted, the order item, and the amount's kind and type. Amounts keep
their sign (fees negative) and become decimal text, never floats.

Settlement reports (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2``, tab separated) become
one record per amount row, columns named like ``amount-type`` → ``amount_type``. The
first data row is the settlement's summary (dates, total, no transaction): its dates and
currency are copied onto every amount row, and it is not a record itself. Amounts in a
local format (``1,234.56``, ``95,00``) become decimal text; ``2026-10-01 21:05:00 UTC``
times become UTC ISO text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

FINANCE_KEY = (
    "EventType",
    "AmazonOrderId",
    "PostedDate",
    "OrderItemId",
    "AmountType",
    "AmountName",
)
_ENTRY_LISTS = (  # (list in a shipment item, list in a refund item, kind, type field, amount)
    ("ItemChargeList", "ItemChargeAdjustmentList", "Charge", "ChargeType", "ChargeAmount"),
    ("ItemFeeList", "ItemFeeAdjustmentList", "Fee", "FeeType", "FeeAmount"),
    ("PromotionList", "PromotionAdjustmentList", "Promotion", "PromotionType", "PromotionAmount"),
)
_EVENT_LISTS = (
    ("ShipmentEventList", "Shipment", "ShipmentItemList"),
    ("RefundEventList", "Refund", "ShipmentItemAdjustmentList"),
)


def finance_records(events: Any) -> list[dict[str, Any]]:
    """One record per amount in a ``FinancialEvents`` object (see the module docstring)."""
    out: list[dict[str, Any]] = []
    if not isinstance(events, dict):
        return out
    for list_name, event_type, items_name in _EVENT_LISTS:
        for event in events.get(list_name) or []:
            for item in event.get(items_name) or []:
                out.extend(_item_records(event, event_type, item))
    return out


def _item_records(
    event: dict[str, Any], event_type: str, item: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    refund = event_type == "Refund"
    for shipped, adjusted, kind, type_field, amount_field in _ENTRY_LISTS:
        for entry in item.get(adjusted if refund else shipped) or []:
            money = entry.get(amount_field) or {}
            yield {
                "EventType": event_type,
                "AmazonOrderId": event.get("AmazonOrderId"),
                "PostedDate": event.get("PostedDate"),
                "MarketplaceName": event.get("MarketplaceName"),
                "OrderItemId": item.get("OrderItemId"),
                "SellerSKU": item.get("SellerSKU"),
                "Quantity": item.get("QuantityShipped"),
                "AmountType": kind,
                "AmountName": entry.get(type_field),
                "PromotionId": entry.get("PromotionId"),
                "Amount": _decimal_text(money.get("CurrencyAmount")),
                "CurrencyCode": money.get("CurrencyCode"),
            }


def _decimal_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


# -- settlement reports ----------------------------------------------------------------------
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$")
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?: ?(UTC|GMT|Z|\+00:00))?$")
NUMERIC_COLUMNS = frozenset({"amount", "total_amount", "quantity_purchased"})
TIME_COLUMNS = frozenset(
    {"settlement_start_date", "settlement_end_date", "deposit_date", "posted_date_time"}
)
_FROM_SUMMARY = ("settlement_start_date", "settlement_end_date", "deposit_date", "currency")


def column_name(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def settlement_records(text: str, *, page_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Pages of records from a settlement report (see the module docstring)."""
    lines = io.StringIO(text)
    first = lines.readline()
    header = [column_name(h) for h in first.rstrip("\r\n").split("\t")]
    if "settlement_id" not in header:
        return
    summary: dict[str, Any] = {}
    page: list[dict[str, Any]] = []
    for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        if not any(cell.strip() for cell in row):
            continue
        record = _settlement_record(dict(zip(header, row, strict=False)))
        if not record.get("transaction_type") and not record.get("amount_type"):
            summary = record
            continue
        for name in _FROM_SUMMARY:
            if not record.get(name):
                record[name] = summary.get(name)
        page.append(record)
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page


def _settlement_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = dict(row)
    for name in NUMERIC_COLUMNS & record.keys():
        record[name] = local_number(record[name])
    for name in TIME_COLUMNS & record.keys():
        record[name] = settlement_time(record[name])
    return record


def local_number(text: str) -> str | None:
    """``1,234.56`` → ``1234.56``; ``1.234,56`` or ``95,00`` → ``1234.56``/``95.00``."""
    value = text.strip()
    if not value:
        return None
    if _DECIMAL_COMMA.match(value):
        return value.replace(".", "").replace(",", ".")
    if _THOUSANDS.match(value):
        return value.replace(",", "")
    return value


def settlement_time(text: str) -> str | None:
    """``2026-10-01 21:05:00 UTC`` as ``2026-10-01T21:05:00Z``; other shapes are kept."""
    value = text.strip()
    if not value:
        return None
    match = _TIME.match(value)
    return f"{match.group(1)}T{match.group(2)}Z" if match else value
