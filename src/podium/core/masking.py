"""Masking secrets out of any text podium prints, logs or serves."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"


class Masker:
    """Replaces every known secret value in a text with ``***``.

    Values shorter than four characters are not masked: masking ``1`` or ``yes`` would
    shred ordinary output without protecting anything.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Mask these too from now on (a token fetched at run time, say)."""
        fresh = {s for s in secrets if len(s) >= 4} - self._values
        if not fresh:
            return
        self._values |= fresh
        values = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values))

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def data(self, value: Any) -> Any:
        """The same structure with every string masked: mask before serialising, so a
        secret the serialiser would escape (quotes, non-ASCII) cannot slip through."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def __bool__(self) -> bool:
        return self._pattern is not None
