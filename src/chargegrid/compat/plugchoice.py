"""Plugchoice at ``/compat/plugchoice`` (developer.plugchoice.com, API v3; docs/compat.md).

``PUT /api/v3/chargers/{charger}/connectors/{connector_id}`` sets a connector's phase
rotation and max amperage, both required, and answers Plugchoice's connector object;
``GET`` of the same path reads it. The values are checked by ``/api/v1``'s own
``ConnectorUpdate`` and applied by the same service as ``PUT /api/v1/chargers/{id}/
connectors/{connector_id}``: same roles (service, admin), same rotation rules, same
audit, and the same ``config.changed`` that makes the control loop rebalance.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chargegrid.api.schemas.evses import ConnectorUpdate
from chargegrid.compat.auth import BearerCtx
from chargegrid.compat.ids import AliasKind, alias, resolve
from chargegrid.compat.surface import Surface, VendorError, error_responses
from chargegrid.compat.validation import validated_as
from chargegrid.services.configure import evses
from chargegrid.services.configure.context import ConfigContext
from chargegrid.store.models import Charger, Connector


class PlugchoiceError(BaseModel):
    message: str = Field(examples=["The given data was invalid."])
    errors: dict[str, list[str]] | None = Field(
        None, description="422 only: each field's messages", examples=[{"max_amperage": ["…"]}]
    )


RESPONSES = error_responses(
    PlugchoiceError,
    {
        401: "Missing, unknown or revoked token",
        403: "The token's role may not do this",
        404: "Unknown charger or connector, or outside the token's sites",
        422: "Invalid values; `errors` names each field",
        429: "Rate limited; Retry-After says when to try again",
    },
)

router = APIRouter(responses=RESPONSES)

# Laravel's fixed messages, as Plugchoice documents them (guides/errors).
_MESSAGES = {401: "Unauthenticated.", 422: "The given data was invalid."}


def render_error(error: VendorError) -> JSONResponse:
    """Plugchoice's (Laravel's) shape: ``{"message"}``, and for 422 ``errors`` as
    ``{field: [messages]}``."""
    body: dict[str, object] = {"message": _MESSAGES.get(error.status, error.message)}
    if error.errors:
        fields: dict[str, list[str]] = {}
        for e in error.errors:
            fields.setdefault(e.field, []).append(e.message)
        body["errors"] = fields
    return JSONResponse(body, status_code=error.status, headers=dict(error.headers or {}))


class ConnectorSetup(BaseModel):
    """The body of Plugchoice's connector update. Both fields are required; the values
    are checked by chargegrid's own connector rules. Unknown fields are ignored, as
    Plugchoice (Laravel) ignores them."""

    model_config = ConfigDict(extra="ignore")

    phase_rotation: str = Field(
        description="3 phases: RST, RTS, SRT, STR, TRS, TSR; 2 phases: RS, RT, SR, ST, TR, "
        "TS; 1 phase: R, S, T. Must name as many phases as the connector's power type has",
        examples=["RST"],
    )
    max_amperage: int = Field(description="A; from 1 to 1000", examples=[16])


class PlugchoiceConnector(BaseModel):
    """Plugchoice's connector object; ids are chargegrid's integer aliases."""

    id: int = Field(description="The connector's integer alias")
    charger_id: int = Field(description="The charger's integer alias")
    connector_id: int = Field(description="The OCPP connector id")
    status: str = Field(description="OCPP status as last reported; Unknown while offline")
    error: str | None = Field(description="OCPP error code; null for NoError")
    error_info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    max_amperage: int
    max_voltage: int
    standard: str = Field(description="OCPI ConnectorType, e.g. IEC_62196_T2")
    format: str = Field(description="SOCKET or CABLE")
    power_type: str = Field(description="AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE, DC")
    phase_rotation: str
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")


ChargerRef = Annotated[
    str, Path(max_length=64, description="The charger's UUID, or its integer alias")
]
ConnectorNumber = Annotated[int, Path(ge=1, le=1000, description="The OCPP connector ID")]


async def _connector_out(
    ctx: ConfigContext, charger: Charger, connector: Connector
) -> PlugchoiceConnector:
    error = connector.error_code if connector.error_code != "NoError" else None
    return PlugchoiceConnector(
        id=await alias(ctx.uow, AliasKind.CONNECTOR, connector.id),
        charger_id=await alias(ctx.uow, AliasKind.CHARGER, charger.id),
        connector_id=connector.connector_id,
        status=(connector.ocpp_status if charger.online else None) or "Unknown",
        error=error,
        error_info=connector.error_info,
        vendor_id=connector.vendor_id,
        vendor_error_code=connector.vendor_error_code,
        max_amperage=connector.max_amperage,
        max_voltage=round(connector.max_voltage),
        standard=connector.standard,
        format=connector.format,
        power_type=connector.power_type,
        phase_rotation=connector.phase_rotation,
        created_at=connector.created_at.isoformat(),
        updated_at=connector.updated_at.isoformat(),
    )


PATH = "/api/v3/chargers/{charger}/connectors/{connector_id}"


@router.get(PATH, summary="Get a connector")
async def get_connector(
    charger: ChargerRef, connector_id: ConnectorNumber, ctx: BearerCtx
) -> PlugchoiceConnector:
    """The connector, as Plugchoice shows it.

    Roles: viewer, owner, service, admin
    """
    charger_id = await resolve(ctx.uow, AliasKind.CHARGER, charger, "charger")
    found_charger, connector = await evses.get_connector_on_charger(ctx, charger_id, connector_id)
    return await _connector_out(ctx, found_charger, connector)


@router.put(PATH, summary="Update Connector")
async def update_connector(
    charger: ChargerRef, connector_id: ConnectorNumber, body: ConnectorSetup, ctx: BearerCtx
) -> PlugchoiceConnector:
    """Updates the phase rotation and max amperage of the connector: chargegrid's
    connector update (`PUT /api/v1/chargers/{id}/connectors/{connector_id}`), so the
    wiring becomes the operator's and the load manager rebalances the site at once.

    Roles: service, admin (403 for owner and viewer). 422 names each bad field (a
    rotation whose phase count does not match the connector's power type, an amperage
    outside 1-1000).
    """
    charger_id = await resolve(ctx.uow, AliasKind.CHARGER, charger, "charger")
    data = validated_as(ConnectorUpdate, body.model_dump())
    await evses.update_connector_on_charger(ctx, charger_id, connector_id, data)
    found_charger, connector = await evses.get_connector_on_charger(ctx, charger_id, connector_id)
    return await _connector_out(ctx, found_charger, connector)


SURFACE = Surface(
    tag="Plugchoice",
    prefix="/compat/plugchoice",
    router=router,
    render_error=render_error,
    description="Plugchoice's connector update (API v3) over chargegrid's connectors. "
    "Authorization: Bearer <chargegrid token>; ids: UUIDs or integer aliases.",
)
