"""Every error the API answers, as RFC 9457 problem+json, mapped in this one place.

Domain errors, request validation, unknown routes, wrong methods, database conflicts
and unexpected failures all leave through here; none leaks a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from chargegrid.domain.errors import (
    ChargerTimeout,
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidValue,
    NotFound,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://chargegrid.dev/problems/"


class Unauthorized(DomainError):
    """Missing, unknown or revoked bearer token (HTTP 401)."""


class RateLimited(DomainError):
    """Too many requests from one token or address (HTTP 429); retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limit exceeded; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = None


def _doc(status: int) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {}},
    }


# Documented on every route, so clients and schemathesis know the error shapes.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: _doc(s) for s in (401, 403, 404, 409, 422, 429)
}
PROBLEM_RESPONSES[429]["headers"] = {
    "Retry-After": {
        "description": "Whole seconds until the client's rate limit lets a request in",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


# What a route that commands a charger may answer besides: the charger answered with a
# CallError or a broken answer (502), or not in time (504).
CHARGER_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    502: {**_doc(502), "description": "The charger answered with an OCPP CallError"},
    504: {**_doc(504), "description": "The charger did not answer in time"},
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int,
    detail: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": TYPE_BASE + phrase.lower().replace(" ", "-"),
        "title": phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


_STATUS: dict[type[DomainError], int] = {
    Unauthorized: 401,
    RateLimited: 429,
    InvalidValue: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    ChargerTimeout: 504,
}


def field_name(loc: Sequence[int | str]) -> str:
    """``("body", "connectors", 0, "phase_rotation")`` -> ``connectors[0].phase_rotation``."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part.startswith(("function-", "lax-", "strict-")) or "[" in part:
            continue  # pydantic's names for union members and validators, not fields
        else:
            name += ("." if name else "") + part
    return name or (str(loc[0]) if loc else "body")


def _validation_message(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "missing":
        return "required"
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return str(error.get("msg", "invalid value"))


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error (the vendor surfaces in compat/ use it too)."""
    return next((s for t, s in _STATUS.items() if isinstance(exc, t)), 400)


def headers_of(exc: DomainError) -> dict[str, str] | None:
    """The headers a domain error's answer carries (WWW-Authenticate, Retry-After)."""
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after_s)}
    return None


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    """A request's validation errors, each naming its field (``connectors[0].format``)."""
    return [
        FieldError(
            "body" if e.get("type") == "json_invalid" else field_name(e["loc"]),
            _validation_message(e),
        )
        for e in exc.errors()
    ]


async def _on_domain_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    errors = exc.errors if isinstance(exc, InvalidValue) else ()
    return problem(status_of(exc), str(exc) or None, errors, headers_of(exc))


async def _on_validation_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(422, detail, errors)


async def _on_http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (e.g. bytes that are not UTF-8): the same
        # 422 that malformed JSON gets, so clients handle one shape.
        return problem(422, detail, [FieldError("body", "the body is not valid JSON")])
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names the methods of the first route whose path matched; FastAPI has
        # one route per method, so that was one method of several.
        allowed = allowed_methods(request)
        if allowed:
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return problem(exc.status_code, detail, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some API route takes at the request's path (RFC 9110 15.5.6), found by
    asking the app's routes whether each method would fully match there. (Routes of
    included routers are not flat on the app in every FastAPI version, so no walking.)
    Mounts are left out: they take a path prefix in every method and answer for themselves.
    """
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _on_integrity_error(_request: Request, exc: Exception) -> ProblemResponse:
    # A unique key raced by a concurrent request: the same answer as the checked case.
    log.info("integrity error: %s", exc)
    return problem(409, "conflicts with an existing record")


async def _on_unexpected(_request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(Exception, _on_unexpected)
