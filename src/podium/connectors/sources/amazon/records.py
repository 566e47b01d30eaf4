"""Turning SP-API answers into warehouse records: finance entries and report rows.

Finance events have no id. Each charge, fee or promotion of each item of each event
becomes one record keyed by what identifies it (``FINANCE_KEY``): the event type, the
order, when it was posted, the order item, and the amount's kind and type. Amounts keep
their sign (fees negative) and become decimal text, never floats.

Flat-file reports (tab separated, possibly after a few lines of preamble) become one
record per row, columns named like ``product sales`` → ``product_sales``, numbers with
thousands separators cleaned, and ``date/time`` turned into UTC ISO text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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


# -- flat-file reports -----------------------------------------------------------------------
_ZONES = {"UTC": 0, "GMT": 0, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6, "CDT": -5}
_NUMBER = re.compile(r"^-?[\d,]*\.?\d+$")
NUMERIC_COLUMNS = frozenset(
    {
        "quantity", "product_sales", "shipping_credits", "promotional_rebates",
        "sales_tax_collected", "selling_fees", "fba_fees", "other", "total",
    }
)  # fmt: skip


def column_name(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def report_records(text: str, *, page_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Pages of records from a tab-separated report; the header is the first line that
    starts with ``date/time`` (the lines before it are Amazon's preamble)."""
    lines = io.StringIO(text)
    for line in lines:
        if line.split("\t", 1)[0].strip().lower() == "date/time":
            header = [column_name(h) for h in line.rstrip("\r\n").split("\t")]
            break
    else:
        return
    page: list[dict[str, Any]] = []
    for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        if not any(cell.strip() for cell in row):
            continue
        page.append(_report_record(dict(zip(header, row, strict=False))))
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page


def _report_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = dict(row)
    for name in NUMERIC_COLUMNS & record.keys():
        value = record[name].strip()
        record[name] = value.replace(",", "") if _NUMBER.match(value) else (value or None)
    if "date_time" in record:
        record["date_time"] = report_time(record["date_time"])
    return record


def report_time(text: str) -> str:
    """``Oct 1, 2026 9:05:00 PM PDT`` as UTC ISO text; unknown shapes are kept as they are."""
    body, _, zone = text.strip().rpartition(" ")
    if zone not in _ZONES:
        return text
    try:
        local = datetime.strptime(body, "%b %d, %Y %I:%M:%S %p")
    except ValueError:
        return text
    moment = local - timedelta(hours=_ZONES[zone])
    return moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
