"""The HTTP API: the same service functions as the CLI, as JSON over HTTP.

Errors are translated once here: UsageError → 400/404 with ``{"error": …}``; a store that is
away (StoreUnavailableError) → 503 with a ``Retry-After`` (``podium.server.unavailable``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Body, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from podium.core.masking import Masker
from podium.core.workflow import Project, ScheduleTrigger
from podium.engine import log_pages, queries, services
from podium.errors import NotFoundError, PodiumError, UsageError
from podium.server import auth
from podium.server.login import login_router
from podium.server.readiness import EngineProbe, add_readiness_route
from podium.server.ui import ui_router
from podium.server.unavailable import install_unavailable
from podium.server.webhooks import add_webhook_routes
from podium.store.database import Database


class EventIn(BaseModel):
    name: str = Field(min_length=1, description="the event's name, e.g. orders_dropped")
    payload: dict[str, Any] = Field(default_factory=dict)


class RunIn(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict)


class RetryIn(BaseModel):
    failed_only: bool = True


def create_app(
    project: Project,
    db: Database,
    wake: Callable[[], None],
    *,
    engine_probe: EngineProbe | None = None,
) -> FastAPI:
    """The API and UI over ``db``; ``engine_probe`` makes ``/api/ready`` watch an engine."""
    mask = Masker(project.secrets)
    db.mask.add(*project.secrets)  # runs started here are stored masked

    class MaskedJSONResponse(JSONResponse):
        """Every answer passes the project's secret mask, whatever route built it."""

        def render(self, content: Any) -> bytes:
            return super().render(mask.data(content))

    app = FastAPI(
        title="podium",
        version="0.1.0",
        default_response_class=MaskedJSONResponse,
        description="Start runs, post events, retry and cancel; see runs and logs.",
    )
    auth.install(app, project.server, db)
    app.include_router(login_router())
    add_webhook_routes(app, project, db, wake)
    viewer = [Depends(auth.require("viewer"))]
    operator = [Depends(auth.require("operator"))]

    @app.exception_handler(PodiumError)
    async def podium_error(request: Request, exc: PodiumError) -> JSONResponse:
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, UsageError):
            status = 400
        else:
            status = 500
        return MaskedJSONResponse({"error": mask(str(exc))}, status_code=status)

    install_unavailable(app, mask)

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return MaskedJSONResponse({"error": f"bad request: {problems}"}, status_code=400)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": db.dialect, "workflows": len(project.workflows)}

    add_readiness_route(app, db, mask, engine_probe)

    @app.get("/api/workflows", dependencies=viewer)
    def list_workflows() -> list[dict[str, Any]]:
        out = []
        for wf in project.workflows.values():
            last = queries.list_runs(db, workflow=wf.name, limit=1)
            out.append(
                {
                    "name": wf.name,
                    "tasks": len(wf.tasks),
                    "params": dict(wf.params),
                    "triggers": [_describe(t) for t in wf.triggers],
                    "last_run": last[0] if last else None,
                }
            )
        return out

    @app.post("/api/workflows/{name}/runs", status_code=201, dependencies=operator)
    def start_run(name: str, body: RunIn = Body(default_factory=RunIn)) -> dict[str, Any]:
        run_id = services.start_run(db, project, name, body.params, trigger={"type": "api"})
        wake()
        return queries.show_run(db, run_id)

    @app.get("/api/runs", dependencies=viewer)
    def list_runs(
        workflow: str | None = None,
        status: str | None = None,
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        return queries.list_runs(db, workflow=workflow, status=status, limit=limit, offset=offset)

    @app.get("/api/runs/{run_id}", dependencies=viewer)
    def show_run(run_id: str) -> dict[str, Any]:
        return queries.show_run(db, run_id)

    @app.get("/api/runs/{run_id}/attempts", dependencies=viewer)
    def attempts(run_id: str) -> list[dict[str, Any]]:
        queries.show_run(db, run_id)
        return queries.attempts_of(db, run_id)

    @app.get("/api/runs/{run_id}/logs", dependencies=viewer)
    def logs(
        run_id: str,
        request: Request,
        response: Response,
        task: str | None = None,
        cursor: str | None = None,
        limit: int = Query(log_pages.PAGE_LINES, ge=1, le=log_pages.MAX_PAGE_LINES),
    ) -> list[dict[str, Any]]:
        """One page of log lines (at most ``limit``, about 1 MiB); when more remain, the
        ``X-Next-Cursor`` header (and a ``Link: rel="next"``) says where to read on."""
        page = log_pages.log_page(db, run_id, task, cursor=cursor, limit=limit)
        if page.next_cursor:
            following = request.url.include_query_params(cursor=page.next_cursor)
            response.headers["X-Next-Cursor"] = page.next_cursor
            response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
        return [{**line, "line": mask(line["line"])} for line in page.lines]

    @app.post("/api/runs/{run_id}/retry", dependencies=operator)
    def retry(run_id: str, body: RetryIn = Body(default_factory=RetryIn)) -> dict[str, Any]:
        tasks = services.retry_run(db, project, run_id, failed_only=body.failed_only)
        wake()
        return {"run_id": run_id, "tasks": tasks}

    @app.post("/api/runs/{run_id}/cancel", dependencies=operator)
    def cancel(run_id: str) -> dict[str, Any]:
        changed = services.cancel_run(db, project, run_id)
        wake()
        return {"run_id": run_id, "cancelling": changed}

    @app.post("/api/events", status_code=202, dependencies=operator)
    def post_event(event: EventIn) -> dict[str, Any]:
        """Stores the event (answered once it is durable) and wakes the engine at once."""
        seq = services.emit_event(db, event.name, event.payload)
        wake()
        return {"seq": seq, "name": event.name}

    @app.get("/api/events", dependencies=viewer)
    def list_events(
        run_id: str | None = None, limit: int = Query(200, ge=1, le=5000)
    ) -> list[dict[str, Any]]:
        return queries.events_of(db, run_id, limit)

    app.include_router(ui_router(project, db, wake))  # the web UI: HTML pages beside the API
    return app


def _describe(trigger: object) -> dict[str, Any]:
    kind = type(trigger).__name__.removesuffix("Trigger").lower()
    data = {k: v for k, v in vars(trigger).items() if k != "location"}
    if isinstance(trigger, ScheduleTrigger):
        data["catchup"] = str(trigger.catchup)
    return {"type": kind, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items()}}
