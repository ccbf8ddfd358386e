"""``/api/v1/docs``: Swagger UI from the server itself. FastAPI's default page loads it
from a CDN and is blank without internet; these files are installed from npm at the
version pinned in ``web/package-lock.json`` by ``scripts/build-assets.sh`` and served
with the dashboard's static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from chargegrid.web.assets import STATIC_DIR

ASSETS = "/static/vendor/swagger-ui"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def install(app: FastAPI, prefix: str) -> None:
    """Serve the docs page at ``{prefix}/docs`` (build the app with ``docs_url=None``)."""
    openapi_url = app.openapi_url or f"{prefix}/openapi.json"

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        missing = [
            name for name in FILES if not (STATIC_DIR / "vendor/swagger-ui" / name).is_file()
        ]
        if missing:
            return HTMLResponse(
                "<!doctype html><title>chargegrid API docs</title><p>Swagger UI is not "
                "installed in this build: run <code>scripts/build-assets.sh</code>. The "
                f'OpenAPI document is at <a href="{openapi_url}">{openapi_url}</a>.</p>',
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: REST API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # The default validator badge is an image from swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
