"""What the rate limiters let through, per connection: a hook for whoever counts it.

The ``HttpClient`` calls ``paced(connection, waited)`` after its limiter let a request go
(``waited``: seconds the limiter held it back). Nothing listens by default; ``podium up``'s
metrics (``podium.observe.metrics``) add a listener. A listener must be quick and must not
raise (one that does is dropped, so a broken counter never fails a request).

Counts are per process: requests paced in a worker process or on a Dask worker are not seen
by the ``podium up`` that serves ``/metrics``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

Listener = Callable[[str, float], None]  # connection, seconds waited

_listeners: list[Listener] = []
_guard = threading.Lock()


def add_listener(listener: Listener) -> Callable[[], None]:
    """Calls ``listener`` for every paced request from now on; returns its removal."""
    with _guard:
        _listeners.append(listener)

    def remove() -> None:
        with _guard, contextlib.suppress(ValueError):
            _listeners.remove(listener)

    return remove


def paced(connection: str, waited: float) -> None:
    """One request of ``connection`` went out after its limiter held it ``waited`` seconds."""
    for listener in tuple(_listeners):
        try:
            listener(connection, waited)
        except Exception:  # noqa: BLE001 - a counter must never fail a request
            with _guard, contextlib.suppress(ValueError):
                _listeners.remove(listener)
