"""``GET /api/ready``: whether this podium can do its work now, for a supervisor's or a load
balancer's readiness probe. ``/api/health`` stays the cheap liveness answer (no store).

Ready means: the store answers a query, and the engine (when this process runs one) is not
waiting for the store and finished a step recently. A 503 lists every reason it is not.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from podium.core.masking import Masker
from podium.engine.loop import Engine
from podium.errors import StoreError
from podium.server.unavailable import RETRY_AFTER
from podium.store.database import Database

#: a reason the engine is not ready, or None when it is
EngineProbe = Callable[[], str | None]


def engine_probe(engine: Engine) -> EngineProbe:
    """Not ready while the engine waits for the store, or when its last step ended longer
    ago than half the lease timeout (its leases are then in danger), at least three polls."""
    settings = engine.settings
    stale_after = max(settings.lease_timeout / 2, 3 * settings.poll_interval)

    def probe() -> str | None:
        now = engine.clock()
        if engine.outage is not None:
            waited = now - engine.outage.since
            return f"the engine has waited {waited:.0f}s for the store: {engine.outage.reason}"
        if engine.last_step_at is None:
            return "the engine has not finished its first step yet"
        age = now - engine.last_step_at
        if age > stale_after:
            return (
                f"the engine's last step ended {age:.0f}s ago (more than {stale_after:g}s):"
                " the store is slow or locked, or the engine is stuck"
            )
        return None

    return probe


def add_readiness_route(
    app: FastAPI, db: Database, mask: Masker, probe: EngineProbe | None = None
) -> None:
    @app.get("/api/ready")
    def ready() -> JSONResponse:
        """200 when the store answers and the engine steps; 503 with the reasons when not."""
        problems = []
        try:
            db.read().fetchone("SELECT 1")
        except StoreError as exc:
            problems.append(str(exc))
        engine_problem = probe() if probe is not None else None
        if engine_problem is not None:
            problems.append(engine_problem)
        if problems:
            body = {"status": "unavailable", "problems": [mask(p) for p in problems]}
            return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
        return JSONResponse({"status": "ready", "store": db.dialect})
