"""The spool: where the reading thread leaves a stream's JSON records for staging.

``Staging.spool`` (on the reading thread) appends each page's object records to the open
spool file and hands the main thread a ``SpooledPage``; ``SpoolFiles`` starts a new file
once one holds a batch, so every file staging reads is complete and a batch is one file.
Pages that are not JSON records pass through as ``OtherPage``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from podium.connectors.normalize.shape import Shape
from podium.connectors.source import FilePage, UnreadablePage


@dataclass
class SpooledPage:
    """A JSON page as ``Staging.spool`` left it: its object records in ``path`` (None when it
    had none), the rest to quarantine (reason, JSON text), its deletions, and when."""

    path: Path | None
    records: int  # every record the page held, objects or not
    location: str
    deleted: Sequence[Mapping[str, Any]]
    rejects: list[tuple[str, str]]
    spooled_at: datetime
    shape: Shape | None = None  # the load's shape so far, when it changed with this page
    objects: int = 0  # records written to ``path`` (the object records)
    ends_batch: bool = False  # ``path`` is complete and holds a batch: stage it now
    # with ``ends_batch``: ``path`` being read into a table (its name; None if DuckDB could
    # not read it with the shape), by the batch reader's thread
    read_ahead: Future[str | None] | None = None


@dataclass(frozen=True)
class OtherPage:
    """A page that is not JSON records (a file, an unreadable body), as ``Staging.spool``
    passes it on."""

    page: FilePage | UnreadablePage


class SpoolFiles:
    """The spool: files of records, one per batch, written by the reading thread; each
    holds one JSON array (DuckDB reads a batch of records from an array as fast as from
    JSON lines, and a page's records can then be copied as the body holds them).
    ``write`` appends records to the open file (beginning one when none is open);
    ``rotate_after`` closes it once it holds ``size`` bytes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count()
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._size = 0

    def write(self, elements: bytes | memoryview) -> Path:
        """Appends ``elements``: one or more JSON values separated by commas."""
        if self._file is None or self._path is None:
            self._path = self.folder / f"{next(self._numbers):05d}.json"
            self._file = self._path.open("wb")
            self._file.write(b"[")
            self._size = 0
        elif self._size:
            self._file.write(b",")
        self._file.write(elements)
        self._size += len(elements) + 1
        return self._path

    def rotate_after(self, size: int) -> bool:
        """Closes the open file if it holds ``size`` bytes or more; True if it did."""
        if self._file is None or self._size < size:
            return False
        self.close()
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.write(b"]")
            self._file.close()
            self._file = None
