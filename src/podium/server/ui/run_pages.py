"""Pages about runs: the list (``/runs``), one run (``/runs/{id}``: Gantt timeline, tasks,
outputs, errors, checks, late and incomplete marks, buttons) and one task's attempts and
logs (``/runs/{id}/tasks/{task}``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from podium import clock
from podium.core.status import RETRYABLE, RunStatus
from podium.engine import queries
from podium.errors import NotFoundError
from podium.server.ui import gantt
from podium.server.ui.context import AttemptNumber, PageNumber, Ui, Viewer
from podium.server.ui.pages import run_drawing
from podium.server.ui.views import attempt_logs, checks_of, parent_of, runs_page

#: the words a finished action's redirect may show (a code in the URL, never free text)
NOTICES = {
    "started": "Run started.",
    "retried": "Retry started: the tasks shown as queued run again.",
    "cancelling": "Cancel requested: running tasks are being stopped.",
    "finished": "The run had already finished; nothing to cancel.",
}
#: notices about a run still going: once it has finished they would mislead, so they go
NOTICES_WHILE_GOING = frozenset({"started", "retried", "cancelling"})
STATUSES = [s.value for s in RunStatus]


def add_run_pages(router: APIRouter, ui: Ui) -> None:
    @router.get("/runs", response_class=HTMLResponse)
    def runs(
        request: Request,
        who: Viewer,
        workflow: str = "",
        status: str = "",
        page: PageNumber = 1,
        fragment: bool = False,
    ) -> HTMLResponse:
        found = runs_page(ui.db, workflow=workflow.strip(), status=status.strip(), number=page)
        context = {
            "principal": who,
            "nav": "runs",
            "page": found,
            "workflow": workflow,
            "status": status,
            "statuses": STATUSES,
            "workflows": sorted(ui.project.workflows),
            "now": clock.time(),
        }
        template = "_runs_live.html" if fragment else "runs.html"
        return ui.pages.respond(template, request, context, fragment=fragment)

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(
        request: Request, run_id: str, who: Viewer, notice: str = "", fragment: bool = False
    ) -> HTMLResponse:
        context = {"principal": who, "nav": "runs", **run_context(ui, run_id)}
        going = notice not in NOTICES_WHILE_GOING or not context["finished"]
        context["notice"] = NOTICES.get(notice, "") if going else ""
        template = "_run_live.html" if fragment else "run.html"
        return ui.pages.respond(template, request, context, fragment=fragment)

    @router.get("/runs/{run_id}/tasks/{task_id:path}", response_class=HTMLResponse)
    def task(
        request: Request,
        run_id: str,
        task_id: str,
        who: Viewer,
        attempt: AttemptNumber = 0,
        fragment: bool = False,
    ) -> HTMLResponse:
        context = {"principal": who, "nav": "runs", **task_context(ui, run_id, task_id, attempt)}
        template = "_task_live.html" if fragment else "task.html"
        return ui.pages.respond(template, request, context, fragment=fragment)


def run_context(ui: Ui, run_id: str) -> dict[str, Any]:
    run = queries.show_run(ui.db, run_id)
    wf = ui.project.workflows.get(run["workflow"])
    attempts = queries.attempts_of(ui.db, run_id)
    now = clock.time()
    definitions = {t.id: t for t in wf.tasks} if wf else {}
    late_after: dict[str, float] = {}
    for t in wf.tasks if wf else ():
        if t.late_after is not None:
            late_after[t.id] = t.late_after
    chart = gantt.timeline(
        [t["id"] for t in run["tasks"]],
        attempts,
        now=now,
        late_after=late_after,
        late=[t["id"] for t in run["tasks"] if t["late"]],
    )
    return {
        "run": run,
        "wf": wf,
        "definitions": definitions,
        "attempts": attempts,
        "timeline": chart,
        "drawing": run_drawing(wf, run),
        "checks": checks_of(ui.db, run_id, run["tasks"]),
        "parent": parent_of(ui.db, run_id),
        "finished": RunStatus(run["status"]).is_terminal,
        "failed_tasks": [t["id"] for t in run["tasks"] if t["status"] in RETRYABLE],
        "now": now,
    }


def task_context(ui: Ui, run_id: str, task_id: str, attempt: int) -> dict[str, Any]:
    run = queries.show_run(ui.db, run_id)
    task = next((t for t in run["tasks"] if t["id"] == task_id), None)
    if task is None:
        raise NotFoundError(
            f"run {run_id} has no task {task_id!r}; open /runs/{run_id} to see its tasks"
        )
    tries = [a for a in queries.attempts_of(ui.db, run_id) if a["task_id"] == task_id]
    tries.sort(key=lambda a: int(a["attempt"]))
    chosen = attempt or (int(tries[-1]["attempt"]) if tries else 0)
    if tries and chosen not in {int(a["attempt"]) for a in tries}:
        raise NotFoundError(
            f"task {task_id!r} of run {run_id} has no attempt {chosen}"
            f" (attempts: {', '.join(str(a['attempt']) for a in tries)})"
        )
    lines, cut = attempt_logs(ui.db, run_id, task_id, chosen) if tries else ([], False)
    wf = ui.project.workflows.get(run["workflow"])
    return {
        "run": run,
        "task": task,
        "definition": wf.task(task_id) if wf and task_id in wf.task_ids else None,
        "attempts": tries,
        "attempt": chosen,
        "lines": lines,
        "cut": cut,
        "live": task["status"] in ("queued", "running"),
        "now": clock.time(),
    }
