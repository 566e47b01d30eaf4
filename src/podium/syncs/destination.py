"""Where a sync sends its records: destination types, the objects they write, their writers.

A connection in podium.yaml that a sync may write to has a *destination type* (its
``type:``: ``klaviyo``, ``shopify``, ``threepl``, ``rest``, or a plugin's, by entry point
``podium.destinations``). Each of podium's is one module under
``podium.syncs.destinations`` exposing ``DESTINATION`` (a ``DestinationType``):

    objects      what it can write (``profiles``, ``list_members``, ``customer_tags`` …),
                 each a ``DestinationObject``: the modes it supports, its own settings
                 (``list: VIP``), described once, and a check of the sync's fields
    problems(settings)   the connection's settings, for a type that is not also a source
                         (a source type's own check covers the connections both read)
    open(connection, settings, target, env)   a ``Writer`` for one run of one sync

A ``Writer`` sends one batch at a time (at most ``batch_size`` changes, all of one op, in
key order) and answers one ``Outcome`` per change: landed (with the destination's id for
the record when it has one: it is kept in the sync's state and handed back, as
``Change.remote_id``, with later changes and removals of that record) or rejected with the
destination's reason (kept, reported, and retried on the next run). It paces itself and
retries what is transient (429, 5xx, a lost response) within the attempt; an error it
raises fails the batch as a whole: retryable (``RetryableTaskError``) when trying again
later may succeed, terminal otherwise. Nothing of that batch is recorded, so the next
attempt sends it again: a writer makes a resend safe (an idempotency key, a lookup before
a create), never the engine.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from logging import Logger
from typing import Any, Protocol

from podium.plugins import Plugins, load_plugins
from podium.settings.describe import Settings
from podium.syncs.diff import Mode
from podium.syncs.plan import Change
from podium.syncs.state import Outcome


@dataclass(frozen=True)
class SyncTarget:
    """What a writer is opened for: one sync's object, mode, key, fields and options."""

    sync: str
    connection: str
    object: str
    mode: Mode
    key: str
    fields: tuple[str, ...]  # destination field names, dotted for nesting (properties.ltv)
    options: Mapping[str, Any] = field(default_factory=dict)  # the object's own settings


@dataclass
class WriterEnv:
    """What a writer may use beyond its settings: the values never to show, the task's
    logger, the attempt's cancellation, and the counters it keeps for the run's report."""

    secrets: frozenset[str] = frozenset()
    log: Logger | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        """Adds ``n`` to a counter (``requests``, ``retries``, ``throttled`` …)."""
        self.counters[name] = self.counters.get(name, 0) + n


class Writer(Protocol):
    batch_size: int  # changes per ``send``

    def send(self, changes: Sequence[Change]) -> Sequence[Outcome]:
        """One outcome per change, keyed like it; raises when the batch as a whole failed."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DestinationObject:
    """One thing a destination type writes: ``modes`` it supports, its ``options`` (keys of
    the sync besides from/to/object/key/mode/fields/guard), and ``check`` of the sync's
    fields and options together (problems, each starting with the key it is about)."""

    name: str
    doc: str
    modes: frozenset[Mode]
    options: Settings
    check: Callable[[Mapping[str, str], Mapping[str, Any]], list[str]] = lambda f, o: []


class DestinationType(Protocol):
    objects: Mapping[str, DestinationObject]

    def problems(self, settings: Mapping[str, Any]) -> list[str]:
        """What is wrong with a connection's settings (its type's own keys)."""
        ...

    def open(
        self,
        connection: str,
        settings: Mapping[str, Any],
        target: SyncTarget,
        env: WriterEnv,
    ) -> Writer:
        """A writer for one run of ``target.sync``; ``settings``: the connection's own."""
        ...


#: type → the module exposing its DESTINATION
BUILT_IN = {
    "klaviyo": "podium.syncs.destinations.klaviyo",
    "shopify": "podium.syncs.destinations.shopify",
    "threepl": "podium.syncs.destinations.threepl",
    "rest": "podium.syncs.destinations.rest",
}


GROUP = "podium.destinations"


def installed() -> Plugins:
    """The destination types plugins add by entry point ``podium.destinations``."""
    return load_plugins(GROUP, tuple(BUILT_IN), "destination type", ("objects", "problems", "open"))


def destination_type(kind: str) -> DestinationType | None:
    """The destination type a connection's ``type:`` names (podium's own or a plugin's),
    or None when it cannot be written to."""
    module = BUILT_IN.get(kind)
    if module is None:
        plugin: DestinationType | None = installed().found.get(kind)
        return plugin
    found: DestinationType = importlib.import_module(module).DESTINATION
    return found


def is_destination(settings: Mapping[str, Any]) -> bool:
    """Whether a connection's ``type:`` is one a sync can write to."""
    kind = settings.get("type")
    return isinstance(kind, str) and (kind in BUILT_IN or kind in installed().found)


def destination_type_names() -> list[str]:
    return [*BUILT_IN, *sorted(installed().found)]


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"properties.ltv": 3}`` → ``{"properties": {"ltv": 3}}``: dotted field names
    become nested objects (a destination's body shape)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        node = out
        *parents, last = name.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return out
