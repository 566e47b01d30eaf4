"""The transform service: the models a selector names, built in order on the warehouse.

Used by ``podium models run``; a failed model stops the models that read it (they are
reported ``skipped``), and the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from podium.core.workflow import Project
from podium.errors import PodiumError
from podium.transforms.materialize import Built, build
from podium.transforms.models import ModelSet, load_models
from podium.transforms.warehouse_sql import open_warehouse_sql


@dataclass
class TransformResult:
    built: list[Built] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # model → error
    skipped: dict[str, str] = field(default_factory=dict)  # model → the failed upstream

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def run_models(
    project: Project,
    selector: str,
    *,
    models: ModelSet | None = None,
    on_built: Callable[[Built], None] | None = None,
    on_failed: Callable[[str, str], None] | None = None,
) -> TransformResult:
    root = Path(project.root)
    models = models or load_models(root)
    chosen = models.select(selector)
    result = TransformResult()
    with open_warehouse_sql(project.warehouse, root) as sql:
        for name in chosen:
            broken = next(
                (p for p in models.upstream(name) if p in result.failed or p in result.skipped),
                None,
            )
            if broken is not None:
                result.skipped[name] = broken
                continue
            try:
                built = build(sql, models.models[name])
            except PodiumError as exc:
                result.failed[name] = str(exc)
            except Exception as exc:  # noqa: BLE001 - a warehouse error is the model's failure
                result.failed[name] = _first_line(exc)
            else:
                result.built.append(built)
                if on_built is not None:
                    on_built(built)
                continue
            if on_failed is not None:
                on_failed(name, result.failed[name])
    return result


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
    return f"{type(exc).__name__}: {text}"
