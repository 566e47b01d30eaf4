"""What the Python API records, as the project loader reads it.

``podium.Workflow`` (in ``podium.api``, a layer above this package) records each trigger
and task as the mapping a YAML item would be, with the file and line of the call that made
it. The loader recognises a builder by ``WorkflowBuilder`` and never imports the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class TriggerSpec:
    """A trigger as a YAML item would write it (``{"schedule": …}``), and where it was made."""

    spec: Mapping[str, Any]
    file: str
    line: int


@dataclass(frozen=True)
class TaskSpec:
    """A task as a YAML item would write it (``{"id": …, "run": …}``), and where it was made."""

    spec: Mapping[str, Any]
    file: str
    line: int
    func: Callable[..., Any] | None = field(default=None, compare=False)


class WorkflowBuilder(Protocol):
    """A workflow written in code: its settings, triggers and tasks as recorded."""

    @property
    def name(self) -> Any: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...
    @property
    def triggers(self) -> Sequence[TriggerSpec | Mapping[str, Any]]: ...
    @property
    def tasks(self) -> Sequence[TaskSpec]: ...


def is_builder(value: Any) -> bool:
    return getattr(type(value), "podium_workflow_builder", False) is True
