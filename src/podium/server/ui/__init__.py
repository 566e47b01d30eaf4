"""The web UI served by ``podium up``: server-rendered HTML (Jinja2, autoescaped), inline
SVG for DAGs and timelines, plain POST forms for actions, and one small script that
refreshes the live part of a page. No JavaScript build step."""

from podium.server.ui.routes import ui_router

__all__ = ["ui_router"]
