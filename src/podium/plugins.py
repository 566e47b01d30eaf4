"""Plugins: what other packages add to podium, found by entry point.

A plugin package names its objects in its ``pyproject.toml``, one table per group::

    [project.entry-points."podium.sources"]
    counter = "podium_example_plugin.counter:SOURCE"

=================== ================================ =========================================
group               the entry point's name is        its object satisfies
=================== ================================ =========================================
``podium.kinds``    the key a task is written with   ``podium.kinds.base.Kind``
``podium.sources``  a connection's ``type:``         ``podium.connectors.registry.SourcePlugin``
``podium.warehouses`` the warehouse's ``type:``      ``podium.connectors.warehouse.WarehousePlugin``
``podium.notifiers`` a notification URL's scheme     ``podium.notify.delivery.NotifierPlugin``
=================== ================================ =========================================

Each group is read once, when first needed (``forget`` reads them again). A name podium
already has cannot be taken over, and a plugin that cannot be imported, or whose object
lacks what its protocol asks, is not an error here: it is recorded as a problem that
``podium validate`` reports where the project uses that name, with what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any


@dataclass(frozen=True)
class Plugins:
    """One group's plugins: ``found`` by name, ``broken`` (name → why it cannot be used)
    and ``refused`` (a name podium has, which stays podium's → what the plugin is told)."""

    found: Mapping[str, Any]
    broken: Mapping[str, str]
    refused: Mapping[str, str]

    def problem(self, name: str) -> str | None:
        """Why the plugin called ``name`` cannot be used, or None."""
        return self.broken.get(name)


@lru_cache(maxsize=16)
def load_plugins(
    group: str, built_in: tuple[str, ...], what: str, needs: tuple[str, ...] = ()
) -> Plugins:
    """The plugins of entry point ``group``; ``what`` names one in messages (``source
    type``), ``built_in`` are names they cannot take, ``needs`` the attributes each must have.
    """
    found: dict[str, Any] = {}
    broken: dict[str, str] = {}
    refused: dict[str, str] = {}
    for point in entry_points(group=group):
        if point.name in built_in:
            refused[point.name] = (
                f"plugin {point.value!r} registers {what} {point.name!r}, which podium already"
                " has; give it another name"
            )
            continue
        try:
            loaded = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not raised
            broken[point.name] = (
                f"plugin {what} {point.name!r} ({point.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}; reinstall it or remove it"
            )
            continue
        missing = [name for name in needs if not hasattr(loaded, name)]
        if missing:
            broken[point.name] = (
                f"plugin {what} {point.name!r} ({point.value}) lacks {', '.join(missing)};"
                " update the plugin to one made for this version of podium"
            )
            continue
        found[point.name] = loaded
    return Plugins(found, broken, refused)


_forgetters: list[Callable[[], None]] = []


def on_forget(callback: Callable[[], None]) -> None:
    """``callback`` runs when the plugins are read again (a registry's own caches)."""
    _forgetters.append(callback)


def forget() -> None:
    """Reads every group again (after a plugin was installed in this process)."""
    load_plugins.cache_clear()
    for callback in _forgetters:
        callback()
