"""Spirii at ``/compat/spirii`` (developer.spirii.com; docs/compat.md)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chargegrid.compat.surface import Surface, VendorError

router = APIRouter()

_TYPES = {400: "invalid_request", 401: "authentication_error", 403: "permission_error"}
_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_failed",
    429: "rate_limited",
}


def render_error(error: VendorError) -> JSONResponse:
    """Spirii's envelope: ``{"error": {type, code, message, param, request_id}}``."""
    kind = _TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request")
    body = {
        "type": kind,
        "code": _CODES.get(error.status, "internal_error"),
        "message": error.message,
        "param": error.errors[0].field if error.errors else None,
        "request_id": f"req_{uuid.uuid4().hex[:16]}",
    }
    return JSONResponse(
        {"error": body}, status_code=error.status, headers=dict(error.headers or {})
    )


SURFACE = Surface(
    tag="Spirii",
    prefix="/compat/spirii",
    router=router,
    render_error=render_error,
    description="Spirii's EVSE and connector API (v2) over chargegrid's EVSEs.",
)
