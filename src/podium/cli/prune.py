"""``podium prune [--dry-run]``: forget what the project's ``retention:`` no longer keeps
(``podium up`` does the same every ``retention.every``)."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_prune(args: argparse.Namespace) -> int:
    from podium import clock
    from podium.cli.commands import _project
    from podium.store.database import open_database
    from podium.store.retention import RetentionPolicy, prune

    project = _project(args)
    db = open_database(project.store_url, project.secrets)
    try:
        done = prune(
            db, project.retention or RetentionPolicy(), now=clock.time(), dry_run=args.dry_run
        )
    finally:
        db.close()
    if args.json:
        print(json.dumps({"dry_run": done.dry_run, "counts": done.counts}, indent=2))
    else:
        print(done.summary())
    return 0
