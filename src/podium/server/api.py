"""The HTTP API: the same service functions as the CLI, as JSON over HTTP.

Errors are translated once here into ``{"error": …}``: a request that does not fit (a bad
parameter, an unknown body field) → 400 naming the field, NotFoundError → 404,
ConflictError → 409, any other UsageError → 400; a store that is away
(StoreUnavailableError) → 503 with a ``Retry-After`` (``podium.server.unavailable``).
``podium.server.openapi`` documents each route's answers, errors included, in
``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from podium.core.events import custom_name_problem
from podium.core.masking import Masker
from podium.core.status import RunStatus
from podium.core.workflow import Project, ScheduleTrigger
from podium.engine import log_pages, pauses, queries, services
from podium.errors import ConflictError, NotFoundError, PodiumError, UsageError
from podium.observe.metrics import Metrics
from podium.server import auth
from podium.server.api_docs import add_api_docs
from podium.server.auth import Principal
from podium.server.builder_api import add_builder_routes
from podium.server.login import login_router
from podium.server.metrics import install_metrics
from podium.server.openapi import MAX_OFFSET, errors, guarded, install_schema
from podium.server.readiness import EngineProbe, add_readiness_route
from podium.server.refusals import problems_of
from podium.server.shapes import (
    AttemptOut,
    CancelledOut,
    EventOut,
    EventPostedOut,
    PausedOut,
    RetriedOut,
    RunDetailOut,
    RunOut,
    WorkflowOut,
    answers,
)
from podium.server.ui import ui_router
from podium.server.unavailable import install_unavailable
from podium.server.webhooks import add_webhook_routes
from podium.store.database import Database


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description=(
            "the event's name, e.g. orders_dropped; not the name of one of podium's system"
            " events (RunFinished, AssetUpdated, …) in any case"
        ),
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="any JSON object")

    @field_validator("name")
    @classmethod
    def _not_a_system_event(cls, name: str) -> str:
        problem = custom_name_problem(name)
        if problem:
            raise ValueError(problem)
        return name


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failed_only: bool = Field(
        default=True, strict=True, description="re-run only the failed tasks (false: all)"
    )


def create_app(
    project: Project,
    db: Database,
    wake: Callable[[], None],
    *,
    engine_probe: EngineProbe | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The API and UI over ``db``; ``engine_probe`` makes ``/api/ready`` watch an engine;
    ``/metrics`` shows ``metrics`` (by default: the store's figures and this server's)."""
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
        docs_url=None,
        redoc_url=None,
    )
    add_api_docs(app)
    auth.install(app, project.server, db)
    app.include_router(login_router())
    add_webhook_routes(app, project, db, wake)
    viewer = [Depends(auth.require("viewer"))]
    operator = [Depends(auth.require("operator"))]

    @app.exception_handler(PodiumError)
    async def podium_error(request: Request, exc: PodiumError) -> JSONResponse:
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, ConflictError):
            status = 409
        elif isinstance(exc, UsageError):
            status = 400
        else:
            status = 500
        return MaskedJSONResponse({"error": mask(str(exc))}, status_code=status)

    install_unavailable(app, mask)

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = f"bad request: {problems_of(exc)}; see /docs for what this route takes"
        return MaskedJSONResponse({"error": mask(message)}, status_code=400)

    @app.get("/api/health", responses=errors(503))
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": db.dialect, "workflows": len(project.workflows)}

    add_readiness_route(app, db, mask, engine_probe)
    if metrics is None:
        metrics = Metrics(db)
        app.router.on_shutdown.append(metrics.close)
    install_metrics(app, metrics, mask, project.connections)

    @app.get(
        "/api/workflows",
        dependencies=viewer,
        response_model=None,
        responses={**answers(list[WorkflowOut]), **guarded()},
    )
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

    @app.post(
        "/api/workflows/{name}/runs",
        status_code=201,
        dependencies=operator,
        response_model=None,
        responses={**answers(RunDetailOut, 201), **guarded(404)},
    )
    def start_run(name: str, body: RunIn = Body(default_factory=RunIn)) -> dict[str, Any]:
        run_id = services.start_run(db, project, name, body.params, trigger={"type": "api"})
        wake()
        return queries.show_run(db, run_id)

    @app.get(
        "/api/runs",
        dependencies=viewer,
        response_model=None,
        responses={**answers(list[RunOut]), **guarded()},
    )
    def list_runs(
        workflow: str | None = None,
        status: RunStatus | None = None,
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> list[dict[str, Any]]:
        chosen = status.value if status else None
        return queries.list_runs(db, workflow=workflow, status=chosen, limit=limit, offset=offset)

    @app.get(
        "/api/runs/{run_id}",
        dependencies=viewer,
        response_model=None,
        responses={**answers(RunDetailOut), **guarded(404)},
    )
    def show_run(run_id: str) -> dict[str, Any]:
        return queries.show_run(db, run_id)

    @app.get(
        "/api/runs/{run_id}/attempts",
        dependencies=viewer,
        response_model=None,
        responses={**answers(list[AttemptOut]), **guarded(404)},
    )
    def attempts(run_id: str) -> list[dict[str, Any]]:
        queries.show_run(db, run_id)
        return queries.attempts_of(db, run_id)

    @app.get("/api/runs/{run_id}/logs", dependencies=viewer, responses=guarded(404))
    def logs(
        run_id: str,
        request: Request,
        response: Response,
        task: str | None = None,
        cursor: str | None = Query(None, pattern=log_pages.CURSOR_PATTERN),
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

    @app.post(
        "/api/runs/{run_id}/retry",
        dependencies=operator,
        response_model=None,
        responses={**answers(RetriedOut), **guarded(404, 409)},
    )
    def retry(run_id: str, body: RetryIn = Body(default_factory=RetryIn)) -> dict[str, Any]:
        tasks = services.retry_run(db, project, run_id, failed_only=body.failed_only)
        wake()
        return {"run_id": run_id, "tasks": tasks}

    @app.post(
        "/api/runs/{run_id}/cancel",
        dependencies=operator,
        response_model=None,
        responses={**answers(CancelledOut), **guarded(404)},
    )
    def cancel(run_id: str) -> dict[str, Any]:
        changed = services.cancel_run(db, project, run_id)
        wake()
        return {"run_id": run_id, "cancelling": changed}

    @app.post(
        "/api/workflows/{name}/pause",
        response_model=None,
        responses={**answers(PausedOut), **guarded(404, 409)},
    )
    def pause(
        name: str, who: Annotated[Principal, Depends(auth.require("operator"))]
    ) -> dict[str, Any]:
        changed = pauses.pause_workflow(db, project, name, by=who.name)
        return {"workflow": name, "paused": True, "changed": changed}

    @app.post(
        "/api/workflows/{name}/resume",
        dependencies=operator,
        response_model=None,
        responses={**answers(PausedOut), **guarded(404, 409)},
    )
    def resume(name: str) -> dict[str, Any]:
        changed = pauses.resume_workflow(db, project, name)
        wake()
        return {"workflow": name, "paused": False, "changed": changed}

    @app.post(
        "/api/events",
        status_code=202,
        dependencies=operator,
        response_model=None,
        responses={**answers(EventPostedOut, 202), **guarded()},
    )
    def post_event(event: EventIn) -> dict[str, Any]:
        """Stores the event (answered once it is durable) and wakes the engine at once."""
        seq = services.emit_event(db, event.name, event.payload)
        wake()
        return {"seq": seq, "name": event.name}

    @app.get(
        "/api/events",
        dependencies=viewer,
        response_model=None,
        responses={**answers(list[EventOut]), **guarded()},
    )
    def list_events(
        run_id: str | None = None, limit: int = Query(200, ge=1, le=5000)
    ) -> list[dict[str, Any]]:
        return queries.events_of(db, run_id, limit)

    app.include_router(ui_router(project, db, wake))  # the web UI: HTML pages beside the API
    add_builder_routes(app, project, db, wake)  # the workflow builder's API
    install_schema(app, project)
    return app


def _describe(trigger: object) -> dict[str, Any]:
    kind = type(trigger).__name__.removesuffix("Trigger").lower()
    data = {k: v for k, v in vars(trigger).items() if k != "location"}
    if isinstance(trigger, ScheduleTrigger):
        data["catchup"] = str(trigger.catchup)
    return {"type": kind, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items()}}
