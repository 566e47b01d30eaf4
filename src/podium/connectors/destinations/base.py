"""The Destination protocol and the load a destination commits.

A destination answers two questions before a load (what tables and columns exist, what
state the stream committed last) and then commits one staged load in one transaction:
schema changes, rows, quarantined records, the stream's new state and the load record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from podium.connectors.normalize.contract import SchemaChange
from podium.connectors.normalize.staging import Staging

BOOKKEEPING = "_podium"  # the schema holding loads, state and quarantine


@dataclass(frozen=True)
class LoadCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    #: each loaded table's rows after the commit (the root's without its deleted rows)
    rows: Mapping[str, int] = field(default_factory=dict)


@dataclass
class StagedLoad:
    """Everything one commit needs; ``record`` becomes the row in ``_podium.loads``."""

    staging: Staging
    connection: str
    dataset: str
    changes: Sequence[SchemaChange]
    state: Mapping[str, Any]
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def load_id(self) -> str:
        return self.staging.load_id

    @property
    def stream(self) -> str:
        return self.staging.stream.name


class Destination(Protocol):
    """A warehouse podium loads into."""

    name: str  # for messages: "duckdb (.podium/warehouse.duckdb)"

    def schemas(self, dataset: str, tables: Sequence[str]) -> dict[str, dict[str, str]]:
        """Existing columns (name → podium type) of those ``tables`` that exist."""

    def read_state(self, connection: str, stream: str) -> dict[str, Any] | None: ...

    def commit(self, load: StagedLoad) -> LoadCounts: ...

    def close(self) -> None: ...
