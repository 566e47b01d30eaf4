"""``/docs``: Swagger UI over ``/openapi.json``, from files shipped in the package.

FastAPI's own page loads Swagger UI from a CDN, so without internet it is blank. podium
serves swagger-ui-dist's bundle and stylesheet (vendored unchanged in
``server/ui/static/``, with their licence) from ``/static/``, like the UI's own files.
``/redoc`` (another CDN page) is not offered.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

SWAGGER_JS = "/static/swagger-ui-bundle.js"
SWAGGER_CSS = "/static/swagger-ui.css"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def add_api_docs(app: FastAPI) -> None:
    """The docs routes; ``app`` is made with ``docs_url=None, redoc_url=None``."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · HTTP API",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url="data:,",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_ui_parameters={"validatorUrl": None},  # no badge from swagger.io
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
