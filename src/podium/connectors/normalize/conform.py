"""Reading a page's records straight from its bytes when they hold nothing new.

Parsing a page into Python values, noting its shape (``shape.Observer``) and writing the
records out again for DuckDB costs the reading thread most of a load's time, yet after the
first pages of a stream nearly every page is like the ones before it. ``Conformer`` turns
the load's shape so far into a msgspec type that accepts exactly the values the shape
already describes: objects with no field it has not seen (``forbid_unknown_fields``), each
field one of the kinds seen there, lists whose elements are. A page whose records decode
with that type adds nothing to the shape, so its records go to the spool at once, as the
very bytes the body holds them in (``Conforming.elements``: the records array without its
brackets, found by a first pass that keeps the array as ``msgspec.Raw``); nothing is
encoded again. A page that does not (a new field, a new type, a malformed body) is parsed
and observed as before, and the type is rebuilt from the grown shape.

Sources that build their records in Python (``JsonPage``) get the same test without bytes
(``fits``): ``msgspec.convert`` of the page's records to that type, in C, about half what
``Observer.observe`` costs per record; a page that fits is not observed (it would add
nothing), only encoded for the spool.

Two liberties, neither of which changes what DuckDB is told: a ``null`` is accepted where
only other kinds were seen (a null adds no column type), and a JSON integer where only
numbers with a fraction were seen (both are ``DOUBLE``). ``fits`` takes two more, which
change nothing in the JSON the spool holds: an enum member where its value's kind was seen
(``IntEnum`` as int, ``StrEnum`` as text) and a tuple where lists were seen, as orjson
encodes them so. Other subclasses of JSON's types (a ``str`` or ``dict`` subclass) are
refused by the encoding that follows (``ENCODE_EXACT``), so they are observed as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union

import msgspec
import orjson

from podium.connectors.normalize.shape import Observer, Shape

# Past this many pages the shape could not take, with fewer than half taken, a stream's
# pages change too often for the fast path to pay: the next _SKIP pages are parsed
# directly, then the fast path is tried again (the shape may have settled by then).
_TRY_AT_LEAST = 8
_SKIP = 16
_EMPTY_LIST = Annotated[list[Any], msgspec.Meta(max_length=0)]
_SCALARS: dict[type, Any] = {bool: bool, int: int, float: float, str: str}
# ``orjson.dumps`` options for a page ``fits`` took: a subclass of a JSON type (which the
# observer would note as a kind of its own), a date or a dataclass raises ``TypeError``
ENCODE_EXACT = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


@dataclass(frozen=True)
class Conforming:
    """A page's records that fit the shape: how many, and their bytes as the body has them
    (JSON values separated by commas: the records array without its brackets)."""

    count: int
    elements: memoryview


class Conformer:
    """Reads pages whose records conform to ``observer``'s shape; kept by the reading
    thread beside the observer."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer
        self._built_for: tuple[int, tuple[str, ...]] | None = None
        self._decoder: msgspec.json.Decoder[Any] | None = None
        self._type_for = -1
        self._type: Any = None
        self._arrays: dict[tuple[str, ...], msgspec.json.Decoder[Any]] = {}
        self.taken = 0
        self.missed = 0
        self._skip = 0

    def read(self, content: bytes, path: Sequence[str]) -> Conforming | None:
        """The records at ``path`` in ``content`` if every one of them fits the shape;
        None when one does not, or the body is not what the shape expects."""
        if self._skip:
            self._skip -= 1
            return None
        path = tuple(path)
        decoder = self._decoder_for(path)
        if decoder is None:
            return None
        try:
            array = self._array(content, path)
            count = len(decoder.decode(array))
        except (msgspec.ValidationError, msgspec.DecodeError):
            self._missed()
            return None
        self.taken += 1
        return Conforming(count, memoryview(array)[1:-1])

    def fits(self, records: Sequence[dict[str, Any]]) -> bool:
        """True if every one of ``records`` (parsed objects) fits the shape, so observing
        them would add nothing; False when one does not, or the fast path is paused."""
        if self._skip:
            self._skip -= 1
            return False
        version = self.observer.version
        if self._type_for != version:
            self._type_for = version
            self._type = _list_type(self.observer.shape)
        if self._type is None:
            return False
        try:
            msgspec.convert(records, self._type)
        except msgspec.ValidationError:
            self._missed()
            return False
        self.taken += 1
        return True

    def _missed(self) -> None:
        self.missed += 1
        if self.missed > _TRY_AT_LEAST and self.missed > self.taken:
            self._skip = _SKIP

    def _array(self, content: bytes, path: tuple[str, ...]) -> Any:
        """The bytes of the list at ``path``, brackets included (``DecodeError`` when the
        body is not JSON or has no list there)."""
        if not path:
            array = content.strip()
        else:
            if path not in self._arrays:
                self._arrays[path] = msgspec.json.Decoder(_envelope(msgspec.Raw, path))
            envelope = self._arrays[path].decode(content)
            for _ in path:
                envelope = getattr(envelope, _field(0))
            array = envelope
        if bytes(memoryview(array)[:1]) != b"[":
            raise msgspec.ValidationError("the records are not a list")
        return array

    def _decoder_for(self, path: tuple[str, ...]) -> msgspec.json.Decoder[Any] | None:
        version = (self.observer.version, path)
        if self._built_for != version:
            self._built_for = version
            self._decoder = _build(self.observer.shape)
        return self._decoder


def _envelope(records: Any, path: tuple[str, ...]) -> Any:
    """``{path: records}``: each level an object whose other fields are ignored."""
    body = records
    names = (f"Envelope{n}" for n in itertools.count())
    for key in reversed(path):
        body = msgspec.defstruct(next(names), [(_field(0), body)], rename={_field(0): key})
    return body


def _build(shape: Shape) -> msgspec.json.Decoder[Any] | None:
    """A decoder for a list of records that fit ``shape``, or None when the shape has no
    fields yet or msgspec cannot express it."""
    records = _list_type(shape)
    return msgspec.json.Decoder(records) if records is not None else None


def _list_type(shape: Shape) -> Any:
    """The msgspec type of a list of records that fit ``shape``, or None when the shape has
    no fields yet or msgspec cannot express it."""
    if not shape.fields:
        return None
    names = (f"Record{n}" for n in itertools.count())
    try:
        records = list[_struct(shape, names)]  # type: ignore[misc,valid-type]
        msgspec.inspect.type_info(records)  # an inexpressible union raises here
    except (TypeError, ValueError):
        return None
    return records


def _struct(shape: Shape, names: Any) -> Any:
    fields, rename = [], {}
    for index, (name, inner) in enumerate(shape.fields.items()):
        kind = _type(inner, names)
        fields.append((_field(index), Union[kind, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
        rename[_field(index)] = name
    # gc=False: decoded JSON holds no cycles, and untracked structs decode ~35% faster
    # (no garbage-collector bookkeeping for the millions a load creates)
    return msgspec.defstruct(
        next(names), fields, rename=rename, forbid_unknown_fields=True, gc=False
    )


def _type(shape: Shape, names: Any) -> Any:
    """The kinds seen at one place, as one msgspec type (None always allowed)."""
    kinds: list[Any] = [None]
    for kind in shape.kinds:
        if kind is dict:
            kinds.append(_struct(shape, names))
        elif kind is list:
            element = shape.element
            if element is None or not element.kinds - {type(None)}:
                kinds.append(_EMPTY_LIST if element is None or not element.kinds else list[None])
            else:
                kinds.append(list[_type(element, names)])  # type: ignore[misc]
        elif kind in _SCALARS:
            kinds.append(_SCALARS[kind])
        elif kind is not type(None):
            raise TypeError(f"no msgspec type for {kind.__name__}")
    return Union[tuple(kinds)]  # noqa: UP007


def _field(index: int) -> str:
    return f"f{index}"
