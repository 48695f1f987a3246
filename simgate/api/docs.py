"""The API documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, from simgate's own files.

FastAPI's defaults load both from a CDN, so on a box without internet (or behind a strict
content policy) the pages stay blank. ``make assets`` installs the locked npm packages and copies
the files these pages load into ``simgate/web/static/vendor/``, which built wheels include. An
install without them (a checkout installed with pip alone) answers the pages with 503 and the
command that builds them, rather than a blank page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"
ASSETS_URL = "/static/vendor"
SWAGGER_JS = "swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui/swagger-ui.css"
FAVICON = "swagger-ui/favicon-32x32.png"
REDOC_JS = "redoc/redoc.standalone.js"


def _missing(*names: str) -> Response | None:
    absent = [name for name in names if not (VENDOR / name).is_file()]
    if not absent:
        return None
    return PlainTextResponse(
        "The API docs assets are not installed with this copy of simgate "
        f"({', '.join(absent)}). Build them with `make assets` in the source checkout, or "
        "install a wheel built by `make dist`. /openapi.json works without them.\n",
        status_code=503,
    )


SECURITY_SCHEMES = {
    "apikey": {
        "type": "apiKey",
        "in": "query",
        "name": "apikey",
        "description": "Your API key, as the `apikey` parameter (query string, form or JSON body).",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <API key or OAuth2 access token>` "
        "(tokens from `POST /oauth2/token`, client credentials grant).",
    },
}


def _document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the security schemes the operations refer to (cached)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = document
    return app.openapi_schema


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets; build ``app`` with ``docs_url=None`` and
    ``redoc_url=None`` so FastAPI's CDN pages do not shadow these."""
    title = f"{app.title} API"

    async def swagger(_request: Request) -> Response:
        return _missing(SWAGGER_JS, SWAGGER_CSS) or get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{ASSETS_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{ASSETS_URL}/{FAVICON}",
        )

    async def redoc(_request: Request) -> Response:
        return _missing(REDOC_JS) or get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{ASSETS_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{ASSETS_URL}/{FAVICON}",
            with_google_fonts=False,
        )

    app.openapi = lambda: _document(app)  # type: ignore[method-assign]
    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=VENDOR, check_dir=False), name="vendor")
