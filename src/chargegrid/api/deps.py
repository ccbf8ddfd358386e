"""FastAPI dependencies: the process-wide services on ``app.state``, the caller, a context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chargegrid.api.problems import Unauthorized
from chargegrid.api.rate_limit import limit_failed_auth, limit_principal
from chargegrid.bus.memory import EventBus
from chargegrid.services.auth import Principal, PrincipalCache
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork

_bearer = HTTPBearer(auto_error=False, description="`chargegrid token create --role ROLE`")


# async: FastAPI runs a plain ``def`` dependency in a thread pool, a costly hop per request.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.bus
    return bus


async def get_uow(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork(db) as uow:
        yield uow


async def get_principal(
    request: Request,
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = None if credentials is None else credentials.credentials
    return await principal_for_token(request, uow, token)


async def principal_for_token(request: Request, uow: UnitOfWork, token: str | None) -> Principal:
    """The caller of ``token`` (None: none was sent), rate-limited as every API caller is;
    Unauthorized when it is missing, unknown or revoked. The vendor surfaces (compat/)
    read the token from their own headers and come through here too."""
    if token is None:
        limit_failed_auth(request)
        raise Unauthorized("send Authorization: Bearer <token>")
    cache: PrincipalCache = request.app.state.principals
    principal = cache.get(token)
    if principal is None:
        # Looked up first, charged only on failure: the failures of others at this
        # address must not lock a valid token out (api/rate_limit.py).
        principal = await cache.authenticate(uow, token)
        if principal is None:
            limit_failed_auth(request)
            raise Unauthorized("unknown or revoked token")
    limit_principal(request, principal, token)
    return principal


async def get_context(
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    bus: Annotated[EventBus, Depends(get_bus)],
    who: Annotated[Principal, Depends(get_principal)],
) -> ConfigContext:
    return ConfigContext(uow, bus, who)


Ctx = Annotated[ConfigContext, Depends(get_context)]
Who = Annotated[Principal, Depends(get_principal)]
