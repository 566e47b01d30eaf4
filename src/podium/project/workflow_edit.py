"""Writing a workflow file back after the web UI's builder changed it, keeping the rest.

The builder edits a workflow as plain data (the same shape as the YAML: ``name``,
``triggers``, ``tasks`` …). ``apply_changes`` reads the file as it was opened with
ruamel.yaml's round-trip loader and changes only the nodes whose values differ: a value
that is equal keeps its node (its quoting, its flow or block style, the comments around
it), a key that is gone is removed, a new key goes after the others, tasks are matched by
``id`` and triggers by position. The file's indentation is kept as found. So a
hand-written file opened and saved with one retry changed differs by that one line.

``locate`` says which task (or trigger) and which key a problem's line falls on, for the
builder to show ``podium validate``'s message where it belongs.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from podium.errors import UsageError

WIDTH = 4096  # never fold a long line the author wrote on one


def digest(text: str) -> str:
    """The file's fingerprint: a save names the one it was opened at."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _yaml(text: str) -> tuple[YAML, Any]:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = WIDTH
    if not text.strip():
        yaml.indent(mapping=2, sequence=4, offset=2)
        return yaml, None
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        document = yaml.load(text)
    except YAMLError as exc:
        raise UsageError(f"the file is not valid YAML: {exc}") from None
    indent = indent or 2
    offset = block_seq_indent or 0
    yaml.indent(mapping=indent, sequence=max(indent, offset + 2), offset=offset)
    return yaml, document


def to_plain(node: Any) -> Any:
    """A ruamel node as plain JSON-like data."""
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return str(node)


def read_document(text: str) -> dict[str, Any]:
    """A workflow file's text as plain data (an empty file: an empty mapping)."""
    _, document = _yaml(text)
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise UsageError("a workflow file must be a mapping with name:, triggers: and tasks:")
    plain = to_plain(document)
    assert isinstance(plain, dict)
    return plain


def apply_changes(text: str, wanted: Mapping[str, Any]) -> str:
    """``text`` with its workflow changed to ``wanted`` (plain data), untouched nodes kept."""
    yaml, document = _yaml(text)
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise UsageError("a workflow file must be a mapping with name:, triggers: and tasks:")
    merged = _merge(document, dict(wanted))
    out = io.StringIO()
    yaml.dump(merged, out)
    return out.getvalue()


def _equal(a: Any, b: Any) -> bool:
    """Equal as data, a type for a type: ``1`` is not ``true``, ``"2"`` is not ``2``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _merge(old: Any, new: Any) -> Any:
    if _equal(to_plain(old), new):
        return old
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        order = [k for k in old if k in new] + [k for k in new if k not in old]
        moved = _take_trailing(old) if old and order and order[-1] != list(old)[-1] else None
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = _merge(old[key], value) if key in old else _fresh(value)
        _put_trailing(old, moved)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        return _merge_list(old, new)
    return _fresh(new)


def _merge_list(old: CommentedSeq, new: list[Any]) -> CommentedSeq:
    by_id = {item["id"]: item for item in old if isinstance(item, CommentedMap) and "id" in item}
    keyed = by_id and all(isinstance(i, Mapping) and "id" in i for i in new)
    items: list[Any] = []
    for position, value in enumerate(new):
        in_place = old[position] if position < len(old) else None
        before = by_id.get(value["id"]) if keyed else in_place
        items.append(_fresh(value) if before is None else _merge(before, value))
    if [id(i) for i in items] == [id(i) for i in old[: len(items)]] and len(old) == len(items):
        return old
    flow = old.fa.flow_style()
    if old and items and items[-1] is not old[-1]:
        _put_trailing(items[-1], _take_trailing(old[-1]))
    # Keep the comments that follow each kept item: ruamel keeps them by index.
    comments = {id(item): old.ca.items.get(i) for i, item in enumerate(old)}
    old.clear()
    old.ca.items.clear()
    for i, item in enumerate(items):
        old.append(item)
        kept = comments.get(id(item))
        if kept is not None:
            old.ca.items[i] = kept
    if flow:
        old.fa.set_flow_style()
    return old


def _take_trailing(node: Any) -> CommentToken | None:
    """The blank and comment lines after a mapping's last value (the blank line before the
    next section), taken off it; its own end-of-line comment stays."""
    if not isinstance(node, CommentedMap) or not node:
        return None
    last = list(node)[-1]
    entry = node.ca.items.get(last)
    if not entry or len(entry) < 3 or entry[2] is None or isinstance(node[last], list):
        return None
    token = entry[2]
    kept, newline, rest = str(token.value).partition("\n")
    if not rest:
        return None
    token.value = kept + newline
    return CommentToken("\n" + rest, token.start_mark, None)


def _put_trailing(node: Any, token: CommentToken | None) -> None:
    if token is None or not isinstance(node, CommentedMap) or not node:
        return
    last = list(node)[-1]
    if isinstance(node[last], list):
        return
    slot = node.ca.items.setdefault(last, [None, None, None, None])
    if slot[2] is None:
        slot[2] = token
    else:
        slot[2].value = str(slot[2].value).rstrip("\n") + str(token.value)


def _fresh(value: Any) -> Any:
    """New data as ruamel nodes; short lists of names are written [a, b] like by hand."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _fresh(item)
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_fresh(v) for v in value)
        if all(isinstance(v, (str, int, float)) for v in value):
            seq.fa.set_flow_style()
        return seq
    return value


@dataclass(frozen=True)
class Place:
    """Where a line of a workflow file is: a task (by id) or a trigger (by index), and
    the key on that line (None: the task or trigger as a whole, or the file)."""

    task: str | None = None
    trigger: int | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "trigger": self.trigger, "field": self.field}


def locate(text: str, line: int) -> Place:
    """The task or trigger and key that 1-based ``line`` of ``text`` belongs to."""
    try:
        _, document = _yaml(text)
    except UsageError:
        return Place()
    if not isinstance(document, CommentedMap):
        return Place()
    row = line - 1
    for section in ("tasks", "triggers"):
        items = document.get(section)
        if not isinstance(items, CommentedSeq):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, CommentedMap):
                continue
            end = _end_row(items, index, document, section)
            if item.lc.line <= row < end:
                field = _key_at(item, row)
                if section == "tasks":
                    return Place(task=str(item.get("id", "")) or None, field=field)
                return Place(trigger=index, field=field)
    for key in document:
        if document.lc.key(key)[0] == row:
            return Place(field=str(key))
    return Place()


def _end_row(items: CommentedSeq, index: int, document: CommentedMap, section: str) -> int:
    if index + 1 < len(items):
        following = items[index + 1]
        if isinstance(following, CommentedMap):
            return int(following.lc.line)
        return int(items.lc.item(index + 1)[0])
    keys = list(document)
    position = keys.index(section)
    if position + 1 < len(keys):
        return int(document.lc.key(keys[position + 1])[0])
    return 1 << 30


def _key_at(item: CommentedMap, row: int) -> str | None:
    best = None
    for key in item:
        key_row = item.lc.key(key)[0]
        if key_row <= row:
            best = str(key)
    return best
