"""A sync writer wrapper for tests: it keeps every outcome its writer answered."""

from __future__ import annotations

from collections.abc import Sequence

from podium.syncs import Change, Outcome
from podium.syncs.destination import Writer


class Recorded:
    """A writer that keeps every outcome it answered, for the test to read."""

    def __init__(self, writer: Writer) -> None:
        self.writer, self.batch_size = writer, writer.batch_size
        self.outcomes: list[Outcome] = []

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        sent = self.writer.send(changes)
        self.outcomes += sent
        return sent

    def close(self) -> None:
        self.writer.close()
