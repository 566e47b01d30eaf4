"""``word_count: FILE`` — counts the words of a file in the project.

    - id: words
      word_count: notes/today.txt
      top: 3                 # the most common words in the output (default 5)
      lowercase: true        # count "The" and "the" as one word (default true)

Its output is ``{"file", "words", "top": [[word, count], …]}``; the task reports the asset
``words.<file stem>`` with the count in its stats.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from podium.core.workflow import Project, Task, Workflow
from podium.errors import TerminalTaskError
from podium.kinds.base import AssetChange, Job, ProjectView, TaskContext, TaskResult
from podium.settings.describe import Option, Settings

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True)
class Counting:
    """What a worker needs, resolved once (picklable)."""

    path: str
    top: int
    lowercase: bool


class WordCountKind:
    """What podium asks of a task kind (``podium.kinds.base.Kind``)."""

    name = "word_count"
    target = "a text file in the project"
    options = Settings(
        (
            Option("top", {"type": "integer", "minimum": 0}, "how many common words to list"),
            Option("lowercase", {"type": "boolean"}, "count words regardless of case"),
        ),
        doc="A task that counts the words of a file in the project.",
    )

    def check_target(self, target: str) -> str | None:
        path = PurePosixPath(target.strip())
        if not target.strip():
            return "name a file in the project (word_count: notes.txt)"
        if path.is_absolute() or ".." in path.parts:
            return f"{target!r} must be a path inside the project, like notes/today.txt"
        return None

    def check(self, task: Task, workflow: Workflow, view: ProjectView) -> str | None:
        if not (Path(view.root) / task.target).is_file():
            return f"there is no file {task.target!r} in the project; create it or fix the path"
        return None

    def prepare(self, task: Task, workflow: Workflow, project: Project) -> Any:
        return Counting(
            str(Path(project.root) / task.target),
            int(task.options.get("top", 5)),
            bool(task.options.get("lowercase", True)),
        )

    def run(self, job: Job, context: TaskContext) -> TaskResult:
        counting = job.prepared
        try:
            text = Path(counting.path).read_text(errors="replace")
        except FileNotFoundError:
            raise TerminalTaskError(f"no file {job.target!r} in the project any more") from None
        words = _WORD.findall(text.lower() if counting.lowercase else text)
        context.log.info("%s: %d words", job.target, len(words))
        common = Counter(words).most_common(counting.top)
        asset = f"words.{PurePosixPath(job.target).stem}"
        return TaskResult(
            output={"file": job.target, "words": len(words), "top": [list(c) for c in common]},
            assets=(AssetChange(asset, {"words": len(words)}),),
        )


KIND = WordCountKind()
