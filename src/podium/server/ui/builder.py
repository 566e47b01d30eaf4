"""The workflow builder's pages: ``/builder`` lists the workflow files (and starts a new
one), ``/builder/NAME`` (``daily`` or ``daily.yaml``) opens ``workflows/NAME.yaml`` on the canvas.

The canvas is ``static/builder.js``: it reads and writes through the builder's API
(``podium.server.builder_api``); these pages only hand it the file, the CSRF token and
whether the signed-in user may save (operators and admins; viewers see it read-only).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from podium.project import WORKFLOWS_DIR
from podium.server.auth import csrf_token
from podium.server.builder_api import file_of, recent_saves
from podium.server.reload import reload_problems
from podium.server.ui.context import Ui, Viewer


def add_builder_pages(router: APIRouter, ui: Ui) -> None:
    @router.get("/builder", response_class=HTMLResponse)
    def builder(request: Request, who: Viewer) -> HTMLResponse:
        folder = Path(ui.project.root) / WORKFLOWS_DIR
        files = sorted(p.name for p in folder.glob("*.y*ml")) if folder.is_dir() else []
        context = {
            "principal": who,
            "nav": "builder",
            "files": [f"{WORKFLOWS_DIR}/{name}" for name in files],
            "saves": recent_saves(ui.db, None, 20),
            "may_save": who.may("operator"),
            "reload_problems": reload_problems(ui.project.root),
        }
        return ui.pages.respond("builder_list.html", request, context)

    @router.get("/builder/{name}", response_class=HTMLResponse)
    def edit(request: Request, who: Viewer, name: str) -> HTMLResponse:
        file = file_of(name)
        context = {
            "principal": who,
            "nav": "builder",
            "file": file,
            "csrf": csrf_token(request),
            "may_save": who.may("operator"),
            "reload_problems": reload_problems(ui.project.root),
        }
        return ui.pages.respond("builder.html", request, context)
