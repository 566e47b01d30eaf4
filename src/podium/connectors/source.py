"""The Source protocol: what a connector gives the loader.

A source names its streams and, for one stream and its saved state, yields pages. The
loader owns everything after that: flattening, typing, quarantine, merging, and committing
the rows together with the new state in one warehouse transaction. A source never writes
anywhere itself, so a killed extract can never leave a cursor ahead of its data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol


class WriteMode(StrEnum):
    APPEND = "append"  # insert; with a primary key, keys already loaded are skipped
    MERGE = "merge"  # upsert on the primary key, the newest version by cursor wins
    REPLACE = "replace"  # the table becomes exactly this load's rows, atomically


class SchemaPolicy(StrEnum):
    EVOLVE = "evolve"  # new fields add columns; conflicting types widen (or go to a variant)
    FREEZE = "freeze"  # any change fails the load before anything is written
    DISCARD_ROW = "discard_row"  # records that do not fit go to quarantine


class TypeConflict(StrEnum):
    WIDEN = "widen"  # integer → bigint → decimal/double → text
    VARIANT = "variant"  # the column keeps its type; other values go to ``<col>__v_<type>``


@dataclass(frozen=True)
class Stream:
    """One table's worth of records from a source, and how to load it.

    ``cursor`` is the record field (``a.b`` for a nested one) whose largest committed value
    becomes the stream's cursor; ``lookback`` seconds (or units, for a numeric cursor) are
    subtracted from it when the next incremental read starts, and reads include the
    boundary, so late-arriving updates are read again and merged rather than missed.
    ``columns`` declares types for fields (``decimal(18,2)``, ``timestamp``, …); a value that
    does not convert goes to quarantine with the reason.
    """

    name: str
    primary_key: tuple[str, ...] = ()
    cursor: str | None = None
    write_mode: WriteMode = WriteMode.MERGE
    schema: SchemaPolicy = SchemaPolicy.EVOLVE
    type_conflict: TypeConflict = TypeConflict.WIDEN
    lookback: float = 0.0
    keep_document: bool = False
    columns: Mapping[str, str] = field(default_factory=dict)
    table: str = ""  # defaults to the stream's name

    @property
    def table_name(self) -> str:
        return self.table or self.name


@dataclass
class StreamState:
    """What a stream remembers between loads, committed with the rows it describes.

    ``cursor`` is set by the loader (the largest cursor value among committed records);
    ``extra`` belongs to the source (the files it has loaded, a report it is waiting on).
    """

    cursor: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "extra": self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> StreamState:
        data = data or {}
        return cls(cursor=data.get("cursor"), extra=dict(data.get("extra") or {}))


@dataclass(frozen=True)
class JsonPage:
    """Records (parsed JSON values, normally dicts) from one response.

    ``location`` says where they came from (``GET https://…?page_info=…``), for quarantine
    and errors, with secrets already masked. ``deleted`` holds records the source reports as
    deleted (at least the primary key); merge marks those rows ``_deleted = true``.
    """

    records: Sequence[Any]
    location: str
    deleted: Sequence[Mapping[str, Any]] = ()


class JsonBody:
    """One response's records, still as the body's bytes: the records are the list at
    ``path`` (object keys, outermost first; empty when the body is the list).

    The loader may read the records straight from ``content`` (``Staging.spool``) and then
    sets ``count``; ``records`` parses the body, with ``parse`` (which raises the source's
    own error when the records are not there), only if something asks for them.
    """

    def __init__(
        self,
        content: bytes,
        path: Sequence[str],
        location: str,
        parse: Callable[[], Sequence[Any]],
    ) -> None:
        self.content, self.path, self.location = content, tuple(path), location
        self._parse = parse
        self._records: Sequence[Any] | None = None
        self.count: int | None = None  # how many records, once someone has read them

    @property
    def records(self) -> Sequence[Any]:
        if self._records is None:
            self._records = self._parse()
            self.count = len(self._records)
        return self._records

    def record_count(self) -> int:
        return self.count if self.count is not None else len(self.records)


@dataclass(frozen=True)
class FilePage:
    """A whole file of records: ``format`` is ``csv``, ``jsonl``, ``json`` or ``parquet``."""

    path: Path
    format: str
    location: str


@dataclass(frozen=True)
class UnreadablePage:
    """Something that could not be read at all: quarantined whole, the load goes on."""

    location: str
    reason: str
    content: str = ""  # the first bytes, for whoever investigates


Page = JsonPage | JsonBody | FilePage | UnreadablePage


class Source(Protocol):
    """A connector. ``read`` yields pages lazily so memory stays flat however large the
    source; it may update ``state.extra`` as it goes, and the loader commits whatever
    state holds once every page it yielded is staged. A source whose streams spend
    budgets of their own may say how many to load at once (``parallel_streams``, an
    optional int attribute; 1 when absent), and must then read from several threads."""

    def streams(self) -> Sequence[Stream]: ...

    def read(self, stream: Stream, state: StreamState, *, full_refresh: bool) -> Iterator[Page]: ...

    def close(self) -> None: ...


def misconfigured(name: str, problems: Sequence[str], secrets: Iterable[str]) -> Exception:
    """The error an opener raises when a connection's settings have ``problems``."""
    from podium.core.masking import Masker
    from podium.errors import TerminalTaskError

    return TerminalTaskError(
        Masker(secrets)(
            f"connection {name!r} is misconfigured: {'; '.join(problems)}; "
            "fix podium.yaml (podium validate lists every problem)"
        )
    )
