"""Rendering UI pages: Jinja2 with autoescape on, every printed value masked.

Three layers keep secrets and markup where they belong:

- every ``{{ value }}`` passes the project's ``Masker`` *before* it is escaped (Jinja's
  ``finalize``), so a secret is caught whatever characters it has;
- the ``json`` filter masks a structure before serialising it (a secret with a quote in it
  would otherwise reach the page as ``\\"``);
- the finished page is masked once more, and sent with a Content-Security-Policy that runs
  only podium's own script file: an injected ``<script>`` would not run even if it got in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from podium.core.durations import format_duration
from podium.core.masking import Masker
from podium.server.auth import csrf_field
from podium.server.ui.gantt import seconds

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FRAGMENT_HEADER = "X-Podium-Fragment"


class Pages:
    """The UI's templates, bound to one project's secret mask."""

    def __init__(self, mask: Masker) -> None:
        self.mask = mask
        self.env = Environment(
            loader=PackageLoader("podium.server.ui", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            finalize=self._finalize,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            json=self._json,
            seg=segment,
            when=when,
            took=took,
            duration=format_duration,
        )
        self.env.globals.update(query=query, took=took)

    def _finalize(self, value: Any) -> Any:
        if isinstance(value, Markup):
            return Markup(self.mask(str(value)))
        if value is None or isinstance(value, bool | int | float):
            return "" if value is None else value
        return self.mask(str(value))

    def _json(self, value: Any, indent: int | None = 2) -> str:
        return json.dumps(self.mask.data(value), indent=indent, ensure_ascii=False, default=str)

    def html(self, template: str, request: Request, context: Mapping[str, Any]) -> str:
        page = self.env.get_template(template).render(
            request=request, csrf_field=Markup(csrf_field(request)), **context
        )
        return self.mask(page)

    def respond(
        self,
        template: str,
        request: Request,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        fragment: bool = False,
    ) -> HTMLResponse:
        headers = dict(SECURITY_HEADERS)
        if fragment:
            headers[FRAGMENT_HEADER] = "1"
        return HTMLResponse(self.html(template, request, context), status, headers=headers)


def segment(value: object) -> str:
    """A value made safe as one URL path segment (``/`` and ``?`` included)."""
    return quote(str(value), safe="")


def query(base: str, **params: object) -> str:
    """``base`` with the query string of the params that are set."""
    used = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{base}?{urlencode(used)}" if used else base


def when(value: str | float | None) -> str:
    """A moment as ``2026-03-02 05:00:07`` UTC ('-' when unset)."""
    if value is None or value == "":
        return "-"
    moment = (
        datetime.fromtimestamp(value, UTC)
        if isinstance(value, int | float)
        else datetime.fromisoformat(value)
    )
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def took(start: str | float | None, end: str | float | None, now: float | None = None) -> str:
    """How long from ``start`` to ``end`` (or to ``now`` while it runs)."""
    began, ended = seconds(start), seconds(end)
    if began is None:
        return "-"
    if ended is None:
        if now is None:
            return "-"
        ended = now
    return format_duration(max(ended - began, 0.0))
