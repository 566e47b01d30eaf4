"""What Shopify says when a query is wrong: its error shape, and the bulk query rules.

``shopify_error`` turns a graphql-core error into the object Shopify answers with (HTTP
200, under ``errors``): an unknown field reads ``Field 'x' doesn't exist on type 'T'``
with ``extensions: {code: undefinedField, typeName, fieldName}``, as Shopify writes it;
other validation errors keep graphql-core's wording under Shopify's ``extensions.code``.

``bulk_problems`` lists the reasons ``bulkOperationRunQuery`` refuses a valid query
(https://shopify.dev/docs/api/usage/bulk-operations/queries): a connection inside a list
field (``orders → refunds → refundLineItems``), more than five connections, connections
nested more than two levels deep.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)

from podium.sandbox.shopify.cost import operation
from podium.sandbox.shopify.executor import is_connection, is_list

_UNDEFINED = re.compile(r"^Cannot query field '(\w+)' on type '(\w+)'\.")
_CODES = (
    (re.compile(r"^Unknown argument"), "argumentNotAccepted"),
    (re.compile(r"^Field '\w+' argument '\w+' of type .* is required"), "missingRequiredArguments"),
    (re.compile(r"^Unknown type"), "undefinedType"),
    (re.compile(r"^Variable"), "variableMismatch"),
    (re.compile(r"^Syntax Error"), "parseError"),
)
LIST_CONNECTION = (
    "Queries that contain a connection field within a list field are not currently supported."
)


def shopify_error(error: GraphQLError) -> dict[str, Any]:
    """``error`` as Shopify's answer spells it (module docstring)."""
    found = _UNDEFINED.match(error.message)
    extensions: dict[str, Any]
    if found:
        field, kind = found.groups()
        message = f"Field '{field}' doesn't exist on type '{kind}'"
        extensions = {"code": "undefinedField", "typeName": kind, "fieldName": field}
    else:
        message = error.message
        code = next((c for pattern, c in _CODES if pattern.match(message)), "GRAPHQL_ERROR")
        extensions = {"code": code}
    shaped: dict[str, Any] = {"message": message}
    if error.locations:
        shaped["locations"] = [{"line": at.line, "column": at.column} for at in error.locations]
    if error.path:
        shaped["path"] = list(error.path)
    shaped["extensions"] = extensions
    return shaped


def bulk_problems(schema: GraphQLSchema, document: DocumentNode) -> list[str]:
    """Why Shopify would refuse ``document`` as a bulk query (empty: it would not)."""
    found: list[tuple[int, bool]] = []  # (depth, inside a list) of every connection
    assert schema.query_type is not None  # noqa: S101
    _connections(schema.query_type, operation(document).selection_set, 0, False, found)
    problems = []
    if any(in_list for _, in_list in found):
        problems.append(LIST_CONNECTION)
    if len(found) > 5:
        problems.append("Bulk queries cannot contain more than 5 connections.")
    if any(depth > 2 for depth, _ in found):
        problems.append(
            "Bulk queries cannot contain connections with a nesting depth greater than 2."
        )
    if not found:
        problems.append("Bulk queries must contain at least one connection.")
    return problems


def _connections(
    parent: GraphQLCompositeType,
    selection_set: SelectionSetNode,
    depth: int,
    in_list: bool,
    found: list[tuple[int, bool]],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            _connections(parent, selection.selection_set, depth, in_list, found)
            continue
        if not isinstance(selection, FieldNode) or selection.selection_set is None:
            continue
        fields: dict[str, Any] = getattr(parent, "fields", {})
        definition = fields.get(selection.name.value)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            continue
        assert isinstance(named, GraphQLCompositeType)  # noqa: S101
        if is_connection(definition):
            found.append((depth + 1, in_list))
            _connections(named, selection.selection_set, depth + 1, in_list, found)
        elif selection.name.value in ("edges", "nodes", "node"):
            _connections(named, selection.selection_set, depth, in_list, found)
        else:
            inside = in_list or is_list(definition.type)
            _connections(named, selection.selection_set, depth, inside, found)
