"""The transform service: the models a selector names, built in order on the warehouse.

Used by ``podium models run``; the checks declared on a model run right after it is built
(an error-severity failure counts as the model failing); a failed model stops the models
that read it (they are reported ``skipped``), and the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from podium.core.workflow import Project
from podium.errors import PodiumError, first_line
from podium.transforms.checks import (
    CheckResult,
    check_dependencies,
    checks_for,
    load_checks,
    run_check,
)
from podium.transforms.materialize import Built, build
from podium.transforms.models import ModelSet, load_models
from podium.transforms.warehouse_sql import open_warehouse_sql


@dataclass
class TransformResult:
    built: list[Built] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # model → error
    skipped: dict[str, str] = field(default_factory=dict)  # model → the failed upstream
    checks: list[CheckResult] = field(default_factory=list)

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
    on_checked: Callable[[CheckResult], None] | None = None,
) -> TransformResult:
    root = Path(project.root)
    models = models or load_models(root)
    checks = load_checks(root)
    chosen = models.order(models.select(selector), after=check_dependencies(models, checks))
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
                errors: list[str] = []
                for check in checks_for(checks, [name]):
                    outcome = run_check(sql, check)
                    result.checks.append(outcome)
                    if on_checked is not None:
                        on_checked(outcome)
                    if not outcome.passed and outcome.severity == "error":
                        errors.append(outcome.message)
                if not errors:
                    continue
                result.failed[name] = f"{len(errors)} check(s) failed: " + "; ".join(errors[:3])
            if on_failed is not None:
                on_failed(name, result.failed[name])
    return result


def _first_line(exc: BaseException) -> str:
    text = first_line(exc, 400)
    return f"{type(exc).__name__}: {text}"
