"""The ``jsonl`` destination type: a sync's changes appended to a JSON-lines file.

    connections:
      outbox: {type: jsonl, path: out/changes.jsonl}   # relative to the project
    syncs:
      people_out:
        from: marts.people
        to: outbox
        object: lines
        key: id
        mode: mirror
        fields: {email: email}

Each change is one line ``{"op", "key", "values"}``; a removal is a line too. A record whose
``email`` has no ``@`` is refused, to show a rejection coming back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from podium.settings.describe import Option, Settings
from podium.syncs import Change, Mode, Op, Outcome
from podium.syncs.destination import DestinationObject, SyncTarget, WriterEnv

SETTINGS = Settings(
    (Option("path", {"type": "string", "minLength": 1}, "the file appended to", required=True),),
    doc="A jsonl connection: path is needed.",
)


class JsonlWriter:
    batch_size = 50

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        outcomes = []
        with self.path.open("a", encoding="utf-8") as out:
            for change in changes:
                email = change.values.get("email")
                if change.op is not Op.REMOVE and email is not None and "@" not in str(email):
                    outcomes.append(Outcome(change.key, change.op, change.hash, False,
                                            f"email {email!r} has no @"))  # fmt: skip
                    continue
                line = {"op": str(change.op), "key": change.key, "values": dict(change.values)}
                out.write(json.dumps(line, default=str) + "\n")
                outcomes.append(Outcome(change.key, change.op, change.hash, True,
                                        remote_id=f"line:{change.key}"))  # fmt: skip
        return outcomes

    def close(self) -> None:
        pass


class JsonlDestination:
    settings = SETTINGS
    objects: Mapping[str, DestinationObject] = {
        "lines": DestinationObject(
            "lines", "each change as a JSON line", frozenset(Mode), Settings(doc="no options")
        )
    }

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        return SETTINGS.problems(settings)

    def open(
        self, connection: str, settings: Mapping[str, Any], target: SyncTarget, env: WriterEnv
    ) -> JsonlWriter:
        return JsonlWriter(Path(str(settings["path"])))


DESTINATION = JsonlDestination()
