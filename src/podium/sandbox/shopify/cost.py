"""Shopify's calculated query cost, from the document and the schema.

The published rules (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits):

    scalar, enum            0
    object                  1 (plus what is selected inside it)
    interface, union        1 plus the most costly of the possible selections
    connection              2 + (first or last) × the cost of one node
    mutation                10 for each mutation field (aliases each pay their own)
    single query            refused above 1,000 requested points (MAX_COST_EXCEEDED)

What the rules leave open, and how this reads it: a plain list of objects (``Order.
refunds``, ``Order.transactions``, ``discountAllocations``) costs as one object, ``first``
on it or not; a connection's own ``edges``, ``cursor`` and ``pageInfo`` are free (the node
is what is charged). The *actual* cost walks the answer instead: a connection is 2 plus
the nodes it returned, a null object costs nothing.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)

from podium.sandbox.shopify.executor import is_connection

MUTATION_COST = 10
MAX_COST = 1000


def operation(document: DocumentNode) -> OperationDefinitionNode:
    return next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def mutation_cost(op: OperationDefinitionNode) -> int:
    """10 for each mutation field: ``a: tagsAdd(…) b: tagsAdd(…)`` asks for 20."""
    return MUTATION_COST * max(1, len(op.selection_set.selections))


def requested_cost(schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> int:
    """The cost Shopify asks for before running the query (module docstring)."""
    op = operation(document)
    if op.operation is OperationType.MUTATION:
        return mutation_cost(op)
    walk = _Walk(schema, document, variables)
    assert schema.query_type is not None  # noqa: S101 - the Admin schema has one
    return walk.selections(schema.query_type, op.selection_set)


def actual_cost(
    schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any], data: Any
) -> int:
    """The cost of what was returned: connections by the nodes they hold."""
    op = operation(document)
    if op.operation is OperationType.MUTATION:
        return mutation_cost(op)
    walk = _Walk(schema, document, variables)
    assert schema.query_type is not None  # noqa: S101
    return walk.returned(schema.query_type, op.selection_set, data or {})


class _Walk:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]
    ) -> None:
        self.schema, self.variables = schema, variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    # -- requested -------------------------------------------------------------------------
    def selections(self, parent: GraphQLCompositeType, selection_set: SelectionSetNode) -> int:
        fields, fragments = 0, [0]
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields += self.field(parent, selection)
            else:
                kind, inner = self._fragment(parent, selection)
                fragments.append(self.selections(kind, inner))
        return fields + max(fragments)

    def field(self, parent: GraphQLCompositeType, node: FieldNode) -> int:
        definition = _fields(parent).get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        assert isinstance(named, GraphQLCompositeType)  # noqa: S101 - not a leaf
        if is_connection(definition):
            size = self._size(node)
            return 2 + size * self._node_cost(named, node.selection_set)
        return 1 + self.selections(named, node.selection_set)

    def _node_cost(self, connection: GraphQLCompositeType, selection_set: SelectionSetNode) -> int:
        """One node of a connection: 1 plus its selection (``nodes`` or ``edges.node``)."""
        node_type = get_named_type(_fields(connection)["nodes"].type)
        assert isinstance(node_type, GraphQLCompositeType)  # noqa: S101
        costs = [0]
        for part in _subfields(selection_set, "nodes"):
            costs.append(self.selections(node_type, part))
        for edges in _subfields(selection_set, "edges"):
            for part in _subfields(edges, "node"):
                costs.append(self.selections(node_type, part))
        return 1 + max(costs)

    def _size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = argument.value
                if isinstance(value, IntValueNode):
                    return int(value.value)
                if isinstance(value, VariableNode):
                    return int(self.variables.get(value.name.value) or 0)
        return 0

    def _fragment(
        self, parent: GraphQLCompositeType, selection: Any
    ) -> tuple[GraphQLCompositeType, SelectionSetNode]:
        if isinstance(selection, FragmentSpreadNode):
            selection = self.fragments[selection.name.value]
        assert isinstance(selection, InlineFragmentNode | FragmentDefinitionNode)  # noqa: S101
        condition = selection.type_condition
        kind = self.schema.get_type(condition.name.value) if condition else parent
        assert isinstance(kind, GraphQLCompositeType)  # noqa: S101 - validated
        return kind, selection.selection_set

    # -- actual ----------------------------------------------------------------------------
    def returned(
        self, parent: GraphQLCompositeType, selection_set: SelectionSetNode, data: Any
    ) -> int:
        if isinstance(data, list):
            return max((self.returned(parent, selection_set, item) for item in data), default=0)
        if not isinstance(data, dict):
            return 0
        total = 0
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode):
                kind, inner = self._fragment(parent, selection)
                total += self.returned(kind, inner, data)
                continue
            definition = _fields(parent).get(selection.name.value)
            key = (selection.alias or selection.name).value
            value = data.get(key)
            if definition is None or selection.selection_set is None or value is None:
                continue
            named = get_named_type(definition.type)
            assert isinstance(named, GraphQLCompositeType)  # noqa: S101
            if is_connection(definition):
                total += 2 + self._returned_nodes(named, selection.selection_set, value)
            else:
                total += 1 + self.returned(named, selection.selection_set, value)
        return total

    def _returned_nodes(
        self, connection: GraphQLCompositeType, selection_set: SelectionSetNode, value: Any
    ) -> int:
        node_type = get_named_type(_fields(connection)["nodes"].type)
        assert isinstance(node_type, GraphQLCompositeType)  # noqa: S101
        found: list[tuple[SelectionSetNode, list[Any]]] = []
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.selection_set is None:
                continue
            key = (selection.alias or selection.name).value
            items = value.get(key) or []
            if selection.name.value == "nodes":
                found.append((selection.selection_set, items))
            elif selection.name.value == "edges":
                for part in _subfields(selection.selection_set, "node"):
                    found.append((part, [e.get("node") for e in items if isinstance(e, dict)]))
        best = 0
        for part, items in found:
            best = max(best, sum(1 + self.returned(node_type, part, item) for item in items))
        return best


def _fields(kind: GraphQLCompositeType) -> dict[str, Any]:
    fields: dict[str, Any] = getattr(kind, "fields", {})  # a union has none
    return fields


def _subfields(selection_set: SelectionSetNode, name: str) -> list[SelectionSetNode]:
    return [
        s.selection_set
        for s in selection_set.selections
        if isinstance(s, FieldNode) and s.name.value == name and s.selection_set is not None
    ]
