"""The ``files`` source: CSV, JSON lines, JSON and Parquet files dropped in a folder.

    connections:
      retailers:
        type: files
        path: inbox/retailers            # relative to the project
        streams:
          sell_through:
            pattern: "sell_through_*.csv"  # glob inside path (default: *.<format>)
            format: csv                    # csv | jsonl | json | parquet (default: by extension)
            primary_key: [store_id, sku, week]
            write_mode: merge

Each file loads once: the stream's state keeps every loaded file's name and SHA-256, saved
with the rows it produced, so a file is read again only when its content changes. A file
that cannot be parsed is quarantined whole with the reason and the other files still load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from podium.connectors.source import FilePage, Page, Stream, StreamState, UnreadablePage
from podium.connectors.sources.options import STREAM_OPTIONS, read_stream
from podium.settings.describe import Option, Settings

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}
STREAM_SETTINGS = Settings(
    (
        *STREAM_OPTIONS.options,
        Option("pattern", {"type": "string"}, "a glob inside path (default: *.<format>)"),
        Option("format", {"type": "string", "enum": sorted(set(FORMATS.values()))},
               "csv, jsonl, json or parquet (default: by the file's extension)"),
    ),
    doc="One stream of a files connection: the files that match a pattern.",
)  # fmt: skip
SETTINGS = Settings(
    (
        Option("type", {"const": "files"}, "files dropped in a folder", required=True),
        Option("path", {"type": "string", "minLength": 1},
               "the folder files are dropped in, relative to the project", required=True),
        Option("streams", {"type": "object", "minProperties": 1,
                           "additionalProperties": STREAM_SETTINGS.json_schema()},
               "each stream by name", required=True),
    ),
    doc="A files connection: CSV, JSON lines, JSON and Parquet files dropped in a folder.",
)  # fmt: skip
_KEYS = SETTINGS.names
_STREAM_KEYS = STREAM_SETTINGS.names


def files_problems(settings: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    _read(settings, Path("."), problems)
    return problems


class FilesSource:
    def __init__(
        self,
        folder: Path,
        streams: Sequence[Stream],
        patterns: Mapping[str, tuple[str, str | None]],
    ) -> None:
        self.folder, self._streams, self._patterns = folder, list(streams), patterns

    def streams(self) -> Sequence[Stream]:
        return self._streams

    def read(self, stream: Stream, state: StreamState, *, full_refresh: bool) -> Iterator[Page]:
        pattern, fmt = self._patterns[stream.name]
        loaded: dict[str, str] = dict(state.extra.get("files") or {})
        for path in sorted(self.folder.glob(pattern)):
            if not path.is_file():
                continue
            name = str(path.relative_to(self.folder))
            checksum = _sha256(path)
            if loaded.get(name) == checksum and not full_refresh:
                continue
            kind = fmt or FORMATS.get(path.suffix.lower())
            if kind is None:
                yield UnreadablePage(name, f"unknown file type {path.suffix!r}; set format:")
            else:
                yield FilePage(path, kind, name)
            loaded[name] = checksum
            state.extra["files"] = dict(loaded)

    def close(self) -> None:
        pass


def open_files_source(
    name: str, settings: Mapping[str, Any], *, root: Path, **_: Any
) -> FilesSource:
    problems: list[str] = []
    source = _read(settings, root, problems)
    if problems:
        from podium.errors import UsageError

        raise UsageError(f"connection {name!r}: " + "; ".join(problems))
    return source


def _read(settings: Mapping[str, Any], root: Path, problems: list[str]) -> FilesSource:
    for key in settings:
        if key not in _KEYS:
            problems.append(f"{key}: unknown setting; expected one of {', '.join(_KEYS)}")
    folder = settings.get("path")
    if not isinstance(folder, str) or not folder:
        problems.append("path: the folder files are dropped in is required")
        folder = "."
    streams: list[Stream] = []
    patterns: dict[str, tuple[str, str | None]] = {}
    items = settings.get("streams")
    if not isinstance(items, Mapping) or not items:
        problems.append("streams: name at least one stream (streams: {sales: {pattern: '*.csv'}})")
        items = {}
    for stream_name, options in items.items():
        where = f"streams.{stream_name}"
        if not isinstance(options, Mapping):
            problems.append(f"{where}: expected a mapping of options")
            continue
        for key in options:
            if key not in _STREAM_KEYS:
                problems.append(f"{where}.{key}: unknown option")
        fmt = options.get("format")
        if fmt is not None and fmt not in FORMATS.values():
            problems.append(f"{where}.format: expected one of csv, jsonl, json, parquet")
            fmt = None
        pattern = options.get("pattern") or (f"*.{fmt}" if fmt else "*")
        streams.append(read_stream(str(stream_name), options, where, problems))
        patterns[str(stream_name)] = (str(pattern), fmt)
    return FilesSource((root / folder).resolve(), streams, patterns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
