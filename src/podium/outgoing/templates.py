"""``{{ path }}`` references in an http task's URL, headers and body.

A reference is a dotted path from one of the roots below; a segment of digits indexes a
list (``upstream.shopify.orders.0.id``)::

    row        the current row (for_each, one call per row); row.order_id is one column
    rows       the current batch of rows (for_each with batch: N), a list
    params     the run's params merged with the task's
    upstream   the outputs of the tasks this one depends on: upstream.TASK.FIELD
    trigger    what started the run: trigger.payload.id for an event or webhook
    run        run.id, run.task, run.attempt, run.workflow, run.logical_time,
               run.idempotency_key

A string that is exactly one reference becomes the value it names, whatever its type
(``"{{ upstream.shopify.rows }}"`` is a list). A reference inside longer text is written
as text: strings as they are, null as nothing, anything else as JSON. In the URL each
referenced value is percent-encoded, so ``/orders/{{ row.order_id }}`` stays one segment.
``${VAR}`` (the environment, read when the project loads) is separate and comes first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

ROOTS = ("row", "rows", "params", "upstream", "trigger", "run")
_REFERENCE = re.compile(r"\{\{(.*?)\}\}")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*")


class UnresolvedReference(Exception):
    """A reference that names nothing in the values at hand: ``where`` it was written
    (``body.orders``), its ``path`` and why."""

    def __init__(self, where: str, path: str, reason: str) -> None:
        self.where, self.path, self.reason = where, path, reason
        super().__init__(f"{where}: {{{{ {path} }}}} does not resolve: {reason}")


def references(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``(where, path)`` written in ``value`` (nested mappings and lists walked;
    ``where`` grows like ``body.orders.0``). Malformed references come out as written."""
    if isinstance(value, str):
        for match in _REFERENCE.finditer(value):
            yield where, match.group(1).strip()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from references(item, f"{where}.{index}")


def reference_problem(path: str, roots: tuple[str, ...] = ROOTS) -> str | None:
    """Why ``path`` cannot be a reference, or None."""
    if not _PATH.fullmatch(path):
        return (
            f"{{{{ {path} }}}} is not a reference; write a dotted path such as "
            "{{ row.order_id }} or {{ upstream.TASK.FIELD }}"
        )
    root = path.split(".", 1)[0]
    if root not in roots:
        return f"{{{{ {path} }}}} starts with unknown {root!r}; references start with " + (
            ", ".join(roots)
        )
    return None


def resolve(path: str, scope: Mapping[str, Any], where: str) -> Any:
    """The value ``path`` names in ``scope``; ``UnresolvedReference`` when it names nothing."""
    root, *rest = path.split(".")
    if root not in scope:
        raise UnresolvedReference(where, path, f"there is no {root!r} here")
    value, walked = scope[root], root
    for segment in rest:
        value = _step(value, segment, walked, where, path)
        walked = f"{walked}.{segment}"
    return value


def _step(value: Any, segment: str, walked: str, where: str, path: str) -> Any:
    if isinstance(value, Mapping):
        if segment in value:
            return value[segment]
        keys = ", ".join(sorted(str(k) for k in value)[:12]) or "nothing"
        raise UnresolvedReference(where, path, f"{walked} has no {segment!r} (it has: {keys})")
    if isinstance(value, list | tuple):
        if segment.isdigit() and int(segment) < len(value):
            return value[int(segment)]
        raise UnresolvedReference(
            where, path, f"{walked} is a list of {len(value)}; {segment!r} is not an index in it"
        )
    shown = "null" if value is None else type(value).__name__
    raise UnresolvedReference(where, path, f"{walked} is {shown}, which has no {segment!r}")


def render(value: Any, scope: Mapping[str, Any], where: str) -> Any:
    """``value`` with every reference replaced (see the module docstring)."""
    if isinstance(value, str):
        return render_text(value, scope, where, whole=True)
    if isinstance(value, Mapping):
        return {key: render(item, scope, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, scope, f"{where}.{i}") for i, item in enumerate(value)]
    return value


def render_text(
    text: str,
    scope: Mapping[str, Any],
    where: str,
    *,
    whole: bool = False,
    encode: Callable[[str], str] | None = None,
) -> Any:
    """``text`` with its references replaced; with ``whole``, a text that is exactly one
    reference becomes that value itself. ``encode`` rewrites each substituted text."""
    if "{{" not in text:
        return text
    match = _REFERENCE.fullmatch(text.strip())
    if whole and match is not None:
        return resolve(match.group(1).strip(), scope, where)

    def substitute(found: re.Match[str]) -> str:
        piece = as_text(resolve(found.group(1).strip(), scope, where))
        return encode(piece) if encode is not None else piece

    return _REFERENCE.sub(substitute, text)


def as_text(value: Any) -> str:
    """How a referenced value is written inside longer text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)
