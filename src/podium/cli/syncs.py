"""``podium sync``: list the syncs, preview one (what it would add, update and remove, with
samples, and whether its guard would let it), or run one now in this process.

    podium sync list
    podium sync preview vip_to_klaviyo            nothing is sent, no state is written
    podium sync run vip_to_klaviyo [--dry-run] [--override-guard]
    podium sync preview orders_to_3pl --payload '{"id": 1001, …}'   a from: trigger sync
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from podium.core.masking import Masker
from podium.errors import UsageError

SAMPLE_WIDTH = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "preview", "run"], help="list, preview or run")
    p.add_argument("name", nargs="?", help="the sync (syncs: in podium.yaml)")
    p.add_argument("--dry-run", action="store_true", help="run: plan and report, send nothing")
    p.add_argument("--override-guard", action="store_true", help="run: send even past max_changes")
    p.add_argument(
        "--payload", metavar="JSON", help="a trigger payload, for a sync whose from: is trigger"
    )
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_sync(args: argparse.Namespace) -> int:
    from podium.cli.commands import _project
    from podium.kinds.sync import preview, sync_now, sync_plan

    project = _project(args)
    mask = Masker(project.secrets)
    if args.action == "list":
        return _list(project.syncs, args.json)
    if not args.name:
        raise UsageError(f"podium sync {args.action} needs a sync's name (podium sync list)")
    plan = sync_plan(project, args.name)
    payload = _payload(args.payload, plan.config)
    if args.action == "preview":
        planned, problem = preview(plan, payload=payload)
        if args.json:
            print(mask(json.dumps(_plan_json(planned, problem), indent=2, default=str)))
        else:
            print(mask(_plan_text(planned, problem)))
        return 0
    from podium import clock

    run_id = f"cli-{clock.now().strftime('%Y%m%dT%H%M%S')}"
    report = sync_now(
        plan,
        run_id=run_id,
        payload=payload,
        dry_run=args.dry_run,
        override_guard=args.override_guard,
    )
    if args.json:
        print(mask(json.dumps(report.to_output(), indent=2, default=str)))
    else:
        print(mask(report.summary()))
        for key, reason in report.rejected_samples[:10]:
            print(mask(f"  rejected {key}: {reason}"))
    return 0


def _payload(text: str | None, config: Any) -> Any:
    if not config.from_trigger:
        if text is not None:
            raise UsageError(
                f"sync {config.name} reads {config.source}, not a trigger: drop --payload"
            )
        return None
    if text is None:
        raise UsageError(
            f"sync {config.name} syncs each run's trigger payload (from: {config.source});"
            " give one with --payload '{...}'"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--payload is not JSON: {exc.msg} at character {exc.pos}") from None


def _list(syncs: Mapping[str, Any], as_json: bool) -> int:
    rows = [
        {
            "name": c.name,
            "from": c.source,
            "to": c.connection,
            "object": c.object,
            "mode": str(c.mode),
            "key": c.key,
        }
        for c in syncs.values()
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no syncs: add them under syncs: in podium.yaml (docs/syncs.md)")
    for r in [] if as_json else rows:
        print(f"{r['name']}: {r['from']} → {r['to']} {r['object']} ({r['mode']} on {r['key']})")
    return 0


def _plan_json(planned: Any, problem: str | None) -> dict[str, Any]:
    return {
        "sync": planned.spec.name,
        "mode": str(planned.spec.mode),
        "source_rows": planned.source_rows,
        "synced": planned.synced,
        "add": planned.adds,
        "update": planned.updates,
        "remove": planned.removes,
        "retries": planned.retries,
        "null_keys": planned.null_keys,
        "guard": problem or "passes",
        "samples": {
            str(op): [{"key": c.key, "values": dict(c.values)} for c in changes]
            for op, changes in planned.samples.items()
        },
        "rejected": [{"key": c.key, "reason": c.reason} for c in planned.rejected],
    }


def _plan_text(planned: Any, problem: str | None) -> str:
    lines = [planned.summary(), f"guard: {problem or 'passes'}"]
    for op, changes in planned.samples.items():
        for change in changes:
            values = json.dumps(dict(change.values), default=str)
            if len(values) > SAMPLE_WIDTH:
                values = values[: SAMPLE_WIDTH - 1] + "…"
            lines.append(f"  {op} {change.key} {values if change.values else ''}".rstrip())
    for change in planned.rejected:
        lines.append(f"  retry {change.key}: rejected before: {change.reason}")
    for row in planned.null_key_samples:
        lines.append(f"  not sent (NULL {planned.spec.key}): {json.dumps(dict(row), default=str)}")
    lines.append("nothing was sent (podium sync run sends it)")
    return "\n".join(lines)
