"""The ``counter`` source type: ``rows`` generated records, read incrementally.

    connections:
      numbers:
        type: counter
        rows: 25            # how many records there are (ids 1..rows)
        page_size: 10       # records per page (default 100)
        stream: numbers     # the stream's (and the table's) name (default numbers)

Each record is ``{id, square, label}``; the stream's cursor is ``id``, so a second load
reads from the last id loaded (the boundary again: merged on the primary key, not doubled).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from podium.connectors.source import JsonPage, Page, Stream, StreamState, WriteMode
from podium.settings.describe import Option, Settings


class CounterSource:
    def __init__(self, name: str, rows: int, page_size: int, stream: str) -> None:
        self.name, self.rows, self.page_size = name, rows, page_size
        self._stream = Stream(stream, primary_key=("id",), cursor="id", write_mode=WriteMode.MERGE)

    def streams(self) -> Sequence[Stream]:
        return [self._stream]

    def read(self, stream: Stream, state: StreamState, *, full_refresh: bool) -> Iterator[Page]:
        first = 1 if full_refresh or state.cursor is None else int(state.cursor)
        for start in range(first, self.rows + 1, self.page_size):
            ids = range(start, min(start + self.page_size, self.rows + 1))
            records = [{"id": i, "square": i * i, "label": f"n{i}"} for i in ids]
            yield JsonPage(records, f"counter:{self.name}?from={start}")

    def close(self) -> None:
        pass


class CounterType:
    """What podium asks of a source type (``podium.connectors.registry.SourcePlugin``)."""

    settings = Settings(
        (
            Option("rows", {"type": "integer", "minimum": 0}, "how many records", required=True),
            Option("page_size", {"type": "integer", "minimum": 1}, "records per page"),
            Option("stream", {"type": "string", "minLength": 1}, "the stream's name"),
        ),
        doc="Generated records, for trying podium out.",
    )

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        return self.settings.problems(settings)

    def open(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        root: Path,
        secrets: frozenset[str],
        logger: Any = None,
    ) -> CounterSource:
        return CounterSource(
            name,
            int(settings["rows"]),
            int(settings.get("page_size", 100)),
            str(settings.get("stream", "numbers")),
        )


SOURCE = CounterType()
