"""The web UI's router: server-rendered pages, POST-form actions and static files.

``ui_router(project, db, wake)`` is mounted by ``create_app`` beside the JSON API. Pages
need the ``viewer`` role and actions ``operator`` (``podium.server.auth.require``); every
form carries the CSRF field. The stylesheet and script are public, so that the sign-in
page can use them.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.server.ui.actions import add_actions
from podium.server.ui.builder import add_builder_pages
from podium.server.ui.context import Ui, html_errors
from podium.server.ui.inbox import add_inbox
from podium.server.ui.pages import add_pages
from podium.server.ui.render import Pages
from podium.server.ui.run_pages import add_run_pages
from podium.server.ui.static import add_static
from podium.store.database import Database


def ui_router(project: Project, db: Database, wake: Callable[[], None]) -> APIRouter:
    pages = Pages(Masker(project.secrets))
    ui = Ui(project, db, wake, pages)
    router = APIRouter(route_class=html_errors(pages), include_in_schema=False)
    add_pages(router, ui)
    add_run_pages(router, ui)
    add_actions(router, ui)
    add_inbox(router, ui)
    add_builder_pages(router, ui)  # the workflow builder (issue 22)
    add_static(router)
    return router
