"""Incoming webhooks: verified on the raw body, kept in a durable inbox before the 2xx,
processed once into the runs of matching ``webhook`` triggers.

    settings.py   a connection's ``webhooks:`` settings (podium.yaml) and their problems
    verify.py     signature schemes (shopify, stripe, klaviyo, hmac); delivery id and topic
    inbox.py      the inbox table: store, list, show, replay (CLI, API and UI call these)
    writer.py     the receiver's group-commit writer: many deliveries, one commit
    match.py      which triggers a delivery fires, and the params of its runs (pure)
    grammar.py    the ``webhook`` trigger in workflow YAML, and its project checks
    process.py    the engine's side: due entries into runs, retries, dead letters

The HTTP route is ``POST /webhooks/{connection}`` in ``podium.server.webhooks``.
"""

from __future__ import annotations

from podium.webhooks.inbox import list_deliveries, replay, show_delivery

__all__ = ["list_deliveries", "replay", "show_delivery"]
