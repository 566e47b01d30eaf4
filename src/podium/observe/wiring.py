"""The observers a running engine feeds: metrics, lineage and (in json) its own log lines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from podium import clock as clocks
from podium.core.events import Event
from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.observe.logs import log_engine_events
from podium.observe.metrics import EngineMetrics, Metrics
from podium.observe.worker import EventWorker
from podium.store.database import Database

if TYPE_CHECKING:  # openlineage takes seconds to import: only for projects that set lineage:
    from podium.observe.lineage import Lineage

log = logging.getLogger("podium.observe")
Report = Callable[[str], None]


class Observers:
    """Subscribers to an engine's committed events, each on its own thread.

    ``metrics``: the figures of ``/metrics`` (``podium up``); ``lineage``: OpenLineage events
    when podium.yaml sets ``lineage:``; ``engine_log``: the engine's lines (json logs).
    """

    def __init__(
        self,
        project: Project,
        db: Database,
        *,
        metrics: bool = True,
        engine_log: bool = False,
        clock: Callable[[], float] = clocks.time,
        report: Report | None = None,
    ) -> None:
        mask = Masker(project.secrets)
        told = report or (lambda line: log.warning("%s", line))
        self.report: Report = lambda line: told(mask(line))
        self.metrics = Metrics(db, clock=clock) if metrics else None
        self.workers: list[EventWorker] = []
        self.lineage: Lineage | None = None
        if self.metrics is not None:
            handler = EngineMetrics(self.metrics, project, db).handle
            self.workers.append(EventWorker("metrics", handler, clock=clock, report=self.report))
        if project.lineage:
            self.lineage = self._lineage(project, db)
        if self.lineage is not None:
            self.workers.append(
                EventWorker("lineage", self.lineage.handle, clock=clock, report=self.report)
            )
        if engine_log:
            self.workers.append(
                EventWorker("engine log", log_engine_events, clock=clock, report=self.report)
            )

    def on_events(self, events: list[Event]) -> None:
        for worker in self.workers:
            worker.on_events(events)

    def flush(self, timeout: float = 10.0) -> bool:
        return all(worker.flush(timeout) for worker in self.workers)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.lineage is not None:
            try:
                self.lineage.close()
            except Exception as exc:  # noqa: BLE001 - shutting down: say it, go on
                self.report(f"lineage: closing the transport failed: {exc}")
        if self.metrics is not None:
            self.metrics.close()

    def _lineage(self, project: Project, db: Database) -> Lineage | None:
        from podium.observe.lineage import DEFAULT_NAMESPACE, Lineage, make_transport

        settings = project.lineage
        try:
            transport = make_transport(settings, Path(project.root))
        except Exception as exc:  # noqa: BLE001 - lineage never stops the engine
            self.report(
                f"lineage: cannot send OpenLineage events ({type(exc).__name__}: {exc});"
                " check podium.yaml's lineage: section. Tasks run without lineage"
            )
            return None
        namespace = str(settings.get("namespace") or DEFAULT_NAMESPACE)
        return Lineage(project, db, transport, namespace=namespace)
