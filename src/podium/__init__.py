"""podium: event-driven data orchestration for consumer brands.

The public Python API. Everything else lives in submodules and may change between
versions; the names in ``__all__`` are the ones podium keeps stable.
"""

from __future__ import annotations

from podium.api import (
    TaskOptions,
    Workflow,
    after_workflow,
    on_asset,
    on_event,
    on_webhook,
    schedule,
)
from podium.core.context import Context
from podium.errors import (
    PodiumError,
    Problem,
    ProjectError,
    TaskError,
    TerminalTaskError,
    TransientTaskError,
    UsageError,
)
from podium.project import init_project, load_project
from podium.project.specs import TriggerSpec
from podium.version import __version__

__all__ = [
    "Context",
    "PodiumError",
    "Problem",
    "ProjectError",
    "TaskError",
    "TaskOptions",
    "TerminalTaskError",
    "TransientTaskError",
    "TriggerSpec",
    "UsageError",
    "Workflow",
    "__version__",
    "after_workflow",
    "init_project",
    "load_project",
    "on_asset",
    "on_event",
    "on_webhook",
    "schedule",
]
