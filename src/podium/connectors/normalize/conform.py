"""Reading a page's records straight from its bytes when they hold nothing new.

Parsing a page into Python values, noting its shape (``shape.Observer``) and writing the
records out again for DuckDB costs the reading thread most of a load's time, yet after the
first pages of a stream nearly every page is like the ones before it. ``Conformer`` turns
the load's shape so far into a msgspec type that accepts exactly the values the shape
already describes: objects with no field it has not seen (``forbid_unknown_fields``), each
field one of the kinds seen there, lists whose elements are. A page that decodes with that
type adds nothing to the shape, so it goes to the spool at once, written back as JSON lines
with the same fields and values: a field absent in the source stays absent (``UNSET``), an
explicit ``null`` stays ``null``. A page that does not (a new field, a new type, a
malformed body) is parsed and observed as before, and the type is rebuilt from the grown
shape.

Two liberties, neither of which changes what DuckDB is told: a ``null`` is accepted where
only other kinds were seen (a null adds no column type), and a JSON integer where only
numbers with a fraction were seen (both are ``DOUBLE``; the value is written as a float).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Annotated, Any, Union

import msgspec

from podium.connectors.normalize.shape import Observer, Shape

# Past this many pages the shape could not take, with fewer than half taken, a stream's
# pages change too often for the fast path to pay: the next _SKIP pages are parsed
# directly, then the fast path is tried again (the shape may have settled by then).
_TRY_AT_LEAST = 8
_SKIP = 16
_EMPTY_LIST = Annotated[list[Any], msgspec.Meta(max_length=0)]
_SCALARS: dict[type, Any] = {bool: bool, int: int, float: float, str: str}


class Conformer:
    """Decodes pages whose records conform to ``observer``'s shape; kept by the reading
    thread beside the observer."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer
        self._built_for: tuple[int, tuple[str, ...]] | None = None
        self._decoder: msgspec.json.Decoder[Any] | None = None
        self._encoder = msgspec.json.Encoder()
        self.taken = 0
        self.missed = 0
        self._skip = 0

    def decode(self, content: bytes, path: Sequence[str]) -> list[Any] | None:
        """The records at ``path`` in ``content`` if every one of them fits the shape;
        None when one does not, or the body is not what the shape expects."""
        if self._skip:
            self._skip -= 1
            return None
        decoder = self._decoder_for(tuple(path))
        if decoder is None:
            return None
        try:
            records = decoder.decode(content)
        except (msgspec.ValidationError, msgspec.DecodeError):
            self.missed += 1
            if self.missed > _TRY_AT_LEAST and self.missed > self.taken:
                self._skip = _SKIP
            return None
        for _ in path:
            records = getattr(records, _field(0))  # each envelope has that one field
        self.taken += 1
        return list(records)

    def encode_lines(self, records: list[Any]) -> bytes:
        """The records as JSON lines (each line ends with a newline)."""
        return self._encoder.encode_lines(records)

    def _decoder_for(self, path: tuple[str, ...]) -> msgspec.json.Decoder[Any] | None:
        version = (self.observer.version, path)
        if self._built_for != version:
            self._built_for = version
            self._decoder = _build(self.observer.shape, path)
        return self._decoder


def _build(shape: Shape, path: tuple[str, ...]) -> msgspec.json.Decoder[Any] | None:
    """A decoder for ``{path: [record, …]}`` whose records fit ``shape``, or None when the
    shape has no fields yet or msgspec cannot express it."""
    if not shape.fields:
        return None
    names = (f"Record{n}" for n in itertools.count())
    try:
        record = _struct(shape, names)
        body: Any = list[record]  # type: ignore[valid-type]
        for key in reversed(path):
            # the envelope: other fields are ignored, the records must be there
            body = msgspec.defstruct(next(names), [(_field(0), body)], rename={_field(0): key})
        return msgspec.json.Decoder(body)
    except (TypeError, ValueError):
        return None


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
