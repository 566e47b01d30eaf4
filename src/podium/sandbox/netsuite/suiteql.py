"""The few SuiteQL shapes the simulator understands, and the pages it answers with.

This is not a SQL interpreter. A query must look like what the ``netsuite`` source sends::

    SELECT a.col, … FROM <table> <alias> [INNER JOIN transaction t ON t.id = tl.transaction]
        [WHERE cond AND cond …] ORDER BY <the table's unique order>

where a column may be ``TO_CHAR(a.col, 'YYYY-MM-DD[ HH24:MI:SS]') AS col`` (a date field
rendered in the account's time zone, to the second, whatever the Date Format preference;
untouched, a date field shows as the preference says, to the minute),

with conditions among ``t.type IN ('SalesOrd', …)``, ``tl.mainline = 'F'``,
``<alias>.lastmodifieddate >= TO_TIMESTAMP('2026-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')``
(local time of the account) and ``b.item >= 512``. Anything else (another table, column,
condition or an ORDER BY that is not the unique one below) is a 400 ``INVALID_PARAMETER``
in NetSuite's error shape, so a connector that drifts from what was tested fails loudly.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson

from podium.sandbox.faults import Answer
from podium.sandbox.netsuite.auth import ns_error
from podium.sandbox.netsuite.records import Row
from podium.sandbox.paging import Request

_QUERY = re.compile(
    r"SELECT (?P<columns>.+?) FROM (?P<table>\w+) (?P<alias>\w+)"
    r"(?P<join> INNER JOIN transaction t ON t\.id = tl\.transaction)?"
    r"(?: WHERE (?P<where>.+?))? ORDER BY (?P<order>.+)",
    re.IGNORECASE | re.DOTALL,
)
_TIMESTAMP = re.compile(
    r"(\w+)\.lastmodifieddate >= TO_TIMESTAMP\('(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)', "
    r"'YYYY-MM-DD HH24:MI:SS'\)"
)
_TYPES = re.compile(r"t\.type IN \(((?:'\w+'(?:, )?)+)\)")
_ITEM = re.compile(r"b\.item >= (\d+)")
_COLUMN = re.compile(
    r"\s*(?:TO_CHAR\((?P<of>\w+\.\w+), '(?P<format>[^']*)'\) AS (?P<alias>\w+)|(?P<plain>\w+\.\w+))"
    r"\s*(?:,|$)",
    re.IGNORECASE,
)
# TO_CHAR formats understood: how many characters of the local time's ISO text they keep
FORMATS = {"YYYY-MM-DD": 10, "YYYY-MM-DD HH24:MI:SS": 19}
ORDERS = {
    "transaction": "t.lastmodifieddate, t.id",
    "transactionline": "t.lastmodifieddate, tl.transaction, tl.id",
    "customer": "c.lastmodifieddate, c.id",
    "item": "i.lastmodifieddate, i.id",
    "inventoryitemlocations": "b.item, b.location",
}
# tables whose ORDER BY starts with lastmodifieddate: a lower bound on it is a bisection
SINCE_SORTED = frozenset(t for t, order in ORDERS.items() if ".lastmodifieddate," in order)
COLUMNS = {
    "transaction": {"id", "tranid", "type", "entity", "trandate", "createddate",
                    "lastmodifieddate", "status", "foreigntotal", "createdfrom"},
    "transactionline": {"transaction", "id", "linesequencenumber", "item", "quantity", "rate",
                        "netamount", "mainline", "type", "lastmodifieddate"},
    "customer": {"id", "entityid", "companyname", "email", "datecreated", "lastmodifieddate"},
    "item": {"id", "itemid", "displayname", "upccode", "itemtype", "baseprice", "isinactive",
             "lastmodifieddate"},
    "inventoryitemlocations": {"item", "location", "quantityonhand", "quantityavailable"},
}  # fmt: skip


class QueryError(ValueError):
    """A query the simulator does not accept; the message is NetSuite's ``detail``."""


@dataclass(frozen=True)
class Column:
    """A selected column: its name in the answer, and a TO_CHAR format if it has one."""

    name: str
    format: str | None = None


@dataclass
class Query:
    table: str
    columns: list[Column]
    zone: ZoneInfo
    filters: list[Callable[[Row], bool]] = field(default_factory=list)
    since: datetime | None = None  # the lastmodifieddate lower bound, in UTC
    # the query without that bound: its rows, cached, serve every slice of a stream
    unbounded: str = ""


def parse(text: str, zone: ZoneInfo) -> Query:
    match = _QUERY.fullmatch(" ".join(text.split()))
    if match is None:
        raise QueryError(f"Invalid search query. Unsupported query shape: {text[:120]!r}")
    table = match["table"].lower()
    if table not in ORDERS or (table == "transactionline") != bool(match["join"]):
        raise QueryError(f"Invalid search query. Unknown or unsupported table {table!r}")
    if match["order"].strip() != ORDERS[table]:
        raise QueryError(f"Invalid search query. ORDER BY must be {ORDERS[table]} (unique)")
    columns = _columns(match["columns"])
    unknown = [c.name for c in columns if c.name not in COLUMNS[table]]
    if unknown:
        raise QueryError(f"Invalid search query. Unknown identifier '{unknown[0]}'")
    query = Query(table, columns, zone)
    kept = []
    for condition in (match["where"] or "").split(" AND ") if match["where"] else []:
        if (stamp := _TIMESTAMP.fullmatch(condition.strip())) and table in SINCE_SORTED:
            since = datetime.fromisoformat(stamp[2]).replace(tzinfo=zone).astimezone(UTC)
            query.since = since if query.since is None else max(query.since, since)
            continue
        query.filters.append(_condition(condition.strip(), zone))
        kept.append(condition.strip())
    query.unbounded = f"{table} WHERE {' AND '.join(kept)}"
    if table == "transactionline" and "tl.mainline = 'F'" not in (match["where"] or ""):
        raise QueryError("Invalid search query. transactionline needs tl.mainline = 'F' here")
    return query


def _columns(text: str) -> list[Column]:
    """``t.id, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, …`` → the columns."""
    columns, at = [], 0
    while at < len(text):
        match = _COLUMN.match(text, at)
        if match is None:
            raise QueryError(f"Invalid search query. Unsupported column at {text[at : at + 60]!r}")
        at = match.end()
        if match["plain"]:
            columns.append(Column(match["plain"].split(".")[-1].lower()))
            continue
        name = match["of"].split(".")[-1].lower()
        if match["alias"].lower() != name or match["format"] not in FORMATS:
            raise QueryError(
                f"Invalid search query. Unsupported TO_CHAR({match['of']}, "
                f"'{match['format']}') AS {match['alias']}"
            )
        columns.append(Column(name, match["format"]))
    return columns


def _condition(text: str, zone: ZoneInfo) -> Callable[[Row], bool]:
    if text == "tl.mainline = 'F'":
        return lambda row: row.fields.get("mainline") == "F"
    if types := _TYPES.fullmatch(text):
        wanted = {t.strip("' ") for t in types[1].split(",")}
        return lambda row: row.fields.get("type") in wanted
    if stamp := _TIMESTAMP.fullmatch(text):
        # in UTC, as the rows' instants are: aware datetimes sharing one tzinfo compare
        # without asking the zone for offsets (a row's filter runs per row per query)
        since = datetime.fromisoformat(stamp[2]).replace(tzinfo=zone).astimezone(UTC)
        return lambda row: row.modified is not None and row.modified >= since
    if item := _ITEM.fullmatch(text):
        least = int(item[1])
        return lambda row: int(row.fields["item"]) >= least
    raise QueryError(f"Invalid search query. Unsupported condition {text[:80]!r}")


def matching(rows: Iterable[Row], query: Query) -> list[Row]:
    """The rows (already in order) every condition of ``query`` but ``since`` lets
    through; ``bounded`` applies that one."""
    kept = list(rows)
    for condition in query.filters:  # one pass per condition: no generator per row
        kept = [r for r in kept if condition(r)]
    return kept


def bounded(unbounded: list[Row], query: Query) -> list[Row]:
    """The rows of ``unbounded`` (sorted by ``lastmodifieddate`` first: ``SINCE_SORTED``)
    from ``query.since`` on, found by bisection, as a slice of a stream asks for them."""
    if query.since is None:
        return unbounded
    since = query.since
    return unbounded[bisect.bisect_left(unbounded, since, key=_modified) :]


def _modified(row: Row) -> datetime:
    assert row.modified is not None  # every row of a SINCE_SORTED table has one
    return row.modified


def page_answer(
    request: Request, matched: list[Row], query: Query, ceiling: int, max_pages: int = 1000
) -> Answer:
    """The page of ``matched`` rows that ``limit``/``offset`` ask for, or NetSuite's 400."""
    limit_text = request.params.get("limit", "1000")
    offset_text = request.params.get("offset", "0")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        return _invalid(f"The limit must be an integer from 1 to 1000, got {limit_text!r}.",
                        "limit")  # fmt: skip
    limit = int(limit_text)
    if not offset_text.isdigit() or int(offset_text) % limit:
        return _invalid(
            f"The offset must be a non-negative multiple of the limit {limit}, "
            f"got {offset_text!r}.",
            "offset",
        )
    offset = int(offset_text)
    if offset >= ceiling or offset // limit >= max_pages:
        return _invalid(
            f"Invalid search query. The offset {offset} is past the results a query can "
            f"return ({ceiling} rows, {max_pages} pages of {limit}); narrow the query.",
            "offset",
        )
    page = matched[offset : offset + limit]
    more = offset + len(page) < len(matched)
    shape = [(c.name, None if c.format is None else FORMATS[c.format]) for c in query.columns]
    items = [_item(row, shape) for row in page]
    body = {
        "links": _links(request, limit, offset, more, len(matched)),
        "count": len(items),
        "hasMore": more,
        "items": items,
        "offset": offset,
        "totalResults": len(matched),
    }
    return Answer(200, orjson.dumps(body))


def _item(row: Row, shape: list[tuple[str, int | None]]) -> dict[str, Any]:
    item: dict[str, Any] = {"links": []}
    fields, local = row.fields, row.local
    for name, keep in shape:
        if keep is not None and name in local:
            item[name] = local[name][:keep]  # TO_CHAR: the account's local time as ISO text
        elif name in fields:  # nulls are left out
            item[name] = fields[name]
    return item


def _links(
    request: Request, limit: int, offset: int, more: bool, total: int
) -> list[dict[str, str]]:
    """Oracle's example of a first page lists ``next``, ``last``, ``self``; a later page
    also starts with ``first`` and ``previous``. Every href carries limit and offset."""
    url = request.base + request.path

    def link(rel: str, at: int) -> dict[str, str]:
        return {"rel": rel, "href": f"{url}?{urlencode({'limit': limit, 'offset': at})}"}

    links = []
    if offset > 0:
        links += [link("first", 0), link("previous", max(0, offset - limit))]
    if more:
        links.append(link("next", offset + limit))
    if total:
        links.append(link("last", (total - 1) // limit * limit))
    return [*links, link("self", offset)]


def _invalid(detail: str, parameter: str) -> Answer:
    return ns_error(400, "Bad Request", "INVALID_PARAMETER", detail, error_query_param=parameter)
