"""The brand's wholesale side as NetSuite's SuiteQL tables, as of a moment.

    transaction      a sales order per wholesale order (``tranid`` = the order number,
                     ``entity`` = the account), ``pendingFulfillment`` → ``billed`` three
                     days later, when its invoice (``CustInvc``) is created; a credit memo
                     (``CustCred``) per refund, on the day the refund lands
    transactionline  the non-mainline lines of each: item, quantity, rate, netamount; sales
                     quantities and amounts are negative (outbound), credit memos positive
    customer         the wholesale accounts
    item             one inventory item per SKU (``itemid`` = SKU, ``upccode`` = barcode);
                     a product deleted from the catalogue becomes ``isinactive = 'T'``
    inventoryitemlocations   item × location: on hand = a fixed stock less units invoiced,
                     available = on hand less units on orders not yet billed

Each row is a ``Row``: the real modification instant and sort key (for filtering and
ordering; SuiteQL shows ``lastmodifieddate`` only to the minute), the fields as SuiteQL
renders them in the user's Date Format preference (``M/D/YYYY``: ``5/1/2025``,
``5/2/2025 9:14 am``; or ``D/M/YYYY``), numbers as text, and the instant behind each date
field (for ``TO_CHAR``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from podium.sandbox.brand import Brand, Channel, Order, OrderView, Refund, money

INVOICE_OFFSET, CREDIT_OFFSET, ITEM_OFFSET = 1_000_000, 2_000_000, 500
LOCATIONS = (1, 2)  # 1: the main warehouse (ships everything), 2: a reserve store


DATE_FORMATS = ("M/D/YYYY", "D/M/YYYY")  # the user's Date Format preference, two of many


@dataclass(frozen=True)
class Row:
    modified: datetime | None  # the real instant behind lastmodifieddate (None: none)
    key: tuple[Any, ...]  # the ORDER BY key
    fields: dict[str, str]
    # each date field's instant in the account's time zone, as ISO text to the second
    # (what TO_CHAR gives; made once with the table, not per page served)
    local: dict[str, str] = field(default_factory=dict)


def show_date(local: datetime, style: str = "M/D/YYYY") -> str:
    """``local`` (in the account's time zone) as the Date Format preference shows a date."""
    first, second = (local.month, local.day) if style == "M/D/YYYY" else (local.day, local.month)
    return f"{first}/{second}/{local.year}"


def show_datetime(local: datetime, style: str = "M/D/YYYY") -> str:
    """… and a date-time, to the minute."""
    hour = local.hour % 12 or 12
    half = "am" if local.hour < 12 else "pm"
    return f"{show_date(local, style)} {hour}:{local.minute:02d} {half}"


def item_id(brand: Brand, sku: str) -> int:
    return ITEM_OFFSET + next(i for i, v in enumerate(brand.variants) if v.sku == sku)


class Tables:
    """Every table as of ``now``; built once per moment (see ``NetSuiteSimulator``)."""

    def __init__(
        self, brand: Brand, now: datetime, zone: ZoneInfo, date_format: str = "M/D/YYYY"
    ) -> None:
        self.brand, self.now, self.zone, self.style = brand, now, zone, date_format
        self._items = {v.sku: ITEM_OFFSET + i for i, v in enumerate(brand.variants)}
        views = brand.orders_as_of(Channel.WHOLESALE, now)
        self.transaction: list[Row] = []
        self.transactionline: list[Row] = []
        for view in views:
            for header, lines in self._documents(view):
                self.transaction.append(header)
                self.transactionline.extend(lines)
        self.customer = [self._customer(a) for a in brand.wholesale_accounts if a.created_at <= now]
        self.item = list(self._item_rows())
        self.inventoryitemlocations = list(self._inventory(views))
        for rows in self.tables().values():
            rows.sort(key=lambda r: r.key)

    def tables(self) -> dict[str, list[Row]]:
        return {
            "transaction": self.transaction,
            "transactionline": self.transactionline,
            "customer": self.customer,
            "item": self.item,
            "inventoryitemlocations": self.inventoryitemlocations,
        }

    # -- transactions --------------------------------------------------------------------
    def _documents(self, view: OrderView) -> Iterator[tuple[Row, list[Row]]]:
        order = view.order
        changes = [(at, name) for at, name in order.status_changes() if at <= self.now]
        modified = changes[-1][0]
        yield self._header(order.id, order.number, "SalesOrd", order, order.created_at,
                           modified, view.status, order.total, None), self._lines(order, modified)  # fmt: skip
        billed = next((at for at, name in changes if name == "billed"), None)
        if billed is not None:
            invoice = order.id + INVOICE_OFFSET
            number = "INV" + order.number.removeprefix("SO")
            yield self._header(invoice, number, "CustInvc", order, billed, billed, "open",
                               order.total, order.id), self._lines(order, billed, invoice)  # fmt: skip
        for refund in view.refunds:
            yield self._credit(order, refund, billed)

    def _header(
        self, id_: int, number: str, kind: str, order: Order, created: datetime,
        modified: datetime, status: str, total: Decimal, parent: int | None,
    ) -> Row:  # fmt: skip
        fields = {
            "id": str(id_),
            "tranid": number,
            "type": kind,
            "entity": str(order.customer_id),
            "status": status,
            "foreigntotal": str(total),
        }
        if parent is not None:
            fields["createdfrom"] = str(parent)
        dates = {"trandate": created, "createddate": created, "lastmodifieddate": modified}
        return self._row(modified, (modified, id_), fields, dates)

    def _row(
        self, modified: datetime | None, key: tuple[Any, ...], fields: dict[str, str],
        instants: dict[str, datetime],
    ) -> Row:  # fmt: skip
        """A row whose date fields show as the account's Date Format preference says
        (``trandate`` is a date, the others date-times to the minute)."""
        texts = {}
        for name, moment in instants.items():
            local = moment.astimezone(self.zone)
            show = show_date if name == "trandate" else show_datetime
            fields[name] = show(local, self.style)
            texts[name] = local.isoformat(" ")[:19]
        return Row(modified, key, fields, texts)

    def _lines(self, order: Order, modified: datetime, id_: int | None = None) -> list[Row]:
        parent = id_ or order.id
        kind = "SalesOrd" if id_ is None else "CustInvc"
        return [
            self._line(parent, line.number, line.variant.sku, -line.quantity, line.unit_price,
                       -(line.gross - line.discount), kind, modified)
            for line in order.lines
        ]  # fmt: skip

    def _credit(
        self, order: Order, refund: Refund, billed: datetime | None
    ) -> tuple[Row, list[Row]]:
        id_ = refund.id + CREDIT_OFFSET
        parent = order.id + INVOICE_OFFSET if billed and billed <= refund.created_at else order.id
        at = refund.created_at
        header = self._header(id_, f"CM{refund.id}", "CustCred", order, at, at, "applied",
                              refund.amount, parent)  # fmt: skip
        by_number = {line.number: line for line in order.lines}
        lines = [
            self._line(id_, n, by_number[r.line_number].variant.sku, r.quantity,
                       money(r.amount / r.quantity), r.amount, "CustCred", at)
            for n, r in enumerate(refund.lines, start=1)
        ]  # fmt: skip
        return header, lines

    def _line(
        self, parent: int, n: int, sku: str, quantity: int, rate: Decimal, amount: Decimal,
        kind: str, modified: datetime,
    ) -> Row:  # fmt: skip
        fields = {
            "transaction": str(parent),
            "id": str(n),
            "linesequencenumber": str(n),
            "item": str(self._items[sku]),
            "quantity": str(quantity),
            "rate": str(rate),
            "netamount": str(amount),
            "mainline": "F",
            "type": kind,
        }
        return self._row(modified, (modified, parent, n), fields, {"lastmodifieddate": modified})

    # -- entities ------------------------------------------------------------------------
    def _customer(self, account: Any) -> Row:
        at = account.created_at
        fields = {
            "id": str(account.id),
            "entityid": account.name,
            "companyname": account.name,
            "email": account.email,
        }
        return self._row(at, (at, account.id), fields, {"datecreated": at, "lastmodifieddate": at})

    def _item_rows(self) -> Iterator[Row]:
        for product in self.brand.products:
            gone = product.deleted_at is not None and product.deleted_at <= self.now
            modified = product.deleted_at if gone and product.deleted_at else product.created_at
            for variant in product.variants:
                id_ = self._items[variant.sku]
                fields = {
                    "id": str(id_),
                    "itemid": variant.sku,
                    "displayname": f"{product.title} {variant.title}",
                    "upccode": variant.barcode,
                    "itemtype": "InvtPart",
                    "baseprice": str(variant.price),
                    "isinactive": "T" if gone else "F",
                }
                yield self._row(modified, (modified, id_), fields, {"lastmodifieddate": modified})

    def _inventory(self, views: list[OrderView]) -> Iterator[Row]:
        shipped: dict[str, int] = {}
        committed: dict[str, int] = {}
        for view in views:
            counts = shipped if view.status == "billed" else committed
            for line in view.order.lines:
                counts[line.variant.sku] = counts.get(line.variant.sku, 0) + line.quantity
        for sku, id_ in self._items.items():
            for location in LOCATIONS:
                on_hand = starting_stock(id_, location) - (
                    shipped.get(sku, 0) if location == 1 else 0
                )
                available = on_hand - (committed.get(sku, 0) if location == 1 else 0)
                fields = {
                    "item": str(id_),
                    "location": str(location),
                    "quantityonhand": str(on_hand),
                    "quantityavailable": str(available),
                }
                yield Row(None, (id_, location), fields)


def starting_stock(item: int, location: int) -> int:
    """Units at a location before any wholesale order shipped (deterministic)."""
    return (100_000 if location == 1 else 500) + (item * 37) % 500
