"""The cost Shopify will ask for a query, by its published rules, from the query alone.

https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: a scalar or enum
costs 0, an object 1 plus what is selected in it, a connection 2 + ``first`` (or
``last``) × the cost of one node, an interface the most costly of its possible
selections, each mutation field 10; a query asking for more than ``MAX_COST`` is refused.

Only objects have selection sets, so the rules apply to the document without the
schema: a field with a selection set is an object, or a connection when it takes
``first``/``last`` and selects ``nodes`` or ``edges``. (The simulator computes the same
cost from Shopify's schema, independently; a test holds the two together.)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
)

MAX_COST = 1000
MUTATION_COST = 10


def requested_cost(query: str, variables: Mapping[str, Any] | None = None) -> int:
    """What Shopify charges up front for ``query`` with ``variables``."""
    document = _parsed(query)
    op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    if op.operation is OperationType.MUTATION:  # 10 for each (aliased) mutation field
        return MUTATION_COST * max(1, len(op.selection_set.selections))
    return _selections(op.selection_set, dict(variables or {}))


@lru_cache(maxsize=256)
def _parsed(query: str) -> DocumentNode:
    return parse(query, no_location=True)


def _selections(selection_set: SelectionSetNode, variables: dict[str, Any]) -> int:
    fields, fragments = 0, [0]
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields += _field(selection, variables)
        elif getattr(selection, "selection_set", None) is not None:  # an inline fragment
            fragments.append(_selections(selection.selection_set, variables))  # type: ignore[attr-defined]
    return fields + max(fragments)


def _field(node: FieldNode, variables: dict[str, Any]) -> int:
    if node.selection_set is None:
        return 0  # scalar or enum
    size = _size(node, variables)
    inner = _children(node.selection_set)
    if size is not None and ("nodes" in inner or "edges" in inner):
        costs = [0]
        for part in inner.get("nodes", []):
            costs.append(_selections(part, variables))
        for edges in inner.get("edges", []):
            for part in _children(edges).get("node", []):
                costs.append(_selections(part, variables))
        return 2 + size * (1 + max(costs))
    return 1 + _selections(node.selection_set, variables)


def _size(node: FieldNode, variables: dict[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value in ("first", "last"):
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                return int(variables.get(value.name.value) or 0)
    return None


def _children(selection_set: SelectionSetNode) -> dict[str, list[SelectionSetNode]]:
    found: dict[str, list[SelectionSetNode]] = {}
    for s in selection_set.selections:
        if isinstance(s, FieldNode) and s.selection_set is not None:
            found.setdefault(s.name.value, []).append(s.selection_set)
    return found
