"""Serves the dashboard from the FastAPI app: the page at ``/``, its files under ``/static``."""

from __future__ import annotations

import os
from html import escape
from os import PathLike
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from chargegrid.web.assets import STATIC_DIR, missing_vendor_files
from chargegrid.web.ocpp_endpoint import router as ocpp_endpoint_router
from chargegrid.web.whoami import router as whoami_router

# The page talks only to its own origin; inline styles are needed by the chart library,
# which positions its cursor and legend through style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class RevalidatedStaticFiles(StaticFiles):
    """Static files that browsers revalidate each time (ETag), because names carry no hash."""

    def file_response(
        self,
        full_path: str | PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def missing_assets_page(missing: list[str]) -> HTMLResponse:
    """A plain page that says which bundled files are missing and how to build them."""
    items = "".join(f"<li><code>{escape(name)}</code></li>" for name in missing)
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>chargegrid: dashboard assets missing</title></head><body>"
        "<h1>The dashboard's bundled assets are missing</h1>"
        f"<p>These files are not installed in the package:</p><ul>{items}</ul>"
        "<p>Run <code>scripts/build-assets.sh</code> (needs <code>npm</code>) from the "
        "source tree, or <code>make run</code>, then reload this page. The REST API under "
        "<code>/api/v1</code> works without them.</p></body></html>"
    )
    return HTMLResponse(body, status_code=503, headers=PAGE_HEADERS)


def mount(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Add the dashboard to ``app``: ``/`` (the page), ``/static/*`` (its files) and
    ``/api/v1/auth/me`` (the caller's role, which decides the forms it shows)."""
    app.include_router(whoami_router)
    app.include_router(ocpp_endpoint_router)  # the OCPP URL a new charger is given

    @app.get("/", include_in_schema=False)
    async def dashboard_page() -> Response:
        # Checked per request so building the assets fixes a running server.
        missing = missing_vendor_files(static_dir)
        if missing:
            return missing_assets_page(missing)
        return FileResponse(static_dir / "index.html", headers=PAGE_HEADERS)

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard_alias() -> RedirectResponse:
        return RedirectResponse("/", status_code=308)

    app.mount("/static", RevalidatedStaticFiles(directory=static_dir), name="dashboard-static")
