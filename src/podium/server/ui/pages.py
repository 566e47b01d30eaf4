"""Pages about workflows, assets and events (``/``, ``/workflows/{name}``, ``/assets``,
``/events``). Each page that shows changing state answers ``?fragment=1`` with just its
live part, which ``live.js`` swaps into the page every second or two."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from podium import clock
from podium.core import events as ev
from podium.core.workflow import ScheduleTrigger, Workflow
from podium.engine import pauses, queries, services
from podium.errors import NotFoundError, UsageError
from podium.server.ui import dag, lineage
from podium.server.ui.context import PageNumber, Ui, Viewer
from podium.server.ui.describe import describe_trigger, next_ticks
from podium.server.ui.render import segment
from podium.server.ui.views import assets_page, events_page, workflows_page

RECENT_RUNS = 10
WORKFLOW_NOTICES = {
    "paused": "Schedules paused: they will not start runs until resumed.",
    "resumed": "Schedules resumed; ticks missed meanwhile follow the schedule's catch-up.",
}


def add_pages(router: APIRouter, ui: Ui) -> None:
    @router.get("/", response_class=HTMLResponse)
    def workflows(
        request: Request, who: Viewer, name: str = "", page: PageNumber = 1, fragment: bool = False
    ) -> HTMLResponse:
        found = workflows_page(ui.db, ui.project, name=name, number=page, now=clock.now())
        context = {"principal": who, "nav": "workflows", "page": found, "name": name}
        template = "_workflows_live.html" if fragment else "workflows.html"
        return ui.pages.respond(template, request, context, fragment=fragment)

    @router.get("/workflows/{name}", response_class=HTMLResponse)
    def workflow(
        request: Request,
        name: str,
        who: Viewer,
        run: str = "",
        fragment: bool = False,
        notice: str = "",
    ) -> HTMLResponse:
        wf = services.workflow_named(ui.project, name)
        recent = queries.list_runs(ui.db, workflow=wf.name, limit=RECENT_RUNS)
        chosen = queries.show_run(ui.db, run) if run else None
        if chosen is None and recent:
            chosen = queries.show_run(ui.db, recent[0]["run_id"])
        if chosen is not None and chosen["workflow"] != wf.name:
            raise UsageError(
                f"run {chosen['run_id']} is a run of {chosen['workflow']!r}, not of {wf.name!r};"
                f" open /workflows/{chosen['workflow']}?run={chosen['run_id']} instead"
            )
        context = {
            "principal": who,
            "nav": "workflows",
            "wf": wf,
            "recent": recent,
            "run": chosen,
            "drawing": run_drawing(wf, chosen),
            "too_big": len(wf.tasks) > dag.MAX_DRAWN,
            "triggers": [describe_trigger(t) for t in wf.triggers],
            "next": next_ticks(wf, clock.now()),
            "params": param_fields(wf),
            "fixed_run": bool(run),
            "scheduled": any(isinstance(t, ScheduleTrigger) for t in wf.triggers),
            "paused": pauses.paused_workflows(ui.db).get(wf.name),
            "notice": WORKFLOW_NOTICES.get(notice, ""),
        }
        template = "_workflow_live.html" if fragment else "workflow.html"
        return ui.pages.respond(template, request, context, fragment=fragment)

    @router.get("/assets", response_class=HTMLResponse)
    def assets(request: Request, who: Viewer, name: str = "", page: PageNumber = 1) -> HTMLResponse:
        found = assets_page(ui.db, name=name, number=page, now=clock.time())
        context = {"principal": who, "nav": "assets", "page": found, "name": name}
        return ui.pages.respond("assets.html", request, context)

    @router.get("/lineage", response_class=HTMLResponse)
    def lineage_page(request: Request, who: Viewer) -> HTMLResponse:
        drawing = lineage.lineage_drawing(ui.db, ui.project, now=clock.time())
        context = {"principal": who, "nav": "lineage", "drawing": drawing}
        return ui.pages.respond("lineage.html", request, context)

    @router.get("/assets/{name:path}", response_class=HTMLResponse)
    def asset(request: Request, name: str, who: Viewer, notice: str = "") -> HTMLResponse:
        found = lineage.asset_details(ui.db, ui.project, name, now=clock.time())
        if found["latest"] is None and not found["producers"] and found["model"] is None:
            raise NotFoundError(
                f"no asset named {name!r}: nothing produced or loads it; see /assets"
            )
        context = {
            "principal": who,
            "nav": "assets",
            "asset": found,
            "now": clock.time(),
            "notice": "Build started." if notice == "built" else "",
        }
        return ui.pages.respond("asset.html", request, context)

    @router.get("/events", response_class=HTMLResponse)
    def events(
        request: Request, who: Viewer, type: str = "", run: str = "", page: PageNumber = 1
    ) -> HTMLResponse:
        found = events_page(ui.db, kind=type.strip(), run_id=run.strip(), number=page)
        context = {
            "principal": who,
            "nav": "events",
            "page": found,
            "type": type,
            "run": run,
            "types": event_types(),
        }
        return ui.pages.respond("events.html", request, context)


def run_drawing(wf: Workflow | None, run: dict[str, Any] | None) -> dag.Drawing | None:
    """The workflow's DAG coloured by ``run``'s task states (None when too big to draw).

    Without the workflow's definition (renamed since the run) the run's tasks are drawn
    without edges."""
    tasks = {t["id"]: t for t in (run or {}).get("tasks", [])}
    edges = {t.id: t.depends_on for t in wf.tasks} if wf else {t: () for t in tasks}
    if len(edges) > dag.MAX_DRAWN:
        return None
    marks = {
        task_id: dag.TaskMark(
            status=t["status"],
            late=t["late"],
            incomplete=t["incomplete"],
            href=f"/runs/{segment(run['run_id'])}/tasks/{segment(task_id)}" if run else "",
        )
        for task_id, t in tasks.items()
    }
    return dag.draw(edges, marks)


def param_fields(wf: Workflow) -> list[tuple[str, str]]:
    """Each declared param and its default as the form shows it: text as itself, anything
    else as JSON (what ``parse_form_params`` reads back)."""
    return [(name, display_value(value)) for name, value in wf.params.items()]


def display_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def event_types() -> list[str]:
    """The names of podium's own event types (custom events are typed in freely)."""
    return sorted(ev.SYSTEM_EVENT_TYPES)
