"""The workflow builder's API: what the web UI's canvas reads and how it saves.

    GET  /api/builder/schema      the kinds (each one's settings, described once by the
                                  kind: ``options.json_schema()``), task options, triggers
    GET  /api/builder/pickers     the project's connections and streams, models and
                                  selections, checks, syncs, pools and workflows
    GET  /api/builder/files       the YAML workflow files
    GET  /api/builder/files/NAME  one file (``daily`` or ``daily.yaml``): its text, its
                                  data and its fingerprint
    POST /api/builder/validate    ``podium validate``'s problems with the edited file,
                                  each placed on its task (or trigger) and key
    POST /api/builder/diff        what saving would change, as a unified diff
    POST /api/builder/next-times  a schedule's next five times in its time zone
    POST /api/builder/save        writes the file (operators and admins)
    GET  /api/builder/saves       who saved which file when

A save names the fingerprint of the file as it was opened (``sha256``; none for a new
file): when the file changed on disk since, the save is refused (409) and nothing is
written. A file with problems is not saved (400, the problems listed); problems of other
files (podium.yaml, another workflow) are shown but do not stop it. Each save is
recorded in the store (``workflow_saves``). The file is written in place of the old one
in one rename; ``podium up`` picks it up at its next housekeeping (``podium.server.reload``).
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Body, Depends, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from podium import clock
from podium.core.cron import Cron, CronError
from podium.core.workflow import Project
from podium.errors import ConflictError, Problem, ProjectError, UsageError
from podium.kinds.registry import written_kinds
from podium.project import WORKFLOWS_DIR, load_project
from podium.project.workflow_edit import apply_changes, digest, locate, read_document
from podium.project.workflow_grammar import TASK, TASK_OPTIONS, TRIGGERS, WORKFLOW
from podium.server import auth
from podium.server.auth import Principal
from podium.server.openapi import guarded
from podium.store.database import Database

_FILE = re.compile(rf"{WORKFLOWS_DIR}/[A-Za-z0-9_][A-Za-z0-9_.-]*\.ya?ml")
NEXT_TIMES = 5
Viewer = Annotated[Principal, Depends(auth.require("viewer"))]
Operator = Annotated[Principal, Depends(auth.require("operator"))]
_SAVING = threading.Lock()  # one save at a time: check the fingerprint, then write


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str = Field(
        max_length=200, pattern=rf"^{_FILE.pattern}$", description="workflows/NAME.yaml"
    )
    document: dict[str, Any] = Field(description="the workflow as data, as the YAML says it")
    sha256: str | None = Field(
        default=None,
        max_length=64,
        description="the fingerprint of the file when it was opened; null for a new file",
    )


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=100)


def add_builder_routes(
    app: FastAPI, project: Project, db: Database, wake: Callable[[], None]
) -> None:
    root = Path(project.root)

    @app.get("/api/builder/schema", tags=["builder"], responses=guarded())
    def schema(_: Viewer) -> dict[str, Any]:
        return builder_schema()

    @app.get("/api/builder/pickers", tags=["builder"], responses=guarded())
    def pickers(_: Viewer) -> dict[str, Any]:
        return project_pickers(project)

    @app.get("/api/builder/files", tags=["builder"], responses=guarded())
    def files(_: Viewer) -> list[dict[str, Any]]:
        folder = root / WORKFLOWS_DIR
        found = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
        return [
            {"file": f"{WORKFLOWS_DIR}/{p.name}"}
            for p in found
            if _FILE.fullmatch(f"{WORKFLOWS_DIR}/{p.name}")
        ]

    @app.get("/api/builder/files/{name}", tags=["builder"], responses=guarded(404))
    def file(_: Viewer, name: str) -> dict[str, Any]:
        path = file_of(name)
        text = _read(root, path)
        if text is None:
            return {"file": path, "exists": False, "text": "", "document": {}, "sha256": None}
        return {
            "file": path,
            "exists": True,
            "text": text,
            "document": read_document(text),
            "sha256": digest(text),
        }

    @app.post("/api/builder/validate", tags=["builder"], responses=guarded())
    def validate(_: Viewer, body: EditIn) -> dict[str, Any]:
        text = _render(root, body)
        return {"text": text, "problems": problems_of(root, body.file, text)}

    @app.post("/api/builder/diff", tags=["builder"], responses=guarded())
    def diff(_: Viewer, body: EditIn) -> dict[str, Any]:
        before = _read(root, body.file) or ""
        text = _render(root, body)
        return {"text": text, "diff": unified(body.file, before, text)}

    @app.post("/api/builder/next-times", tags=["builder"], responses=guarded())
    def next_times(_: Viewer, body: ScheduleIn) -> dict[str, Any]:
        """The next five times, or (a preview, like validate) why there are none."""
        try:
            times = upcoming(body.schedule, body.timezone)
        except UsageError as exc:
            return {"timezone": body.timezone, "times": [], "problem": str(exc)}
        return {"timezone": body.timezone, "times": times}

    @app.post("/api/builder/save", tags=["builder"], responses=guarded(409))
    def save(who: Operator, body: EditIn = Body()) -> dict[str, Any]:
        with _SAVING:
            before = _read(root, body.file)
            _refuse_conflict(body, before)
            text = apply_changes(before or "", body.document)
            problems = [p for p in problems_of(root, body.file, text) if p["file"] == body.file]
            if problems:
                listed = "; ".join(f"{p['file']}:{p['line']}: {p['message']}" for p in problems)
                raise ConflictError(f"not saved: fix these problems first: {listed}")
            change = unified(body.file, before or "", text)
            _write(root / body.file, text)
        sha = digest(text)
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO workflow_saves (at, user_name, file, sha256, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (clock.time(), who.name, body.file, sha, 1 if before is None else 0),
            )
        wake()
        return {"file": body.file, "sha256": sha, "diff": change, "created": before is None}

    @app.get("/api/builder/saves", tags=["builder"], responses=guarded())
    def saves(
        _: Viewer, file: str | None = None, limit: int = Query(50, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        return recent_saves(db, file, limit)


def recent_saves(db: Database, file: str | None, limit: int) -> list[dict[str, Any]]:
    where, args = ("WHERE file = ?", (file,)) if file else ("", ())
    rows = db.read().fetchall(
        f"SELECT at, user_name, file, sha256, created FROM workflow_saves {where}"
        " ORDER BY id DESC LIMIT ?",
        (*args, limit),
    )
    return [
        {"at": float(r[0]), "user": r[1], "file": r[2], "sha256": r[3], "created": bool(r[4])}
        for r in rows
    ]


def builder_schema() -> dict[str, Any]:
    """Each kind's settings as the kind describes them, and the shared task keys."""
    kinds = [
        {
            "name": kind.name,
            "target": kind.target,
            "doc": kind.options.doc,
            "options": kind.options.json_schema(),
            "picks": dict(getattr(kind, "picks", {}) or {}),
        }
        for kind in written_kinds()
    ]
    return {
        "kinds": kinds,
        "task": TASK.json_schema(),
        "task_options": TASK_OPTIONS.json_schema(),
        "task_option_picks": {"pool": "pools"},
        "triggers": {name: settings.json_schema() for name, settings in TRIGGERS.items()},
        "trigger_picks": {
            "webhook": {"webhook": "webhooks"},
            "workflow": {"workflow": "workflows"},
        },
        "workflow": WORKFLOW.properties(),
    }


def project_pickers(project: Project) -> dict[str, Any]:
    """The project's names a picker offers, by list."""
    from podium.connectors.registry import is_source, stream_names

    connections = {
        name: {
            "type": settings.get("type"),
            "source": is_source(settings),
            "streams": stream_names(settings),
        }
        for name, settings in sorted(project.connections.items())
    }
    models = sorted(project.models.models) if project.models is not None else []
    folders = sorted(
        {str(Path(m.path).parent.name) for m in project.models.models.values()}
        if project.models is not None
        else set()
    )
    return {
        "connections": connections,
        "sources": [n for n, c in connections.items() if c["source"]],
        "webhooks": sorted(n for n, s in project.connections.items() if s.get("webhooks")),
        "models": models,
        "selections": ["*", *folders, *models, *(f"+{m}" for m in models)],
        "checks": sorted({c.name for c in project.checks}),
        "syncs": sorted(project.syncs),
        "pools": sorted(project.pools),
        "workflows": sorted(project.workflows),
    }


def problems_of(root: Path, file: str, text: str) -> list[dict[str, Any]]:
    """``podium validate``'s problems with ``file`` reading ``text``; those of the file
    placed on its task or trigger and key."""
    try:
        load_project(root, overlay={file: text})
    except ProjectError as exc:
        return [_placed(p, file, text) for p in exc.problems]
    return []


def _placed(problem: Problem, file: str, text: str) -> dict[str, Any]:
    place = locate(text, problem.line).as_dict() if problem.file == file else {}
    return {"file": problem.file, "line": problem.line, "message": problem.message, **place}


def unified(file: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{file}",
            tofile=f"b/{file}",
        )
    )


def upcoming(schedule: str, timezone: str, now: float | None = None) -> list[str]:
    """The next five times of a cron expression, in its time zone (ISO 8601)."""
    try:
        cron = Cron.parse(schedule, timezone or "UTC")
    except CronError as exc:
        raise UsageError(f"schedule {schedule!r}: {exc}") from None
    moment = datetime.fromtimestamp(clock.time() if now is None else now, UTC)
    times = []
    for _ in range(NEXT_TIMES):
        moment = cron.next_after(moment)
        times.append(moment.astimezone(ZoneInfo(cron.timezone)).isoformat())
    return times


def file_of(name: str) -> str:
    """``workflows/daily.yaml`` for ``daily`` or ``daily.yaml``; refused unless a plain name."""
    file = (
        f"{WORKFLOWS_DIR}/{name}"
        if name.endswith((".yaml", ".yml"))
        else f"{WORKFLOWS_DIR}/{name}.yaml"
    )
    check_file(file)
    return file


def check_file(file: str) -> None:
    """Refuses a path that is not ``workflows/NAME.yaml`` (no other folder, no ``..``)."""
    if not _FILE.fullmatch(file):
        raise UsageError(
            f"file {file!r}: the builder writes workflows/NAME.yaml (letters, digits, _ . -)"
        )


def _read(root: Path, file: str) -> str | None:
    check_file(file)
    path = root / file
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read the file: {exc}") from None


def _render(root: Path, body: EditIn) -> str:
    before = _read(root, body.file) or ""
    return apply_changes(before, body.document)


def _refuse_conflict(body: EditIn, before: str | None) -> None:
    if before is None and body.sha256 is None:
        return
    if before is None:
        raise ConflictError(
            f"not saved: {body.file} was removed since you opened it; reload the builder"
        )
    if body.sha256 is None:
        raise ConflictError(
            f"not saved: {body.file} exists already (written since you started); open it"
            " instead, or choose another name"
        )
    if digest(before) != body.sha256:
        raise ConflictError(
            f"not saved: {body.file} changed on disk since you opened it (someone saved it,"
            " or it was edited by hand); reload it to see the change, then make yours again"
        )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.builder-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
