"""``podium models list | graph | compile MODEL | run SELECTOR``: the project's SQL models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from podium.errors import UsageError

if TYPE_CHECKING:
    from podium.transforms.materialize import Built
    from podium.transforms.models import ModelSet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "graph", "compile", "run"])
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

    result = run_models(
        project, args.target or "*", models=models, on_built=built, on_failed=failed
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
                },
                indent=2,
            )
        )
    return 0 if result.ok else 1
