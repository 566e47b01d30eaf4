"""The UI's stylesheet and script, served from the package's ``static`` folder only.

The files are read once, when the router is built, into a table keyed by file name: a
request names a key or gets 404, so no path (``../``, ``%2e%2e``, an absolute path) can
reach anything else.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
}


def static_files() -> dict[str, tuple[bytes, str]]:
    """Every servable file in the package's static folder: name → (content, media type)."""
    folder = files("podium.server.ui") / "static"
    found = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in TYPES:
            found[entry.name] = (entry.read_bytes(), TYPES[suffix])
    return found


def add_static(router: APIRouter) -> None:
    table = static_files()

    @router.get("/static/{name:path}")
    def static(name: str) -> Response:
        if name not in table:
            return PlainTextResponse("not found", status_code=404)
        content, media_type = table[name]
        return Response(
            content,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )
