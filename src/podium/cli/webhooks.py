"""``podium webhooks list | show ID | replay ID``: the webhook inbox of the project's store.

Thin adapters over ``podium.webhooks.inbox``, the functions the API and the UI call.
A replay wakes a running ``podium up``, which processes the entry again.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from podium.core.masking import Masker
from podium.webhooks import inbox


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=["list", "show", "replay"],
        help="list the inbox, show one delivery, or replay it",
    )
    p.add_argument("id", nargs="?", type=int, help="show/replay: the inbox id (from list)")
    p.add_argument("--connection", help="list: only this connection's deliveries")
    p.add_argument("--status", choices=list(inbox.STATUSES), help="list: only this status")
    p.add_argument("--limit", type=int, default=50, help="list: at most this many (default 50)")
    p.add_argument("--offset", type=int, default=0, help="list: skip this many newest first")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_webhooks(args: argparse.Namespace) -> int:
    from podium.cli.commands import _open, _project
    from podium.errors import UsageError

    project = _project(args)
    mask = Masker(project.secrets)
    db = _open(project)
    if args.action == "list":
        entries = inbox.list_deliveries(
            db,
            connection=args.connection,
            status=args.status,
            limit=args.limit,
            offset=args.offset,
        )
        _print(mask.data(entries), args.json, render_deliveries)
        return 0
    if args.id is None:
        raise UsageError(
            f"podium webhooks {args.action} needs the inbox ID (see podium webhooks list)"
        )
    if args.action == "show":
        _print(mask.data(inbox.show_delivery(db, args.id)), args.json, _render_one)
        return 0
    entry = inbox.replay(db, args.id)
    if args.json:
        print(json.dumps(mask.data(entry), indent=2))
    else:
        print(
            f"webhook delivery {entry['id']} ({entry['connection']} {entry['delivery_id']}):"
            " pending again; podium up processes it and starts its workflows again"
        )
    return 0


def _print(value: Any, as_json: bool, render: Any) -> None:
    print(json.dumps(value, indent=2) if as_json else render(value))


def render_deliveries(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no webhook deliveries"
    lines = [
        f"{'ID':>6} {'CONNECTION':<14} {'STATUS':<10} {'TRIES':>5} {'RECEIVED':<19}"
        f" {'TOPIC':<22} DELIVERY / ERROR"
    ]
    for e in entries:
        note = e["delivery_id"] + (f"  {e['last_error']}" if e["last_error"] else "")
        lines.append(
            f"{e['id']:>6} {e['connection']:<14} {e['status']:<10} {e['attempts']:>5}"
            f" {_clock(e['received_at']):<19} {e['topic'] or '-':<22} {note}"
        )
    return "\n".join(lines)


def _render_one(entry: dict[str, Any]) -> str:
    lines = [
        f"webhook delivery {entry['id']}: {entry['connection']} {entry['delivery_id']}",
        f"  status {entry['status']}  attempts {entry['attempts']}  replays {entry['replays']}",
        f"  topic {entry['topic'] or '-'}  received {_clock(entry['received_at'])}"
        f"  processed {_clock(entry['processed_at'])}",
    ]
    if entry["last_error"]:
        lines.append(f"  last error: {entry['last_error']}")
    lines.append("  headers:")
    lines.extend(f"    {k}: {v}" for k, v in sorted(entry["headers"].items()))
    lines.append("  body:")
    lines.append("    " + str(entry["body"]))
    return "\n".join(lines)


def _clock(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"
