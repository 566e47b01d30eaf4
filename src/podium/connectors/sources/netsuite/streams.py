"""The NetSuite streams: the SuiteQL each sends, how it is sliced, how its rows read.

    stream             table (SuiteQL)                       key                  cursor
    transactions       transaction: SalesOrd, CustInvc,      id                   lastmodifieddate
                       CashSale, CustCred
    transaction_lines  transactionline (mainline = 'F')      (transaction, id)    the parent's
                       joined to its transaction                                  lastmodifieddate
    customers          customer (wholesale accounts)         id                   lastmodifieddate
    items              item (itemid = SKU, upccode)          id                   lastmodifieddate
    inventory          inventoryitemlocations                (item, location)     none: replaced

Every query orders by a unique key (the slice column first, then ids), or rows would be
skipped or repeated between pages. The slice column is what a slice starts from
(``>=``, inclusive) when a query would pass SuiteQL's row ceiling (see ``source.py``).

Date columns are asked for as ISO text (``TO_CHAR``, see ``dates.py``), so the user's
Date Format preference cannot shift them. Rows are kept as NetSuite names them, with
dates turned into UTC ISO text, money left as
decimal text and ``links`` dropped. NetSuite stores outbound line quantities (and amounts)
negative; ``transaction_lines`` gives ``quantity`` and ``amount`` as the units and money
sold or credited (positive), keeping the raw ``netamount``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from podium.connectors.source import Stream, WriteMode
from podium.connectors.sources.netsuite.dates import (
    DATE_SQL,
    SQL_FORMAT,
    parse_date,
    parse_datetime,
    suiteql_timestamp,
)

TRANSACTION_TYPES = ("SalesOrd", "CustInvc", "CashSale", "CustCred")
_TYPES_SQL = "(" + ", ".join(f"'{t}'" for t in TRANSACTION_TYPES) + ")"
MONEY, TIMESTAMP, DATE = "decimal(18,2)", "timestamp", "date"


@dataclass(frozen=True)
class StreamSpec:
    """One stream's query: ``SELECT columns FROM source WHERE conditions ORDER BY order``."""

    stream: Stream
    columns: tuple[str, ...]
    source: str
    conditions: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    slice_column: str = ""  # the first ORDER BY column
    slice_field: str = ""  # the row field holding its value
    dates: tuple[str, ...] = ()
    datetimes: tuple[str, ...] = ()
    shape: Callable[[dict[str, Any]], None] = field(default=lambda row: None)

    def query(self, lower: str | None) -> str:
        """The SuiteQL text; ``lower`` is a literal the slice column must be ``>=``."""
        conditions = list(self.conditions)
        if lower is not None:
            conditions.append(f"{self.slice_column} >= {lower}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return (
            f"SELECT {', '.join(map(self._select, self.columns))} FROM {self.source}{where} "
            f"ORDER BY {', '.join(self.order)}"
        )

    def _select(self, column: str) -> str:
        """A date column as ISO text (``TO_CHAR``), whatever the user's Date Format
        preference: ``5/2/2025`` and ``2/5/2025`` cannot be told apart."""
        name = column.split(".")[-1]
        if name in self.dates:
            return f"TO_CHAR({column}, '{DATE_SQL}') AS {name}"
        if name in self.datetimes:
            return f"TO_CHAR({column}, '{SQL_FORMAT}') AS {name}"
        return column

    def is_dated(self) -> bool:
        return self.slice_field in self.datetimes

    def literal(self, value: Any, zone: ZoneInfo) -> str:
        """The slice column's lower bound as SuiteQL text."""
        if isinstance(value, datetime):
            return suiteql_timestamp(value, zone)
        return str(int(value))

    def record(self, row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
        """``row`` (a dict of the parsed body, changed in place: the per-row work is what
        bounds a sync's rate, see docs/design-and-limitations.md) as the stream's record."""
        row.pop("links", None)
        for name in self.dates:
            if value := row.get(name):
                row[name] = _converted(name, value, None)
        for name in self.datetimes:
            if value := row.get(name):
                row[name] = _converted(name, value, zone)
        self.shape(row)
        return row


def _converted(name: str, value: Any, zone: ZoneInfo | None) -> str:
    """A date (``zone`` None) or date-time field's value as UTC ISO text."""
    try:
        return parse_date(str(value)) if zone is None else parse_datetime(str(value), zone)
    except ValueError as exc:
        raise ValueError(f"field {name!r}: {exc}") from None


@lru_cache(maxsize=1 << 16)
def _negated(value: str, negate: bool) -> str:
    """``value`` (decimal text) times -1 when ``negate``, as decimal text (cached: line
    quantities and amounts repeat)."""
    return str(Decimal(value) * (Decimal(-1) if negate else Decimal(1)))


def _signed_lines(row: dict[str, Any]) -> None:
    negate = row.get("type") != "CustCred"
    row["quantity"] = _negated(str(row.get("quantity") or 0), negate)
    row["amount"] = _negated(str(row.get("netamount") or 0), negate)
    row["transaction_type"] = row.pop("type", None)


def _stream(name: str, key: tuple[str, ...], cursor: str | None, **columns: str) -> Stream:
    mode = WriteMode.MERGE if cursor else WriteMode.REPLACE
    return Stream(name, primary_key=key, cursor=cursor, write_mode=mode, columns=columns)


def stream_specs(lookback: float) -> tuple[StreamSpec, ...]:
    """Every stream, with ``lookback`` seconds re-read before each saved cursor."""
    from dataclasses import replace

    specs = (
        StreamSpec(
            _stream("transactions", ("id",), "lastmodifieddate", foreigntotal=MONEY,
                    trandate=DATE, createddate=TIMESTAMP, lastmodifieddate=TIMESTAMP),
            ("t.id", "t.tranid", "t.type", "t.entity", "t.trandate", "t.createddate",
             "t.lastmodifieddate", "t.status", "t.foreigntotal", "t.createdfrom"),
            "transaction t",
            (f"t.type IN {_TYPES_SQL}",),
            ("t.lastmodifieddate", "t.id"),
            "t.lastmodifieddate", "lastmodifieddate",
            dates=("trandate",), datetimes=("createddate", "lastmodifieddate"),
        ),
        StreamSpec(
            _stream("transaction_lines", ("transaction", "id"), "lastmodifieddate",
                    rate=MONEY, amount=MONEY, netamount=MONEY, quantity="bigint",
                    lastmodifieddate=TIMESTAMP),
            ("tl.transaction", "tl.id", "tl.linesequencenumber", "tl.item", "tl.quantity",
             "tl.rate", "tl.netamount", "t.type", "t.lastmodifieddate"),
            "transactionline tl INNER JOIN transaction t ON t.id = tl.transaction",
            ("tl.mainline = 'F'", f"t.type IN {_TYPES_SQL}"),
            ("t.lastmodifieddate", "tl.transaction", "tl.id"),
            "t.lastmodifieddate", "lastmodifieddate",
            datetimes=("lastmodifieddate",), shape=_signed_lines,
        ),
        StreamSpec(
            _stream("customers", ("id",), "lastmodifieddate",
                    datecreated=TIMESTAMP, lastmodifieddate=TIMESTAMP),
            ("c.id", "c.entityid", "c.companyname", "c.email", "c.datecreated",
             "c.lastmodifieddate"),
            "customer c", (), ("c.lastmodifieddate", "c.id"),
            "c.lastmodifieddate", "lastmodifieddate",
            datetimes=("datecreated", "lastmodifieddate"),
        ),
        StreamSpec(
            _stream("items", ("id",), "lastmodifieddate", baseprice=MONEY,
                    lastmodifieddate=TIMESTAMP),
            ("i.id", "i.itemid", "i.displayname", "i.upccode", "i.itemtype", "i.baseprice",
             "i.isinactive", "i.lastmodifieddate"),
            "item i", (), ("i.lastmodifieddate", "i.id"),
            "i.lastmodifieddate", "lastmodifieddate",
            datetimes=("lastmodifieddate",),
        ),
        StreamSpec(
            _stream("inventory", ("item", "location"), None,
                    quantityonhand="bigint", quantityavailable="bigint"),
            ("b.item", "b.location", "b.quantityonhand", "b.quantityavailable"),
            "inventoryitemlocations b", (), ("b.item", "b.location"),
            "b.item", "item",
        ),
    )  # fmt: skip
    return tuple(
        replace(s, stream=replace(s.stream, lookback=lookback)) if s.stream.cursor else s
        for s in specs
    )
