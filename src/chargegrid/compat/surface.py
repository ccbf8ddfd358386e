"""A vendor surface: one vendor's paths, fields and error shape over our services.

Each surface is its own small ASGI app mounted under its prefix (``mount_surface``), so
that everything answered below ``/compat/<vendor>`` — its routes' errors, an unknown
path, a wrong method, a bad token, a rate limit — comes in the vendor's error shape,
while ``/api/v1`` keeps problem+json untouched. It shares the main app's state (database,
bus, token cache, rate limiter, runtime), so a request through a surface is the same
request as one through ``/api/v1``: same unit of work, same checks, same events, same
control loop. Its OpenAPI document is ``<prefix>/openapi.json``, tagged with its name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

from chargegrid.api import problems
from chargegrid.domain.errors import DomainError, FieldError, InvalidValue


@dataclass(frozen=True)
class VendorError:
    """An error to answer in a vendor's shape: its status, a message for people, the
    fields at fault (by the vendor's names) and headers (Retry-After, WWW-Authenticate)."""

    status: int
    message: str
    errors: tuple[FieldError, ...] = ()
    headers: Mapping[str, str] | None = None


ErrorRenderer = Callable[[VendorError], Response]


@dataclass(frozen=True)
class Surface:
    """What a vendor module hands to the wiring.

    ``field_names`` maps our field names to the vendor's, for the errors our services
    raise (``max_amperage`` -> ``maxAmperage``); request validation names the vendor's
    fields already. ``validation_status`` is what the vendor answers a bad body with.
    """

    tag: str
    prefix: str
    router: APIRouter
    render_error: ErrorRenderer
    description: str = ""
    field_names: Mapping[str, str] = field(default_factory=dict)
    validation_status: int = 422

    def error(
        self,
        status: int,
        message: str,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        renamed = tuple(
            FieldError(self.field_names.get(e.field, e.field), e.message) for e in errors
        )
        return self.render_error(VendorError(status, message, renamed, headers))


def error_responses(
    model: type[BaseModel], descriptions: Mapping[int, str]
) -> dict[int | str, dict[str, Any]]:
    """A router's ``responses``: each status documented with the vendor's error model."""
    return {status: {"model": model, "description": text} for status, text in descriptions.items()}


def mount_surface(app: FastAPI, surface: Surface) -> FastAPI:
    """Serve ``surface`` under its prefix on ``app``; the mounted app is returned."""
    sub = FastAPI(
        title=f"chargegrid: {surface.tag}-compatible API",
        version="1",
        description=surface.description,
        openapi_url="/openapi.json",
        openapi_tags=[{"name": surface.tag, "description": surface.description}],
        docs_url=None,  # as /api/v1: no CDN pages
        redoc_url=None,
    )
    sub.state = app.state  # one database, bus, token cache, rate limiter, runtime
    sub.include_router(surface.router, tags=[surface.tag])
    _install_errors(sub, surface)
    app.mount(surface.prefix, sub, name=f"compat-{surface.tag.lower()}")
    mount = app.router.routes[-1]
    assert isinstance(mount, Mount) and mount.app is sub
    # Starlette's mount pattern is ``.*`` without DOTALL: a path with an encoded newline
    # (``/v2/evses/%0A``) would miss the mount and get /api/v1's problem+json 404.
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return sub


def _install_errors(sub: FastAPI, surface: Surface) -> None:
    async def on_domain_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        errors = exc.errors if isinstance(exc, InvalidValue) else ()
        status = problems.status_of(exc)
        if isinstance(exc, InvalidValue):
            status = surface.validation_status
        return surface.error(status, str(exc), errors, problems.headers_of(exc))

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = problems.validation_errors(exc)
        message = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return surface.error(surface.validation_status, message, errors)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 400:  # a body FastAPI could not parse
            error = FieldError("body", "the body is not valid JSON")
            return surface.error(surface.validation_status, detail, [error])
        headers: dict[str, Any] = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(problems.allowed_methods(request))
        return surface.error(exc.status_code, detail, headers=headers)

    async def on_integrity_error(_request: Request, _exc: Exception) -> Response:
        return surface.error(409, "conflicts with an existing record")

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        problems.log.exception("unhandled error in the %s surface", surface.tag, exc_info=exc)
        return surface.error(500, "internal error; the server log has the details")

    sub.add_exception_handler(DomainError, on_domain_error)
    sub.add_exception_handler(RequestValidationError, on_validation_error)
    sub.add_exception_handler(StarletteHTTPException, on_http_error)
    sub.add_exception_handler(IntegrityError, on_integrity_error)
    sub.add_exception_handler(Exception, on_unexpected)
