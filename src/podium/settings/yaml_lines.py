"""YAML that remembers where each key and item was written.

``load_yaml`` parses with PyYAML's C loader (``yaml.compose``) and walks the node tree once,
building ``LineDict`` / ``LineList`` values: ordinary dicts and lists that also know the
1-based line of every key and item. Mapping keys are kept as written (``on:`` stays the
string ``"on"``, not YAML 1.1's ``True``). Anything wrong with the text itself (a syntax
error, a duplicate key, an unknown tag) becomes a Problem at its line instead of a traceback.

The Python API builds the same types from keyword arguments, with every line set to the
line of the call, so YAML and Python definitions go through one validation.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, cast

import yaml

from podium.core.durations import parse_duration
from podium.errors import Problem

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_plain_tags: dict[str, str] = {}  # plain scalar text -> the tag YAML resolves it to


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The C loader with plain-scalar tag resolution memoised.

    Resolving a tag runs regular expressions over the text; a large workflow repeats the
    same few texts (keys, ``30s``, ``extractors``) thousands of times.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _plain_tags.get(value)
            if tag is None:
                if len(_plain_tags) > 100_000:
                    _plain_tags.clear()
                tag = _plain_tags[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


class LineDict(dict[str, Any]):
    """A mapping whose keys know their lines; ``line`` is where the mapping starts.

    ``file`` is set only when the mapping was written in another file than its parent
    (a Python task decorated in a module other than its workflow's).
    """

    __slots__ = ("line", "key_lines", "file")

    def __init__(self, items: Mapping[str, Any] = {}, line: int = 0) -> None:  # noqa: B006
        super().__init__(items)
        self.line = line
        self.key_lines: dict[str, int] = {}
        self.file: str | None = None

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence whose items know their lines; ``line`` is where the sequence starts."""

    __slots__ = ("line", "item_lines")

    def __init__(self, items: Any = (), line: int = 0) -> None:
        super().__init__(items)
        self.line = line
        self.item_lines: list[int] = []

    def line_at(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def located(value: Any, line: int) -> Any:
    """``value`` with line information: plain dicts and lists (from Python) get ``line``."""
    if isinstance(value, LineDict | LineList):
        return value
    if isinstance(value, Mapping):
        return LineDict({str(k): v for k, v in value.items()}, line)
    if isinstance(value, list | tuple):
        return LineList(value, line)
    return value


def to_plain(value: Any) -> Any:
    """Deep copy of ``value`` as plain dicts and lists, for the frozen model."""
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


def load_yaml(text: str, file: str) -> tuple[Any, list[Problem]]:
    """The document in ``text`` (None when empty) and every problem with the text itself."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return None, [_syntax_problem(exc, file)]
    if node is None:
        return None, []
    walker = _Walker(file)
    return walker.value(node), walker.problems


def _syntax_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return Problem(file, line, f"invalid YAML: {detail}")


class _Walker:
    """Turns composed nodes into LineDict / LineList / scalars, collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()
        self._active: set[int] = set()

    def value(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self._active:
            self.problem(node, "a YAML alias refers to itself; recursive data is not allowed")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node)
            return self.sequence(cast(yaml.SequenceNode, node))
        finally:
            self._active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        construct = self._constructor.yaml_constructors.get(node.tag)
        if construct is None:
            self.problem(node, f"unsupported YAML tag {node.tag!r}; remove it")
            return None
        try:
            return construct(self._constructor, node)
        except (yaml.YAMLError, ValueError) as exc:
            self.problem(node, f"cannot read {node.value!r}: {exc}")
            return None

    def sequence(self, node: yaml.SequenceNode) -> LineList:
        result = LineList((self.value(item) for item in node.value), node.start_mark.line + 1)
        result.item_lines = [item.start_mark.line + 1 for item in node.value]
        return result

    def mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict(line=node.start_mark.line + 1)
        lines = result.key_lines
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "mapping keys must be plain strings")
                continue
            key = key_node.value
            if key in lines:
                self.problem(
                    key_node, f"duplicate key {key!r} (first written at line {lines[key]})"
                )
                continue
            if value_node.tag == _STR and isinstance(value_node, yaml.ScalarNode):
                result[key] = value_node.value  # the common case, without a call
            else:
                result[key] = self.value(value_node)
            lines[key] = key_node.start_mark.line + 1
        for source in merged:
            self.merge(result, source)
        return result

    def merge(self, target: LineDict, source: yaml.Node) -> None:
        """``<<: *base`` — keys from ``source`` that ``target`` does not set itself."""
        sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
        for item in sources:
            value = self.value(item)
            if not isinstance(value, LineDict):
                self.problem(item, "'<<' merges mappings only")
                continue
            for key, sub in value.items():
                if key not in target:
                    target[key] = sub
                    target.key_lines[key] = value.line_of(key)

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, message))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a candidate is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Problems:
    """Problems found in one file (``at`` switches file, sharing the same list)."""

    def __init__(self, file: str, found: list[Problem] | None = None) -> None:
        self.file = file
        self.found: list[Problem] = [] if found is None else found

    def add(self, line: int, message: str) -> None:
        """A problem at ``line`` (0: about the whole file)."""
        self.found.append(Problem(self.file, max(line, 0), message))

    def at(self, file: str | None) -> Problems:
        return self if file is None or file == self.file else Problems(file, self.found)


class Fields:
    """Typed reads of one mapping's values; every mistake becomes a Problem at its line.

    ``what`` prefixes messages (``task 'extract': …``). A value that is wrong is reported
    and the default is returned, so that checking goes on and finds every problem at once.
    """

    def __init__(self, mapping: LineDict, problems: Problems, what: str = "") -> None:
        self.mapping = mapping
        self.problems = problems.at(mapping.file)
        self.prefix = f"{what}: " if what else ""

    def has(self, key: str) -> bool:
        return key in self.mapping

    def line(self, key: str | None = None) -> int:
        return self.mapping.line if key is None else self.mapping.line_of(key)

    def problem(self, key: str | None, message: str) -> None:
        self.problems.add(self.line(key), self.prefix + message)

    def unknown_keys(self, allowed: Collection[str], shown: Collection[str] = ()) -> None:
        """Reports keys not in ``allowed``; hints name only ``shown`` (default: all allowed)."""
        for key in self.mapping:
            if key not in allowed:
                names = sorted(shown or allowed)
                hint = did_you_mean(key, names) or "; allowed: " + ", ".join(names)
                self.problem(key, f"unknown key {key!r}{hint}")

    def text(self, key: str, default: str | None = None) -> str | None:
        if key not in self.mapping:
            return default
        value = self.mapping[key]
        if isinstance(value, str) and value.strip():
            return value
        self.problem(key, f"{key} must be a non-empty string, got {_show(value)}")
        return default

    def integer(self, key: str, default: Any, minimum: int | None = None) -> Any:
        if key not in self.mapping:
            return default
        value = self.mapping[key]
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if is_int and (minimum is None or value >= minimum):
            return value
        wanted = {None: "a whole number", 0: "a whole number 0 or more"}.get(
            minimum, f"a whole number {minimum} or more"
        )
        self.problem(key, f"{key} must be {wanted}, got {_show(value)}")
        return default

    def number(self, key: str, default: float, minimum: float) -> float:
        value = self.mapping.get(key, default)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum:
            return float(value)
        self.problem(key, f"{key} must be a number {minimum:g} or more, got {_show(value)}")
        return default

    def duration(self, key: str, default: Any, positive: bool = False) -> Any:
        if key not in self.mapping:
            return default
        try:
            seconds = _seconds(self.mapping[key])
        except ValueError as exc:
            self.problem(key, f"{key}: {exc}")
            return default
        if positive and seconds <= 0:
            self.problem(key, f"{key} must be more than zero, got {_show(self.mapping[key])}")
            return default
        return seconds

    def choice(self, key: str, allowed: Sequence[str], default: str) -> str:
        value = self.mapping.get(key, default)
        if isinstance(value, str) and value in allowed:
            return value
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        self.problem(key, f"{key} must be one of {', '.join(allowed)}, got {_show(value)}{hint}")
        return default

    def names(self, key: str) -> tuple[str, ...]:
        """A string or a list of strings, as a tuple without repeats."""
        value = self.mapping.get(key, ())
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list | tuple) and all(isinstance(i, str) and i for i in items):
            return tuple(dict.fromkeys(items))
        self.problem(key, f"{key} must be a name or a list of names, got {_show(value)}")
        return ()

    def mapping_of(self, key: str) -> LineDict | None:
        """The mapping under ``key`` (with lines), or None when absent, empty or wrong."""
        if self.mapping.get(key) is None:  # absent, or written empty (``params:``)
            return None
        value = located(self.mapping[key], self.line(key))
        if isinstance(value, LineDict):
            return value
        self.problem(key, f"{key} must be a mapping (key: value), got {_show(value)}")
        return None

    def json_mapping(self, key: str) -> dict[str, Any]:
        """A mapping of JSON values (params, filters), as a plain dict."""
        value = self.mapping_of(key)
        if value is None:
            return {}
        bad = _non_json(value)
        if bad is not None:
            self.problem(key, f"{key} must hold JSON values only; {bad}")
        return dict(to_plain(value))


@functools.lru_cache(maxsize=1024)
def _seconds_in(text: str) -> float:
    return parse_duration(text)


def _seconds(value: Any) -> float:
    """parse_duration, memoised for text: a large workflow repeats the same few durations."""
    return _seconds_in(value) if isinstance(value, str) else parse_duration(value)


def _non_json(value: Any) -> str | None:
    """A description of the first value JSON cannot hold, or None."""
    if value is None or isinstance(value, str | int | float | bool):
        return None
    if isinstance(value, Mapping):
        return next(filter(None, (_non_json(item) for item in value.values())), None)
    if isinstance(value, list | tuple):
        return next(filter(None, (_non_json(item) for item in value)), None)
    return f"{value!r} is a {type(value).__name__}; quote it to make it a string"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, LineDict | LineList):
        text = repr(to_plain(value))
    return text if len(text) <= 60 else text[:57] + "..."
