"""AmazonSource: the streams of one SP-API connection.

    orders             getOrders by LastUpdatedAfter (cursor LastUpdateDate − 5 min; the API
                       itself hides the last two minutes), merged on AmazonOrderId
    order_items        getOrderItems for each order getOrders returns from this stream's own
                       cursor; keyed (AmazonOrderId, OrderItemId). Pending orders have no
                       prices yet: they change when they leave Pending and are read again
    financial_events   listFinancialEvents by PostedAfter (cursor PostedDate − 48 h, as
                       events arrive late), one record per charge/fee/promotion
                       (``records.FINANCE_KEY``), windows of at most 180 days (longer
                       ones answer empty)
    fee_transactions   Amazon's settlement reports (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2,
                       listed with getReports; ``reports``), made each settlement period:
                       one record per amount (amount_type, amount_description, amount)
                       of each order line and event; cursor settlement_end_date − 48 h

Money is ``decimal(18,2)`` (Amazon's Money amounts are strings, finance amounts numbers;
both arrive as decimal text), times ``timestamp`` in UTC. Reads with no saved cursor start
at ``start_date`` (default 90 days before now).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.connectors.http import HttpClient
from podium.connectors.source import JsonPage, Page, Stream, StreamState, WriteMode
from podium.connectors.sources.amazon.api import SpApi
from podium.connectors.sources.amazon.config import AmazonConfig
from podium.connectors.sources.amazon.records import (
    FINANCE_KEY,
    finance_records,
    settlement_records,
)
from podium.connectors.sources.amazon.reports import ReportReader
from podium.connectors.sources.rest import rewind_cursor
from podium.errors import TerminalTaskError

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
FINANCE_WINDOW = timedelta(days=180)
# how far Amazon's clock may run ahead of ours (a sandbox's is moved days ahead by the demo)
CLOCK_MARGIN = timedelta(days=7)
_MONEY = "decimal(18,2)"
_TIME = "timestamp"

STREAMS = (
    Stream(
        "orders",
        primary_key=("AmazonOrderId",),
        cursor="LastUpdateDate",
        write_mode=WriteMode.MERGE,
        lookback=300.0,
        columns={"PurchaseDate": _TIME, "LastUpdateDate": _TIME, "OrderTotal__Amount": _MONEY},
    ),
    Stream(
        "order_items",
        primary_key=("AmazonOrderId", "OrderItemId"),
        cursor="OrderLastUpdateDate",
        write_mode=WriteMode.MERGE,
        lookback=300.0,
        columns={
            "PurchaseDate": _TIME,
            "OrderLastUpdateDate": _TIME,
            "QuantityOrdered": "bigint",
            **{
                f"{m}__Amount": _MONEY
                for m in ("ItemPrice", "ItemTax", "PromotionDiscount", "ShippingPrice")
            },
        },
    ),
    Stream(
        "financial_events",
        primary_key=FINANCE_KEY,
        cursor="PostedDate",
        write_mode=WriteMode.MERGE,
        lookback=48 * 3600.0,
        columns={"PostedDate": _TIME, "Amount": _MONEY, "Quantity": "bigint"},
    ),
    Stream(
        "fee_transactions",
        primary_key=(
            "settlement_id",
            "transaction_type",
            "order_id",
            "adjustment_id",
            "order_item_code",
            "amount_type",
            "amount_description",
            "posted_date_time",
        ),  # fmt: skip
        cursor="settlement_end_date",
        write_mode=WriteMode.MERGE,
        lookback=48 * 3600.0,
        columns={
            **{
                c: _TIME
                for c in (
                    "settlement_start_date",
                    "settlement_end_date",
                    "deposit_date",
                    "posted_date_time",
                )  # fmt: skip
            },
            "amount": _MONEY,
            "quantity_purchased": "bigint",
        },
    ),
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AmazonSource:
    """See the module docstring. ``now`` is the time reads are relative to."""

    def __init__(
        self,
        name: str,
        config: AmazonConfig,
        api: SpApi,
        reports: ReportReader,
        clients: Sequence[HttpClient],
        now: Callable[[], datetime],
    ) -> None:
        self.name, self.config, self.api, self.reports = name, config, api, reports
        self._clients, self._now = tuple(clients), now
        self._readers: dict[str, Callable[[Stream, StreamState, bool], Iterator[Page]]] = {
            "orders": self._orders,
            "order_items": self._order_items,
            "financial_events": self._financial_events,
            "fee_transactions": self._fee_transactions,
        }

    def streams(self) -> Sequence[Stream]:
        return STREAMS

    def read(
        self, stream: Stream, state: StreamState, *, full_refresh: bool = False
    ) -> Iterator[Page]:
        reader = self._readers.get(stream.name)
        if reader is None:
            raise TerminalTaskError(
                f"connection {self.name!r} has no stream {stream.name!r} "
                f"(it has: {', '.join(self._readers)})"
            )
        return reader(stream, state, full_refresh)

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # -- where a read starts ---------------------------------------------------------------
    def _start(self, stream: Stream, state: StreamState, full_refresh: bool) -> str:
        if state.cursor is not None and not full_refresh:
            moment = datetime.fromisoformat(rewind_cursor(state.cursor, stream.lookback))
            return iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        return iso(self.config.start_date or self._now() - timedelta(days=90))

    # -- orders and their items ------------------------------------------------------------
    def _order_pages(self, after: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        params = {
            "MarketplaceIds": ",".join(self.config.marketplace_ids),
            "LastUpdatedAfter": after,
            "MaxResultsPerPage": "100",
        }
        for answered, payload in self.api.pages("getOrders", "/orders/v0/orders", params):
            orders = payload.get("Orders") or []
            yield answered.url, [o for o in orders if isinstance(o, dict)]

    def _orders(self, stream: Stream, state: StreamState, full_refresh: bool) -> Iterator[Page]:
        for url, orders in self._order_pages(self._start(stream, state, full_refresh)):
            yield JsonPage(orders, f"GET {url}")

    def _order_items(
        self, stream: Stream, state: StreamState, full_refresh: bool
    ) -> Iterator[Page]:
        for url, orders in self._order_pages(self._start(stream, state, full_refresh)):
            items = [item for order in orders for item in self._items_of(order)]
            yield JsonPage(items, f"GET {url} (items of {len(orders)} orders)")

    def _items_of(self, order: dict[str, Any]) -> Iterator[dict[str, Any]]:
        order_id = str(order.get("AmazonOrderId"))
        path = f"/orders/v0/orders/{order_id}/orderItems"
        for _, payload in self.api.pages("getOrderItems", path, {}):
            for item in payload.get("OrderItems") or []:
                yield {
                    **item,
                    "AmazonOrderId": order_id,
                    "PurchaseDate": order.get("PurchaseDate"),
                    "OrderLastUpdateDate": order.get("LastUpdateDate"),
                }

    # -- finances ----------------------------------------------------------------------------
    def _financial_events(
        self, stream: Stream, state: StreamState, full_refresh: bool
    ) -> Iterator[Page]:
        for after, before in self._finance_windows(self._start(stream, state, full_refresh)):
            params = {"PostedAfter": after, "MaxResultsPerPage": "100"}
            if before is not None:
                params["PostedBefore"] = before
            pages = self.api.pages("listFinancialEvents", "/finances/v0/financialEvents", params)
            for answered, payload in pages:
                yield JsonPage(
                    finance_records(payload.get("FinancialEvents")), f"GET {answered.url}"
                )

    def _finance_windows(self, after: str) -> Iterator[tuple[str, str | None]]:
        """``[after, before)`` windows of at most 180 days (the model: "If PostedAfter and
        PostedBefore are more than 180 days apart, the response is empty", so a longer one
        would lose events without a word). The last window leaves ``before`` to Amazon
        (now − 2 min) only when it starts late enough to stay within 180 days even if
        Amazon's clock is up to ``CLOCK_MARGIN`` ahead of ours; earlier windows end at
        least ``CLOCK_MARGIN`` before our now, so Amazon never finds them in the future."""
        start = datetime.fromisoformat(after.replace("Z", "+00:00"))
        now = self._now()
        while start < now - FINANCE_WINDOW + CLOCK_MARGIN:
            end = min(start + FINANCE_WINDOW, now - CLOCK_MARGIN)
            yield iso(start), iso(end)
            start = end
        yield iso(start), None

    # -- the settlement reports --------------------------------------------------------------
    def _fee_transactions(
        self, stream: Stream, state: StreamState, full_refresh: bool
    ) -> Iterator[Page]:
        state.extra.pop("pending_report", None)  # left by the date-range report podium used
        since = self._start(stream, state, full_refresh)
        for report, content in self.reports.read(REPORT_TYPE, since):
            text = content.decode("utf-8", "replace")
            for records in settlement_records(text):
                yield JsonPage(records, f"report {report.get('reportId')} ({REPORT_TYPE})")
