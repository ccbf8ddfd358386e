"""How a vendor surface knows its caller: our own API tokens and roles, sent the way the
vendor's clients send their keys. Every check (unknown, revoked, rate limit, site scope,
role) is the one ``/api/v1`` makes (``api/deps.principal_for_token``, ``services/auth``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from chargegrid.api.deps import get_bus, get_uow, principal_for_token
from chargegrid.bus.memory import EventBus
from chargegrid.services.auth import Principal
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.uow import UnitOfWork

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A chargegrid API token (`chargegrid token create --role ROLE`)",
)
_key = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="apiKey",
    description="A chargegrid API token, bare or as `Bearer <token>`",
)


async def bearer_principal(
    request: Request,
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """``Authorization: Bearer <token>`` (Zaptec, AMPECO, Plugchoice)."""
    token = None if credentials is None else credentials.credentials
    return await principal_for_token(request, uow, token)


async def key_principal(
    request: Request,
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    authorization: Annotated[str | None, Depends(_key)],
) -> Principal:
    """``Authorization: <token>`` or ``Authorization: Bearer <token>`` (Spirii: its docs
    say Bearer, its own sample sends the bare key)."""
    token = (authorization or "").strip()
    scheme, _, rest = token.partition(" ")
    if rest and scheme.lower() == "bearer":
        token = rest.strip()
    return await principal_for_token(request, uow, token or None)


async def bearer_context(
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    bus: Annotated[EventBus, Depends(get_bus)],
    who: Annotated[Principal, Depends(bearer_principal)],
) -> ConfigContext:
    return ConfigContext(uow, bus, who)


async def key_context(
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    bus: Annotated[EventBus, Depends(get_bus)],
    who: Annotated[Principal, Depends(key_principal)],
) -> ConfigContext:
    return ConfigContext(uow, bus, who)


# The configuration context of /api/v1 (the same services, roles and audit) per scheme.
BearerCtx = Annotated[ConfigContext, Depends(bearer_context)]
KeyCtx = Annotated[ConfigContext, Depends(key_context)]
BearerCaller = Annotated[Principal, Depends(bearer_principal)]
KeyCaller = Annotated[Principal, Depends(key_principal)]
