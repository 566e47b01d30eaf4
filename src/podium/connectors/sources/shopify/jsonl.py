"""Root nodes rebuilt from a bulk operation's JSONL file, children put back.

Shopify flattens connections into lines carrying ``__parentId``, written after their
parent but not always straight after it (Shopify's own files batch parents and their
children). Each child goes back under its parent, under the connection it came from
(``{"nodes": [...]}``, the paged spelling), in file order.

Two passes, so memory stays bounded however large the export:

    scan     bytes only, no JSON parsed: each line's own id (``{"id":"…"`` first, as
             GraphQL answers in the query's field order) and ``__parentId`` (written
             last); the *reach* = the most roots that start between a child's root and
             the child. Only ids of the last ``WINDOW`` roots are kept.
    stream   (reach known, ≤ ``WINDOW``) each line parsed once; a root is complete once
             ``reach`` newer roots have started, so at most reach + 1 roots are held.
    spill    (a child whose parent is unknown to the scan: further than ``WINDOW`` roots
             back, or an object inside a plain list such as a refund, whose id the scan
             cannot see) every line into SQLite on disk, indexed by parent, and each root
             rebuilt from there, one generation at a time.

``bulk_rows`` makes each streamed root into rows as soon as it is complete: keeping a
batch of whole node trees alive cost more, in the garbage collector's passes, than the
parsing. On the simulator's orders file (20,048 orders, 83,308 lines) the reach is 9 and
the read takes less than half the CPU it took spilled (docs/design-and-limitations.md,
"Connector throughput").
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

Node = dict[str, Any]
Record = dict[str, Any]

# The connection each child type belongs to (Shopify's JSONL does not name it).
CHILD_FIELDS = {
    "LineItem": "lineItems",
    "ShippingLine": "shippingLines",
    "RefundLineItem": "refundLineItems",
    "ProductVariant": "variants",
    "InventoryLevel": "inventoryLevels",
}
WINDOW = 2000  # roots a child may trail its root by and still be streamed
_PARENT = b'"__parentId":"'
_OWN = b'{"id":"'


def assemble(
    path: Path, work: Path, batch: int = 500, window: int = WINDOW
) -> Iterator[list[Node]]:
    """Batches of root nodes from a bulk JSONL file, children put back (module docstring);
    ``work`` is a directory for the spill, used only when streaming cannot be."""
    yield from bulk_rows(path, work, lambda node: [node], batch, window)


def bulk_rows(
    path: Path,
    work: Path,
    rows: Callable[[Node], list[Record]],
    batch: int = 500,
    window: int = WINDOW,
) -> Iterator[list[Record]]:
    """The ``rows`` of every root node of a bulk JSONL file, those of ``batch`` roots at a
    time. Streamed, each root becomes rows as soon as it is complete, so its nested dicts
    are freed at once: holding a batch of node trees alive (not the rows) was most of the
    cost, in the garbage collector's passes over them."""
    reach = scan(path, window)
    if reach is None:
        for nodes in _spilled(path, work, batch):
            yield [row for node in nodes for row in rows(node)]
        return
    ready: list[Record] = []
    roots = 0
    for node in _streamed(path, reach):
        ready.extend(rows(node))
        roots += 1
        if roots == batch:
            yield ready
            ready, roots = [], 0
    if roots:
        yield ready


def scan(path: Path, window: int) -> int | None:
    """The reach of the file (module docstring), or None when some child's parent is not
    among the ids of the last ``window`` roots' lines."""
    recent: dict[bytes, int] = {}  # id → the number of its root
    owned: deque[list[bytes]] = deque()  # the ids of each root still in the window
    roots, reach = 0, 0
    with path.open("rb") as lines:
        for raw in lines:
            at = raw.rfind(_PARENT)
            if at < 0:
                if raw.isspace():  # a blank line (isspace copies nothing)
                    continue
                roots += 1
                owned.append([])
                if len(owned) > window + 1:
                    for gone in owned.popleft():
                        del recent[gone]
                root = roots
            else:
                start = at + len(_PARENT)
                root = recent.get(raw[start : raw.index(b'"', start)], 0)
                if not root:
                    return None
                reach = max(reach, roots - root)
            if raw.startswith(_OWN):
                own = raw[len(_OWN) : raw.index(b'"', len(_OWN))]
                if own not in recent:
                    recent[own] = root
                    owned[-1].append(own)
    return reach


def _streamed(path: Path, reach: int) -> Iterator[Node]:
    """Each root once complete, in file order; one parse per line (module docstring)."""
    pending: deque[tuple[Node, list[str]]] = deque()  # root, the ids of its tree's lines
    nodes: dict[str, tuple[Node, list[str]]] = {}  # id → node and its root's ids
    with path.open("rb") as lines:
        for raw in lines:
            if raw.isspace():
                continue
            node = orjson.loads(raw)
            gid = node.get("id")
            parent = node.pop("__parentId", None)
            if parent is None:
                if len(pending) > reach:
                    done, gone = pending.popleft()
                    for old in gone:
                        del nodes[old]
                    yield done
                tree: list[str] = []
                pending.append((node, tree))
            else:
                owner, tree = nodes[parent]
                parts = str(gid).split("/", 4)  # gid://shopify/LineItem/7
                kind = parts[3] if len(parts) > 4 else ""
                field = CHILD_FIELDS.get(kind, kind)
                connection = owner.get(field)
                if connection is None:
                    owner[field] = {"nodes": [node]}
                else:
                    connection["nodes"].append(node)
            if isinstance(gid, str) and gid not in nodes:
                nodes[gid] = (node, tree)
                tree.append(gid)
    for root, _ in pending:
        yield root


def _field(gid: Any) -> str:
    """The connection a child belongs to, by the type in its gid."""
    kind = _kind(gid)
    return CHILD_FIELDS.get(kind, kind)


def _kind(gid: Any) -> str:
    """The type in a gid: ``gid://shopify/LineItem/7`` → ``LineItem``."""
    parts = str(gid).split("/", 4)
    return parts[3] if len(parts) > 4 else ""


def _spilled(path: Path, work: Path, batch: int) -> Iterator[list[Node]]:
    """Every line into SQLite (on disk, indexed by parent), roots rebuilt from there."""
    db = sqlite3.connect(work / "bulk.sqlite")
    try:
        db.execute("CREATE TABLE line (seq INTEGER PRIMARY KEY, parent TEXT, body BLOB)")
        with path.open("rb") as lines:
            db.executemany(
                "INSERT INTO line (parent, body) VALUES (?, ?)",
                ((_parent(raw), raw) for raw in lines if raw.strip()),
            )
        db.execute("CREATE INDEX line_parent ON line (parent, seq)")
        roots = db.execute("SELECT body FROM line WHERE parent IS NULL ORDER BY seq")
        while chunk := roots.fetchmany(batch):
            level = [orjson.loads(body) for (body,) in chunk]
            _attach(db, level)
            yield level
    finally:
        db.close()


def _parent(raw: bytes) -> str | None:
    """``__parentId`` of a line, found without parsing it (Shopify writes it last)."""
    at = raw.rfind(_PARENT)
    if at < 0:
        return None
    start = at + len(_PARENT)
    return raw[start : raw.index(b'"', start)].decode()


def _attach(db: sqlite3.Connection, level: list[Node]) -> None:
    """Puts every child line under its parent, one generation at a time: the parents are
    ``level``'s nodes and the objects with ids in their lists (a refund in an order)."""
    while level:
        parents: dict[str, Node] = {}
        for node in level:
            parents[str(node.get("id"))] = node
            for value in node.values():
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, dict) and "id" in item:
                            parents[str(item["id"])] = item
        level = []
        ids = list(parents)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT body FROM line WHERE parent IN ({marks}) ORDER BY seq"
            for (body,) in db.execute(sql, part):
                child = orjson.loads(body)
                parent = parents[child.pop("__parentId")]
                parent.setdefault(_field(child.get("id")), {"nodes": []})["nodes"].append(child)
                level.append(child)
