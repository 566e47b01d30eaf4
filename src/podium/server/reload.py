"""``podium up`` picks up changed workflow files without a restart.

The engine calls a ``WorkflowWatch`` at each housekeeping, before its transaction. The
watch looks at the files of ``workflows/`` (name, size, modification time: no file is read
while nothing changed); when they changed, it loads the whole project again, as ``podium
validate`` does. A project that loads replaces the running one's workflows, models,
checks, pools, connections and syncs (the store, the engine's and the server's settings
need a restart, and so do the notifiers and outgoing webhooks, set up at start); the
engine rebuilds what it derived from them (graphs, jobs, triggers, deadlines). A project with problems
is not taken: the last good version keeps running, and each problem is told with its
file:line (on stderr, and to the builder: ``reload_problems``) until the files are fixed.

Runs under way go on with the new definition of their workflow: a task added to it is
added to them, a task removed is no longer started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from podium.core.workflow import Project
from podium.errors import PodiumError, ProjectError
from podium.project import WORKFLOWS_DIR, load_project

#: what a reload takes from the new project; the rest needs a restart
RELOADED = ("pools", "workflows", "connections", "models", "checks", "syncs", "secrets",
            "notifications")  # fmt: skip
_PROBLEMS: dict[str, list[str]] = {}  # project root → why its last reload was refused
_WATCHED = (".yaml", ".yml", ".py")


def reload_problems(root: str) -> list[str]:
    """Why the workflow files of the project at ``root`` were not reloaded ([]: they were)."""
    return list(_PROBLEMS.get(str(Path(root).resolve()), []))


class WorkflowWatch:
    """Called by the engine at housekeeping: the project when its workflow files changed
    and it was reloaded into the running ``project`` object, else None."""

    def __init__(
        self,
        project: Project,
        tell: Callable[[str, bool], None],
        *,
        every: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project, self.tell = project, tell
        self.root = Path(project.root).resolve()
        self.every, self.monotonic = every, monotonic
        self._seen = self._fingerprint()
        self._looked = monotonic()

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        folder = self.root / WORKFLOWS_DIR
        if not folder.is_dir():
            return ()
        found = []
        for path in sorted(folder.iterdir()):
            if path.suffix in _WATCHED and path.is_file():
                stat = path.stat()
                found.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(found)

    def __call__(self) -> Project | None:
        now = self.monotonic()
        if now - self._looked < self.every:
            return None
        self._looked = now
        seen = self._fingerprint()
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            fresh = load_project(self.root)
        except ProjectError as exc:
            lines = [str(p) for p in exc.problems]
            _PROBLEMS[str(self.root)] = lines
            self.tell(
                "podium up: the workflow files changed but have problems; the last good"
                " version runs on until they are fixed:\n  " + "\n  ".join(lines),
                True,
            )
            return None
        except PodiumError as exc:
            _PROBLEMS[str(self.root)] = [str(exc)]
            self.tell(f"podium up: the workflow files changed but cannot be loaded: {exc}", True)
            return None
        _PROBLEMS.pop(str(self.root), None)
        before = set(self.project.workflows)
        adopt(self.project, fresh)
        after = set(self.project.workflows)
        added, removed = sorted(after - before), sorted(before - after)
        parts = [f"{len(after)} workflow{'s' if len(after) != 1 else ''}"]
        parts += [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        self.tell(f"podium up: workflow files changed; reloaded ({'; '.join(parts)})", False)
        return self.project


def adopt(live: Project, fresh: Project) -> None:
    """Puts ``fresh``'s reloadable parts into ``live``, the object the engine, the API and
    the UI all hold (it is frozen for everyone else: only a reload changes it)."""
    names = {f.name for f in fields(Project)}
    for name in RELOADED:
        if name in names:
            object.__setattr__(live, name, getattr(fresh, name))
