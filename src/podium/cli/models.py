"""``podium models list | graph | compile MODEL | run SELECTOR``: the project's SQL models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from podium.errors import UsageError

if TYPE_CHECKING:
    from podium.transforms.checks import CheckResult
    from podium.transforms.materialize import Built
    from podium.transforms.models import ModelSet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=["list", "graph", "compile", "run"],
        help="list them in build order, draw what reads what, print one's SQL, or build them",
    )
    p.add_argument(
        "target",
        nargs="?",
        help="compile: a model; run: a selector (folder, model, +model, model+; default all)",
    )
    p.add_argument(
        "--dialect",
        choices=["duckdb", "postgres"],
        default=None,
        help="compile: the SQL dialect (default: the project's warehouse)",
    )
    p.add_argument("--json", action="store_true", help="list/run: print JSON")


def cmd_models(args: argparse.Namespace) -> int:
    from podium.cli.commands import _project
    from podium.transforms.models import describe, load_models

    root = Path(args.project).resolve()
    models = load_models(root)
    if args.action == "list":
        rows = [models.models[name] for name in models.order()]
        if args.json:
            print(json.dumps(describe(rows), indent=2))
        elif not rows:
            print("no models: add SELECT files as models/<schema>/<table>.sql")
        for m in [] if args.json else rows:
            print(f"{m.name:<40} {m.materialized!s:<12} {m.path}")
        return 0
    if args.action == "graph":
        for name in models.order():
            inputs = [f"{i} (input)" for i in models.inputs(name)]
            reads = models.upstream(name) + inputs
            print(f"{name} <- {', '.join(reads) if reads else 'nothing'}")
        return 0
    if args.action == "compile":
        if not args.target:
            raise UsageError("podium models compile MODEL: name the model to compile")
        from podium.transforms.compile import compile_model

        project = _project(args)
        names = models.select(args.target.strip("+"))
        if len(names) != 1:
            raise UsageError(f"{args.target!r} names {len(names)} models; compile takes one")
        dialect = args.dialect or (
            "postgres" if project.warehouse.get("type") == "postgres" else "duckdb"
        )
        prefix = str(project.warehouse.get("schema_prefix", "")) if dialect == "postgres" else ""
        print(compile_model(models.models[names[0]], dialect, schema_prefix=prefix))
        return 0
    return _run(args, models)


def render_check(result: CheckResult, indent: str = "") -> str:
    """One check's result as a line, and its failing rows' sample beneath."""
    if result.passed:
        return f"{indent}check {result.name}: passed"
    word = "FAILED" if result.severity == "error" else "warning"
    lines = [f"{indent}check {result.name}: {word}: {result.message}"]
    lines += [f"{indent}    {row}" for row in result.sample]
    return "\n".join(lines)


def check_counts(results: list[CheckResult]) -> str:
    """``3 passed, 1 failed, 2 warnings``: a ``severity: warn`` check that does not pass
    is a warning, not a failure (it does not fail the command or a run)."""
    failed = sum(1 for r in results if not r.passed and r.severity == "error")
    warned = sum(1 for r in results if not r.passed and r.severity != "error")
    passed = len(results) - failed - warned
    return f"{passed} passed, {failed} failed, {warned} warning{'s' if warned != 1 else ''}"


def cmd_checks(args: argparse.Namespace) -> int:
    """``podium checks [SELECTOR] [--json]``: run checks now, on what the warehouse holds."""
    from podium.cli.commands import _project
    from podium.transforms.checks import run_check, select_checks
    from podium.transforms.models import load_models
    from podium.transforms.warehouse_sql import open_warehouse_sql

    project = _project(args)
    root = Path(project.root)
    chosen = select_checks(root, load_models(root), args.selector or "*")
    if not chosen:
        print("no checks selected: declare them in checks/*.yaml or beside a model")
        return 0
    with open_warehouse_sql(project.warehouse, root) as sql:
        results = [run_check(sql, check) for check in chosen]
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, default=str))
    else:
        for r in results:
            print(render_check(r))
        print(check_counts(results))
    return 1 if any(not r.passed and r.severity == "error" for r in results) else 0


def _run(args: argparse.Namespace, models: ModelSet) -> int:
    from podium.cli.commands import _project
    from podium.transforms.service import run_models

    project = _project(args)

    def built(b: Built) -> None:
        if not args.json:
            written = f" ({b.written:,} written)" if b.materialized != "view" else ""
            print(f"{b.model}: {b.materialized}, {b.rows:,} rows{written} in {b.seconds:.2f}s")

    def failed(name: str, error: str) -> None:
        if not args.json:
            print(f"{name}: FAILED: {error}")

    def checked(result: CheckResult) -> None:
        if not args.json:
            print(render_check(result, indent="  "))

    result = run_models(
        project,
        args.target or "*",
        models=models,
        on_built=built,
        on_failed=failed,
        on_checked=checked,
    )
    for name, upstream in result.skipped.items():
        if not args.json:
            print(f"{name}: skipped, it reads {upstream}, which did not build")
    if args.json:
        print(
            json.dumps(
                {
                    "built": [b.to_json() for b in result.built],
                    "failed": result.failed,
                    "skipped": result.skipped,
                    "checks": [c.to_json() for c in result.checks],
                },
                indent=2,
            )
        )
    return 0 if result.ok else 1
