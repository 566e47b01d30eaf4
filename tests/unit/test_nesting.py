from __future__ import annotations

from typing import Any

import pytest

from podium.core.nesting import MAX_DEPTH, depth_of, is_too_deep


def nested(levels: int) -> Any:
    value: Any = 1
    for level in range(levels):
        value = {"a": value} if level % 2 else [value]
    return value


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), ({}, 1), ([], 1), ({"a": [1]}, 2), ([1, [2, [3]], {}], 3)],
)
def test_depth_counts_nested_lists_and_dicts(value: Any, depth: int) -> None:
    assert depth_of(value) == depth


def test_depth_is_measured_without_recursion_far_past_the_recursion_limit() -> None:
    assert depth_of(nested(100_000)) == 100_000
    assert is_too_deep(nested(MAX_DEPTH + 1)) and not is_too_deep(nested(MAX_DEPTH))
