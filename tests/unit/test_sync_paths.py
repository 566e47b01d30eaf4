"""Paths into a trigger's payload: values, list items, projections, and what is refused."""

from __future__ import annotations

import pytest

from podium.syncs.paths import MISSING, path_problem, value_at

ORDER = {
    "id": 1001,
    "shipping_address": {"name": "Ada", "city": "Chicago"},
    "line_items": [
        {"sku": "TEE-M", "title": "Tee", "quantity": 2},
        {"sku": "CAP", "title": "Cap", "quantity": 1, "gift": True},
    ],
}


def test_values_and_list_items() -> None:
    assert value_at(ORDER, "id") == 1001
    assert value_at(ORDER, "shipping_address.city") == "Chicago"
    assert value_at(ORDER, "line_items.1.sku") == "CAP"
    assert value_at(ORDER, "shipping_address.zip") is MISSING
    assert value_at(ORDER, "line_items.7.sku") is MISSING


def test_projections_reshape_each_item() -> None:
    assert value_at(ORDER, "line_items[].sku") == ["TEE-M", "CAP"]
    assert value_at(ORDER, "line_items[].gift") == [None, True]
    assert value_at(ORDER, "line_items[].{reference_id: sku, name: title, quantity: quantity}") == [
        {"reference_id": "TEE-M", "name": "Tee", "quantity": 2},
        {"reference_id": "CAP", "name": "Cap", "quantity": 1},
    ]
    assert value_at(ORDER, "line_items[]") == ORDER["line_items"]
    assert value_at(ORDER, "shipping_address[].name") is MISSING  # not a list


@pytest.mark.parametrize(
    "expression", ["id", "a.b.c", "items[].sku", "items[].{a: b, c: d.e}", "items[]"]
)
def test_good_expressions(expression: str) -> None:
    assert path_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("a..b", "is not a path into the trigger"),
        ("items[].{a b}", "'a b' in 'items[].{a b}' is not name: path"),
        ("$.id", "is not a path into the trigger"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str, says: str) -> None:
    problem = path_problem(expression)
    assert problem is not None and says in problem
