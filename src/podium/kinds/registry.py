"""Which task kinds exist: podium's own, and those plugins add by entry point.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."podium.kinds"]
    notebook = "podium_notebook:KIND"

and the object it names satisfies ``podium.kinds.base.Kind``. Built-in names cannot be
taken over; a plugin that fails to load is reported by ``podium validate`` as a problem of
the task that uses it (an ``Unloadable`` stands in for it; ``plugin_problems`` lists it),
not as a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from podium import plugins
from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError
from podium.kinds.base import Job, Kind, ProjectView, TaskContext, TaskResult
from podium.settings.describe import Settings

GROUP = "podium.kinds"
_BUILT_IN = (
    "run", "shell", "workflow", "extract", "transform", "model", "check", "http", "sync",
    "dbt", "dbt_node",
)  # fmt: skip
#: kinds podium will have: a task naming one is told it is not available in this version
LATER: dict[str, str] = {}


@lru_cache(maxsize=1)
def _kinds() -> tuple[dict[str, Kind], dict[str, str]]:
    found: dict[str, Kind] = {}
    for name in _BUILT_IN:
        found[name] = importlib.import_module(f"podium.kinds.{name}").KIND
    loaded = installed()
    found.update(loaded.found)
    for name, problem in loaded.broken.items():
        found[name] = Unloadable(name, problem)
    return found, {**loaded.broken, **loaded.refused}


_NEEDS = ("name", "target", "options", "check_target", "check", "prepare", "run")


def installed() -> plugins.Plugins:
    """The plugin kinds installed: found, broken and refused."""
    return plugins.load_plugins(GROUP, _BUILT_IN, "kind", _NEEDS)


class Unloadable:
    """Stands in for a plugin kind that cannot be loaded: a task naming it is told why at
    its line (``check_target``), and an attempt of it fails for good."""

    target = "the task of a plugin"
    options = Settings(doc="A task kind whose plugin cannot be loaded.")

    def __init__(self, name: str, problem: str) -> None:
        self.name, self.problem = name, problem

    def check_target(self, target: str) -> str | None:
        return self.problem

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        return self.problem

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return None

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        raise TerminalTaskError(self.problem)


def kind_of(name: str) -> Kind:
    """The kind called ``name``; KeyError when there is none."""
    return _kinds()[0][name]


def has_kind(name: str) -> bool:
    return name in _kinds()[0]


def all_kinds() -> Iterator[Kind]:
    yield from _kinds()[0].values()


def written_kinds() -> list[Kind]:
    """The kinds a workflow file may name (not those made by expanding another)."""
    return [k for k in _kinds()[0].values() if not getattr(k, "internal", False)]


def plugin_problems() -> dict[str, str]:
    """Kind name → why its plugin could not be loaded."""
    return dict(_kinds()[1])


_generation = [0]


def generation() -> int:
    """Changes each time the kinds are read again: a key for what is computed from them."""
    return _generation[0]


def forget() -> None:
    """Reads the entry points again (after a plugin was installed in this process)."""
    _kinds.cache_clear()
    _generation[0] += 1


plugins.on_forget(forget)
