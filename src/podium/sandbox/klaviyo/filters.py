"""Klaviyo's ``filter`` parameter: ``op(field,value)`` conditions joined by commas (or
wrapped in ``and(…)``), checked against what each endpoint accepts.

Values: ISO-8601 datetimes (``2025-05-01T00:00:00Z`` or with an offset), quoted strings
(``'email'`` or ``"email"``), lists of quoted strings for ``any`` (``["a@x.io","b@x.io"]``),
``true``/``false``. Besides each listing's own fields,
``equals(archived,true|false)`` (campaigns, flows) and ``equals(messages.channel,'…')``
(campaigns, where it is required) are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from podium.sandbox.klaviyo.errors import ApiError
from podium.sandbox.klaviyo.resources import Listing

_CONDITION = re.compile(r"\s*([a-z-]+)\(\s*([\w.]+)\s*,\s*([^()]*?)\s*\)\s*(?:,|$)")
CHANNELS = ("email", "sms", "mobile_push")
_QUOTED = re.compile(r'"([^"]*)"|\'([^\']*)\'')
ANY_MOST = 100  # values in one any(…): a page of profiles at most (the spec states no cap)


@dataclass(frozen=True)
class Condition:
    op: str
    field: str
    value: Any


def parse_filter(text: str, listing: Listing) -> list[Condition]:
    """The conditions in ``text``; ``ApiError`` 400 for anything Klaviyo would refuse."""
    text = text.strip()
    if text.startswith("and(") and text.endswith(")"):
        text = text[4:-1]
    conditions, position = [], 0
    while position < len(text):
        match = _CONDITION.match(text, position)
        if match is None:
            _invalid(f"Invalid filter provided: {text!r}.")
        op, field, raw = match.groups()
        conditions.append(_condition(op, field, raw, listing))
        position = match.end()
    if listing.requires_channel and not any(c.field == "messages.channel" for c in conditions):
        _invalid(
            "A channel filter is required to list campaigns. Please try adding "
            "?filter=equals(messages.channel,'email') to your request."
        )
    return conditions


def _condition(op: str, field: str, raw: str, listing: Listing) -> Condition:
    if field == "archived" and listing.archivable:
        if op != "equals" or raw not in ("true", "false"):
            _invalid("archived takes equals(archived,true|false).")
        return Condition(op, field, raw == "true")
    if field == "messages.channel" and listing.requires_channel:
        value = raw.strip("'\"")
        if op != "equals" or value not in CHANNELS:
            _invalid(f"messages.channel takes equals with one of {', '.join(CHANNELS)}.")
        return Condition(op, field, value)
    accepted = listing.filters.get(field)
    if accepted is None:
        _invalid(f"'{field}' is not a filterable field for {listing.name}.")
    if op not in accepted:
        _invalid(f"Filter operation '{op}' is not allowed for field '{field}'.")
    if field in listing.values:
        return Condition(op, field, _strings(op, raw))
    try:
        return Condition(op, field, parse_time(raw.strip("'\"")))
    except ValueError:
        _invalid(f"Invalid date filter value {raw!r} for '{field}'.")


def _strings(op: str, raw: str) -> tuple[str, ...]:
    """``equals``' one quoted string, or ``any``'s list of them: ``["a","b"]``."""
    raw = raw.strip()
    if op == "any":
        if not (raw.startswith("[") and raw.endswith("]")):
            _invalid(f'any takes a list of values, ["a","b"]; got {raw!r}.')
        items = _QUOTED.findall(raw[1:-1])
        if not items or len(items) > ANY_MOST:
            _invalid(f"any takes 1 to {ANY_MOST} values; got {len(items)}.")
        return tuple(a or b for a, b in items)
    match = _QUOTED.fullmatch(raw)
    if match is None:
        _invalid(f'Invalid value {raw!r}: quote it ("VIP").')
    return (match[1] or match[2],)


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (a ``+`` turned into a space by form decoding is put back)."""
    text = text.replace(" ", "+")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _invalid(detail: str) -> NoReturn:
    raise ApiError(400, "invalid", "Invalid input.", detail, {"parameter": "filter"})
