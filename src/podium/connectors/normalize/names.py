"""Warehouse-safe names for fields and tables: ``customerId`` → ``customer_id``.

Nested objects join with ``__`` (``customer__default_address__city``); names longer than
PostgreSQL's 63 bytes are cut and end in a short hash of the full name, so two long names
never collide.
"""

from __future__ import annotations

import hashlib
import re

SEPARATOR = "__"
MAX_LENGTH = 63
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def identifier(name: str) -> str:
    """One path segment as a lower-case identifier (never empty, never a leading digit)."""
    text = _CAMEL.sub("_", name.strip()).lower()
    text = _UNSAFE.sub("_", text).strip("_")
    text = re.sub(r"_{3,}", "__", text)
    if not text:
        text = "_" + hashlib.sha1(name.encode()).hexdigest()[:6]
    if text[0].isdigit():
        text = "_" + text
    return shorten(text)


def join(*parts: str) -> str:
    return shorten(SEPARATOR.join(p for p in parts if p))


def shorten(name: str) -> str:
    if len(name) <= MAX_LENGTH:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_LENGTH - 9]}_{digest}"


def quote(name: str) -> str:
    """A quoted SQL identifier (both DuckDB and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
