"""``podium plugins``: what podium can do here — its own task kinds, source types,
warehouses and notification schemes, and those installed packages add — and every plugin
that cannot be used, with why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from podium.plugins import Plugins


def installed() -> dict[str, dict[str, Any]]:
    """Group → its built-in names, the plugins found (name → where from) and problems."""
    from podium.connectors import registry as sources
    from podium.connectors import warehouse
    from podium.kinds import registry as kinds
    from podium.notify import delivery
    from podium.syncs import destination

    groups: dict[str, tuple[list[str], Plugins]] = {
        kinds.GROUP: (_own_kinds(), kinds.installed()),
        sources.GROUP: (list(sources.BUILT_IN), sources.installed()),
        warehouse.GROUP: (list(warehouse.KEYS), warehouse.installed()),
        delivery.GROUP: (["apprise's schemes (slack, mailto, json, …)"], delivery.installed()),
        destination.GROUP: (list(destination.BUILT_IN), destination.installed()),
    }
    return {
        group: {
            "podium": own,
            "plugins": {name: _origin(obj) for name, obj in sorted(found.found.items())},
            "problems": {**found.broken, **found.refused},
        }
        for group, (own, found) in groups.items()
    }


def cmd_plugins(args: argparse.Namespace) -> int:
    listing = installed()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for group, found in listing.items():
        print(f"{group}:")
        print(f"  podium's own: {', '.join(found['podium'])}")
        for name, origin in found["plugins"].items():
            print(f"  {name}  ({origin})")
        for name, problem in found["problems"].items():
            print(f"  {name}  NOT USABLE: {problem}")
    if not any(found["plugins"] or found["problems"] for found in listing.values()):
        print("no plugins installed; see docs/plugins.md to add kinds, sources, warehouses")
    return 0


def _own_kinds() -> list[str]:
    from podium.kinds import registry as kinds

    return [
        k.name
        for k in kinds.written_kinds()
        if str(type(k).__module__).startswith("podium.") and not isinstance(k, kinds.Unloadable)
    ]


def _origin(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return str(module)
