"""The UI's actions: plain POST forms (CSRF field included) answered by a 303 redirect, so
they work without JavaScript. Each calls the same service function as the CLI and the API,
then wakes the engine."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from podium.core.workflow import Workflow
from podium.engine import builds, pauses, services
from podium.server.ui.context import Operator, Ui
from podium.server.ui.pages import display_value
from podium.server.ui.render import Pages, segment

PARAM_PREFIX = "param."


def add_actions(router: APIRouter, ui: Ui) -> None:
    @router.post("/workflows/{name}/run")
    async def run_now(request: Request, name: str, who: Operator) -> RedirectResponse:
        wf = services.workflow_named(ui.project, name)
        params = form_params(wf, await request.form(), ui.pages)
        run_id = await run_in_threadpool(
            services.start_run,
            ui.db,
            ui.project,
            wf.name,
            params,
            trigger={"type": "ui", "user": who.name},
        )
        ui.wake()
        return _to_run(run_id, "started")

    @router.post("/workflows/{name}/pause")
    async def pause(name: str, who: Operator) -> RedirectResponse:
        await run_in_threadpool(lambda: pauses.pause_workflow(ui.db, ui.project, name, by=who.name))
        return _to_workflow(name, "paused")

    @router.post("/workflows/{name}/resume")
    async def resume(name: str, who: Operator) -> RedirectResponse:
        await run_in_threadpool(pauses.resume_workflow, ui.db, ui.project, name)
        ui.wake()
        return _to_workflow(name, "resumed")

    @router.post("/assets/{name:path}/build")
    async def build(name: str, who: Operator) -> RedirectResponse:
        run_id = await run_in_threadpool(
            lambda: builds.build_asset(
                ui.db, ui.project, name, trigger={"type": "ui", "user": who.name}
            )
        )
        ui.wake()
        return _to_run(run_id, "started")

    @router.post("/runs/{run_id}/retry")
    async def retry(request: Request, run_id: str, who: Operator) -> RedirectResponse:
        form = await request.form()
        failed_only = str(form.get("failed_only", "1")) != "0"
        await run_in_threadpool(
            lambda: services.retry_run(ui.db, ui.project, run_id, failed_only=failed_only)
        )
        ui.wake()
        return _to_run(run_id, "retried")

    @router.post("/runs/{run_id}/cancel")
    async def cancel(request: Request, run_id: str, who: Operator) -> RedirectResponse:
        changed = await run_in_threadpool(services.cancel_run, ui.db, ui.project, run_id)
        ui.wake()
        return _to_run(run_id, "cancelling" if changed else "finished")


def form_params(wf: Workflow, form: Mapping[str, Any], pages: Pages) -> dict[str, Any]:
    """The params a "Run now" form changed from the defaults it showed.

    A field left as shown keeps the declared default (even one the page had to mask). A
    changed value is read as text when the default is text, else as JSON when it parses
    (``7``, ``true``, ``["a"]``) and as text when not."""
    params: dict[str, Any] = {}
    for name, default in wf.params.items():
        raw = form.get(PARAM_PREFIX + name)
        if not isinstance(raw, str) or raw == pages.mask(display_value(default)):
            continue
        if isinstance(default, str):
            params[name] = raw
            continue
        try:
            params[name] = json.loads(raw)
        except ValueError:
            params[name] = raw
    return params


def _to_run(run_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/runs/{segment(run_id)}?notice={notice}", status_code=303)


def _to_workflow(name: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/workflows/{segment(name)}?notice={notice}", status_code=303)
