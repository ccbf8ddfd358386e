"""Plugchoice at ``/compat/plugchoice`` (developer.plugchoice.com; docs/compat.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chargegrid.compat.surface import Surface, VendorError

router = APIRouter()


def render_error(error: VendorError) -> JSONResponse:
    """Plugchoice's (Laravel's) shape: ``{"message"}``, and for 422 ``errors`` as
    ``{field: [messages]}``."""
    body: dict[str, object] = {"message": error.message}
    if error.errors:
        fields: dict[str, list[str]] = {}
        for e in error.errors:
            fields.setdefault(e.field, []).append(e.message)
        body["errors"] = fields
    return JSONResponse(body, status_code=error.status, headers=dict(error.headers or {}))


SURFACE = Surface(
    tag="Plugchoice",
    prefix="/compat/plugchoice",
    router=router,
    render_error=render_error,
    description="Plugchoice's connector update (API v3) over chargegrid's connectors.",
)
