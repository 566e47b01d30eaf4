"""Checks every connector's settings share: each adds a problem that starts with its key
and returns a usable default, so ``*_problems`` can report every problem at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podium.core.durations import parse_duration


def unknown_keys(settings: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    known = tuple(keys)
    return [
        f"{key}: unknown key; expected one of {', '.join(known)}"
        for key in settings
        if key not in known
    ]


def duration_setting(
    settings: Mapping[str, Any], key: str, default: float, problems: list[str]
) -> float:
    value = settings.get(key)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        problems.append(f"{key}: {exc}")
        return default


def retries_setting(settings: Mapping[str, Any], problems: list[str], default: int = 5) -> int:
    value = settings.get("retries", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"retries: expected an integer >= 0, got {value!r}")
        return default
    return int(value)


def stream_selection(value: Any, names: Sequence[str], problems: list[str]) -> tuple[str, ...]:
    """The streams a ``streams: [...]`` setting picks (all of ``names`` when absent)."""
    if value is None:
        return tuple(names)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append(f"streams: expected a list of stream names, got {value!r}")
        return tuple(names)
    unknown = [v for v in value if v not in names]
    if unknown:
        problems.append(
            f"streams: unknown {', '.join(unknown)}; expected some of {', '.join(names)}"
        )
    return tuple(v for v in value if v in names)
