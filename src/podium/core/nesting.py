"""How deeply a JSON value nests, measured without recursion.

Values from outside (event payloads, run params, webhook deliveries) are refused past
``MAX_DEPTH`` levels: everything that later walks them recursively (masking, rendering,
serialising) stays far from Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32


def depth_of(value: Any) -> int:
    """Levels of nested lists and dicts in ``value`` (a scalar: 0, ``{"a": [1]}``: 2)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def is_too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    return depth_of(value) > limit
