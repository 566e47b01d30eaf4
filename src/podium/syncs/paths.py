"""Paths into a trigger's payload, for ``from: trigger`` syncs.

    shipping_address.city                          a value (``items.0.sku``: a list's item)
    line_items[].sku                               one value per item of a list
    line_items[].{reference_id: sku, quantity: quantity}   each item reshaped

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MISSING: Any = object()  # what a path finds when it is not in the payload
_PATH = r"[A-Za-z_][\w-]*(?:\.[\w-]+)*"
_PROJECTION = re.compile(
    rf"^(?P<list>{_PATH})\[\](?:\.(?:(?P<one>{_PATH})|\{{(?P<pairs>[^{{}}]*)\}}))?$"
)
_PAIR = re.compile(rf"^\s*(?P<name>[A-Za-z_][\w-]*)\s*:\s*(?P<path>{_PATH})\s*$")


def path_problem(expression: str) -> str | None:
    """Why ``expression`` is not a path (``a.b``) or projection (``a[].{x: b}``), or None."""
    if re.fullmatch(_PATH, expression):
        return None
    match = _PROJECTION.match(expression)
    if match and match["pairs"] is not None:
        bad = [p for p in match["pairs"].split(",") if not _PAIR.match(p)]
        if bad:
            return f"{bad[0].strip()!r} in {expression!r} is not name: path"
    if match:
        return None
    return (
        f"{expression!r} is not a path into the trigger (shipping_address.city) or a"
        " projection of a list (line_items[].{sku: sku, quantity: quantity})"
    )


def value_at(node: Any, expression: str) -> Any:
    """The value at a path or projection (``MISSING`` when the path is not there)."""
    match = _PROJECTION.match(expression)
    if match is None:
        return at(node, expression)
    items = at(node, match["list"])
    if items is MISSING or not isinstance(items, list):
        return MISSING
    if match["one"]:
        return [None if (v := at(i, match["one"])) is MISSING else v for i in items]
    if match["pairs"] is None:
        return items
    pairs = [_PAIR.match(p) for p in match["pairs"].split(",")]
    shape = [(m["name"], m["path"]) for m in pairs if m]
    return [
        {name: v for name, path in shape if (v := at(item, path)) is not MISSING} for item in items
    ]


def at(node: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node
