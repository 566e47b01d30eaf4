"""GraphQL over Shopify's own Admin schema: parse, validate and execute with graphql-core.

The schema is ``schema/admin-2022-07.graphql`` (Shopify's, introspected) plus
``schema/extensions.graphql`` (the later fields the connector uses, each citing Shopify's
changelog; a field named again there replaces the 2022-07 one). Answers hold exactly the
selection set: graphql-core resolves each selected field from the rendered node dicts
(render.py) and nothing else reaches the answer.

Wiring done here, once per process:

    root fields          ``info.context.root(name, args)`` (the simulator pages them)
    nested connections   sliced by first/after (``Order.lineItems(first: 5)``), with
                         pageInfo; whole in a bulk query; ``first``/``last`` required
                         otherwise, as Shopify requires
    lists with ``first`` sliced (``Order.refunds(first: 10)``)
    ``edges``            made from the connection's nodes, with cursors
    interfaces, unions   the node's ``__typename``, else the type in its gid

``prepared(query)`` caches the parsed document and its validation errors by query text,
so a connector repeating its queries pays for parsing and validation once.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_ast_schema,
    concat_ast,
    get_named_type,
    parse,
    validate,
)

SCHEMA_DIR = Path(__file__).parent / "schema"
SDL_FILES = ("admin-2022-07.graphql", "extensions.graphql")
ROOT_FIELDS = (
    "orders",
    "customers",
    "products",
    "inventoryItems",
    "events",
    "node",
    "currentBulkOperation",
    "currentAppInstallation",
    "bulkOperationRunQuery",
    "bulkOperationRunMutation",
    "stagedUploadsCreate",
    "tagsAdd",
    "tagsRemove",
    "customerUpdate",
    "metafieldsSet",
)


@dataclass
class Context:
    """What one execution reads: ``root(field, args)`` answers the root fields; in a
    bulk query (``bulk``) nested connections come whole."""

    root: Callable[[str, dict[str, Any]], Any]
    bulk: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@cache
def admin_schema() -> GraphQLSchema:
    """Shopify's Admin schema with the extensions, wired for the simulator."""
    documents = [parse((SCHEMA_DIR / name).read_text(), no_location=True) for name in SDL_FILES]
    schema = build_ast_schema(concat_ast(documents), assume_valid=True, assume_valid_sdl=True)
    _wire(schema)
    return schema


@lru_cache(maxsize=512)
def prepared(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """The parsed document and its validation errors against the schema (cached)."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,)
    return document, tuple(validate(admin_schema(), document))


def is_connection(definition: GraphQLField) -> bool:
    """A Relay connection field: its type is ``…Connection`` and it takes ``first``."""
    named = get_named_type(definition.type)
    return named.name.endswith("Connection") and "first" in definition.args


def is_list(kind: GraphQLType) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def offset_of(after: Any) -> int:
    if not after:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(after) + "==").decode()
        return int(text.removeprefix("offset:"))
    except ValueError:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {after}") from None


def page_of(items: list[Any], args: dict[str, Any], bulk: bool) -> dict[str, Any]:
    """A connection's page of ``items`` by first/after (whole in a bulk query)."""
    size = args.get("first", args.get("last"))
    if bulk:
        first, start = len(items), 0
    elif size is None:
        raise GraphQLError("you must provide one of first or last")
    else:
        first, start = int(size), offset_of(args.get("after"))
    chosen = items[start : start + first]
    return {
        "nodes": chosen,
        "_cursors": [cursor(start + i + 1) for i in range(len(chosen))],
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": cursor(start + 1) if chosen else None,
            "endCursor": cursor(start + len(chosen)) if chosen else None,
        },
    }


def _wire(schema: GraphQLSchema) -> None:
    for name in ROOT_FIELDS:
        for root in (schema.query_type, schema.mutation_type):
            if root is not None and name in root.fields:
                root.fields[name].resolve = _root
    for kind in schema.type_map.values():
        if isinstance(kind, GraphQLAbstractType):
            kind.resolve_type = _type_of
        if not isinstance(kind, GraphQLObjectType) or kind in (schema.query_type,):
            continue
        if kind.name.endswith("Connection") and "edges" in kind.fields:
            kind.fields["edges"].resolve = _edges
        if "metafield" in kind.fields and "metafields" in kind.fields:
            kind.fields["metafield"].resolve = _metafield
        for definition in kind.fields.values():
            if is_connection(definition):
                definition.resolve = _nested
            elif is_list(definition.type) and "first" in definition.args:
                definition.resolve = _sliced


def _root(_source: Any, info: Any, **args: Any) -> Any:
    return info.context.root(info.field_name, args)


def _metafield(source: Any, _info: Any, namespace: str, key: str) -> Any:
    """``metafield(namespace:, key:)``: the one of the node's metafields (writes.py)."""
    held = source.get("metafields") if isinstance(source, dict) else None
    for found in (held or {}).get("nodes") or ():
        if found.get("namespace") == namespace and found.get("key") == key:
            return found
    return None


def _nested(source: Any, info: Any, **args: Any) -> Any:
    value = source.get(info.field_name) if isinstance(source, dict) else None
    if value is None:
        return None
    if "_cursors" in value:  # already a page (a root connection)
        return value
    return page_of(list(value.get("nodes") or []), args, info.context.bulk)


def _sliced(source: Any, info: Any, **args: Any) -> Any:
    value = source.get(info.field_name) if isinstance(source, dict) else None
    first = args.get("first")
    if value is None or first is None or info.context.bulk:
        return value
    return list(value)[: int(first)]


def _edges(source: Any, _info: Any, **_args: Any) -> Any:
    nodes = source.get("nodes") or []
    cursors = source.get("_cursors") or [cursor(i + 1) for i in range(len(nodes))]
    return [{"node": node, "cursor": at} for node, at in zip(nodes, cursors, strict=False)]


def _type_of(value: Any, _info: Any, _kind: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if value.get("__typename"):
        return str(value["__typename"])
    parts = str(value.get("id", "")).split("/")
    return parts[3] if len(parts) > 4 else None


def project(schema: GraphQLSchema, document: DocumentNode, roots: list[Any]) -> list[Any]:
    """The root nodes of a bulk query, each cut to the query's selection (under its one
    root connection's ``edges.node``/``nodes``), every nested connection whole.

    The same answer graphql-core's execution gives (a test holds the two together), in a
    fraction of the time: a bulk export walks every order of the shop. The selection is
    compiled once into a plan of steps, then applied to every node."""
    return list(project_each(schema, document, roots))


def project_each(
    schema: GraphQLSchema, document: DocumentNode, roots: Iterable[Any]
) -> Iterator[Any]:
    """``project``, a root at a time: a bulk file written from it holds only the roots
    being written, not every projected order at once, whose survival into the old
    generations made the garbage collector walk the whole shop again and again (more
    than half a file's cost on the benchmark's brand)."""
    (root,) = bulk_roots(document)
    plan = [step for part in _node_selections(root.selection_set) for step in _plan(schema, part)]
    return (_apply(plan, node) for node in roots)


# A plan step: (key, field name, typename condition or None, sub-plan or None, spelling)
# where spelling is "nodes"/"edges" for a connection's own fields, "" otherwise.
Step = tuple[str, str, str | None, list[Any] | None, list[tuple[str, str, list[Any]]]]


def _plan(
    schema: GraphQLSchema, selection_set: SelectionSetNode, when: str | None = None
) -> list[Step]:
    steps: list[Step] = []
    for s in selection_set.selections:
        if isinstance(s, InlineFragmentNode):
            condition = s.type_condition.name.value if s.type_condition else None
            kind = schema.get_type(condition) if condition else None
            concrete = (
                condition
                if kind is not None and not isinstance(kind, GraphQLAbstractType)
                else None
            )
            steps += _plan(schema, s.selection_set, concrete or when)
        elif isinstance(s, FieldNode):
            key = (s.alias or s.name).value
            if s.selection_set is None:
                steps.append((key, s.name.value, when, None, []))
                continue
            spellings = [
                ((f.alias or f.name).value, f.name.value, _plan(schema, inner))
                for f in s.selection_set.selections
                if isinstance(f, FieldNode) and f.name.value in ("nodes", "edges")
                for inner in _node_selections(SelectionSetNode(selections=(f,)))
            ]
            steps.append((key, s.name.value, when, _plan(schema, s.selection_set), spellings))
    return steps


def _apply(plan: list[Step], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_apply(plan, item) for item in value]
    out: dict[str, Any] = {}
    kind: str | None = None
    for key, name, when, inner, spellings in plan:
        if when is not None:
            kind = kind or _type_of(value, None, None)
            if kind != when:
                continue
        found = value.get(name)
        if name == "__typename":
            out[key] = _type_of(value, None, None)
        elif inner is None:
            out[key] = found
        elif isinstance(found, dict) and isinstance(found.get("nodes"), list):
            out[key] = {
                spelt: [{"node": _apply(sub, n)} for n in found["nodes"]]
                if field == "edges"
                else [_apply(sub, n) for n in found["nodes"]]
                for spelt, field, sub in spellings
            }
        else:
            out[key] = _apply(inner, found)
    return out


def _node_selections(selection_set: SelectionSetNode | None) -> list[SelectionSetNode]:
    """What a connection's selection asks of each node (``nodes { … }``, ``edges { node
    { … } }``)."""
    found: list[SelectionSetNode] = []
    for s in selection_set.selections if selection_set else ():
        if not isinstance(s, FieldNode) or s.selection_set is None:
            continue
        if s.name.value == "nodes":
            found.append(s.selection_set)
        elif s.name.value == "edges":
            found += [
                n.selection_set
                for n in s.selection_set.selections
                if isinstance(n, FieldNode) and n.name.value == "node" and n.selection_set
            ]
    return found


def bulk_roots(document: DocumentNode) -> list[FieldNode]:
    """The root fields of a (bulk) query."""
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
