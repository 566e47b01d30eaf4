"""``outgoing_webhooks:`` in podium.yaml: where podium POSTs its events, signed.

    outgoing_webhooks:
      - url: https://ops.example.com/podium-hook
        secret: ${OUTGOING_HOOK_SECRET}          # signs each delivery (Podium-Signature)
        events: [RunFinished, AssetUpdated]      # the default; event types or custom names
        workflows: [daily]                       # optional: only events of these workflows
        name: ops                                # optional: default HOST-HASH of the url
        attempts: 5                              # tries per event before it is failed
        retry_delay: 10s                         # the first retry's wait; doubles, up to 1h
        timeout: 10s                             # per delivery

``check_outgoing_webhooks`` reports every problem at its line (podium.yaml is being read);
``outgoing_webhooks`` turns the checked mappings into ``OutgoingWebhook`` values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from podium.core.events import SYSTEM_EVENT_TYPES
from podium.settings.describe import NAME, NAMES, POSITIVE_DURATION, Option, Settings
from podium.settings.secrets import url_secrets
from podium.settings.yaml_lines import Fields, LineDict, LineList, Problems, did_you_mean, located

DEFAULT_EVENTS = ("RunFinished", "AssetUpdated")
HOOK = Settings(
    (
        Option("name", NAME, "default: HOST-HASH of the url"),
        Option("url", {"type": "string", "pattern": "^https?://[^/]"},
               "where the events are POSTed", required=True),
        Option("secret", {"type": "string", "minLength": 1},
               "signs each delivery (Podium-Signature): ${OUTGOING_HOOK_SECRET}", required=True),
        Option("events", NAMES, f"event types or custom event names ({', '.join(DEFAULT_EVENTS)})"),
        Option("workflows", NAMES, "only events of these workflows (default: every event)"),
        Option("attempts", {"type": "integer", "minimum": 1}, "tries per event (5)"),
        Option("retry_delay", POSITIVE_DURATION, "the first retry's wait; doubles, up to 1h (10s)"),
        Option("timeout", POSITIVE_DURATION, "per delivery (10s)"),
    ),
    doc="Where podium POSTs its events, signed.",
)  # fmt: skip
KEYS = HOOK.names
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class OutgoingWebhook:
    name: str
    url: str
    secret: str
    events: frozenset[str]
    workflows: frozenset[str]  # empty: every workflow (and events of none)
    attempts: int = 5
    retry_delay: float = 10.0
    timeout: float = 10.0

    def retry_wait(self, attempts: int) -> float:
        """Seconds between try ``attempts`` and the next (0 before the first)."""
        return 0.0 if attempts <= 0 else min(3600.0, self.retry_delay * 2.0 ** (attempts - 1))


def event_types() -> list[str]:
    """Every podium event type (the subclasses of ``core.events.Event``)."""
    return sorted(SYSTEM_EVENT_TYPES)


def check_outgoing_webhooks(items: Any, problems: Problems) -> None:
    """Reports what is wrong with each hook under ``outgoing_webhooks:`` (a YAML list)."""
    if not isinstance(items, LineList):
        return  # reported by the caller
    names: dict[str, int] = {}
    for index, item in enumerate(items):
        item = located(item, items.line_at(index))
        if not isinstance(item, LineDict):
            continue  # reported by the caller
        read = Fields(item, problems, f"outgoing_webhooks[{index}]")
        hook = read_hook(read)
        if hook is None:
            continue
        if hook.name in names:
            where = "name" if "name" in item else "url"
            read.problem(
                where,
                f"another outgoing webhook (item {names[hook.name]}) is also named "
                f"{hook.name!r}; give each a name: of its own",
            )
        names.setdefault(hook.name, index)


def read_hook(read: Fields) -> OutgoingWebhook | None:
    """The hook ``read`` holds; None when its url or secret is missing or wrong."""
    read.unknown_keys(KEYS)
    url = _url(read)
    secret = read.text("secret")
    if not read.has("secret"):
        read.problem(
            None,
            "add secret: ${OUTGOING_HOOK_SECRET}; each delivery is signed with it so the "
            "receiver can check it came from podium",
        )
    name = read.text("name") or (_default_name(url) if url else "")
    if read.has("name") and not _NAME.fullmatch(name):
        read.problem("name", f"name {name!r} may hold only letters, digits, '_', '.' and '-'")
    events = _events(read)
    workflows = read.names("workflows") if read.has("workflows") else ()
    attempts = read.integer("attempts", 5, minimum=1)
    retry_delay = read.duration("retry_delay", 10.0, positive=True)
    timeout = read.duration("timeout", 10.0, positive=True)
    if not url or not secret:
        return None
    return OutgoingWebhook(
        name, url, secret, events, frozenset(workflows), attempts, retry_delay, timeout
    )


def _url(read: Fields) -> str | None:
    if not read.has("url"):
        read.problem(None, "add url: https://… (where the events are POSTed)")
        return None
    url = read.text("url")
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        read.problem("url", "url must start with http:// or https:// and name a host")
        return None
    return url


def _default_name(url: str) -> str:
    host = urlsplit(url).hostname or "hook"
    return f"{host}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _events(read: Fields) -> frozenset[str]:
    if not read.has("events"):
        return frozenset(DEFAULT_EVENTS)
    names = read.names("events")
    if not names and isinstance(read.mapping.get("events"), list):
        read.problem("events", "name at least one event type, e.g. [RunFinished]")
    known = event_types()
    for name in names:
        hint = did_you_mean(name, known)
        if name not in known and hint:
            read.problem("events", f"unknown event type {name!r}{hint}")
    return frozenset(names)


def outgoing_webhooks(raw: Sequence[Mapping[str, Any]]) -> list[OutgoingWebhook]:
    """The hooks of ``project.outgoing_webhooks`` (already checked when it loaded)."""
    found = []
    for index, item in enumerate(raw):
        mapping = located(item, 1)
        if isinstance(mapping, LineDict):
            hook = read_hook(Fields(mapping, Problems("podium.yaml"), f"item {index}"))
            if hook is not None:
                found.append(hook)
    return found


def outgoing_secrets(raw: Any) -> set[str]:
    """The secrets written under ``outgoing_webhooks:`` (each ``secret``, URL passwords),
    so that they are masked like every other secret even when written literally."""
    found: set[str] = set()
    if not isinstance(raw, list):
        return found
    for item in raw:
        if isinstance(item, Mapping):
            secret = item.get("secret")
            if isinstance(secret, str) and secret:
                found.add(secret)
            if isinstance(item.get("url"), str):
                found |= url_secrets(item["url"])
    return found
