"""Spirii at ``/compat/spirii`` (developer.spirii.com, API v2; docs/compat.md).

``PATCH /v2/evses/{uid}/connectors/{connectorId}`` changes a connector's standard,
format and ratings (camelCase, power in kW) and answers the whole EVSE with its OCPI
status; ``GET /v2/evses/{uid}`` reads it. The values are checked by ``/api/v1``'s own
``ConnectorUpdate`` and applied by the service behind ``PATCH /api/v1/evses/{id}/
connectors/{connector_id}`` (roles, audit, ``config.changed``, rebalancing); the EVSE
is shaped from ``EvseOut``, so its status follows the one OCPP -> OCPI mapping.
``uid`` is the EVSE's integer alias (or its UUID), ``chargeboxId`` the charger's.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chargegrid.api.schemas.evses import ConnectorOut, ConnectorUpdate, EvseOut
from chargegrid.compat.auth import KeyCtx
from chargegrid.compat.ids import AliasKind, alias, resolve
from chargegrid.compat.surface import Surface, VendorError, error_responses
from chargegrid.compat.validation import validated_as
from chargegrid.domain.status import OcpiStatus
from chargegrid.services.configure import evses
from chargegrid.services.configure.context import ConfigContext

W_PER_KW = 1000.0


class SpiriiErrorBody(BaseModel):
    type: str = Field(examples=["invalid_request"])
    code: str = Field(examples=["validation_failed"])
    message: str
    param: str | None = Field(description="The field at fault, if one is", examples=["maxAmperage"])
    request_id: str


class SpiriiError(BaseModel):
    error: SpiriiErrorBody


RESPONSES = error_responses(
    SpiriiError,
    {
        401: "Missing, unknown or revoked API key",
        403: "The key's role may not do this",
        404: "Unknown EVSE or connector, or outside the key's sites",
        422: "Invalid values; `param` names the (first) field",
        429: "Rate limited; Retry-After says when to try again",
    },
)

router = APIRouter(responses=RESPONSES)

_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
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
    body = SpiriiErrorBody(
        type=kind,
        code=_CODES.get(error.status, "internal_error"),
        message=error.message,
        param=error.errors[0].field if error.errors else None,
        request_id=f"req_{uuid.uuid4().hex[:16]}",
    )
    return JSONResponse(
        {"error": body.model_dump()},
        status_code=error.status,
        headers=dict(error.headers or {}),
    )


class ConnectorPatch(BaseModel):
    """Spirii's connector update; only the fields sent change (null resets one to
    chargegrid's default). Checked by chargegrid's connector rules: any OCPI connector
    type is taken (Spirii lists CHADEMO, IEC_62196_T2_COMBO, IEC_62196_T2, GBT_AC,
    GBT_DC, IEC_62196_T1_COMBO, IEC_62196_T1)."""

    model_config = ConfigDict(extra="forbid")

    standard: str | None = Field(None, examples=["CHADEMO"])
    format: str | None = Field(None, description="SOCKET or CABLE", examples=["SOCKET"])
    maxElectricPower: float | None = Field(None, description="kW", examples=[22])
    maxAmperage: float | None = Field(
        None, description="A, a whole number from 1 to 1000", examples=[32]
    )
    maxVoltage: float | None = Field(None, description="V", examples=[400])


# Our field -> Spirii's, for the errors our rules name.
FIELD_NAMES = {
    "max_electric_power": "maxElectricPower",
    "max_amperage": "maxAmperage",
    "max_voltage": "maxVoltage",
}


def _ours(patch: ConnectorPatch) -> dict[str, Any]:
    """Spirii's fields as ours, in our units (kW -> W; a whole-number amperage as the
    integer our rules want). Values are not judged here: ``ConnectorUpdate`` does."""
    data: dict[str, Any] = {}
    for theirs, value in patch.model_dump(exclude_unset=True).items():
        if theirs == "maxElectricPower" and value is not None:
            value = value * W_PER_KW
        elif theirs == "maxAmperage" and isinstance(value, float) and value.is_integer():
            value = int(value)
        data[{v: k for k, v in FIELD_NAMES.items()}.get(theirs, theirs)] = value
    return data


class SpiriiConnectorError(BaseModel):
    errorCode: str = Field(examples=["UnderVoltage"])
    info: str | None
    vendorErrorCode: str | None


class SpiriiConnector(BaseModel):
    id: int = Field(description="The connector id within the EVSE")
    standard: str
    format: str
    powerType: str = Field(description="OCPI PowerType, e.g. AC_3_PHASE, DC")
    maxElectricPower: int | float | None = Field(description="kW")
    maxAmperage: int
    maxVoltage: int | float
    tariffIds: list[str] = Field(description="Always empty: chargegrid has no tariffs")
    error: SpiriiConnectorError | None = Field(description="The charger's error; null for none")
    deletedAt: str | None = Field(description="Always null: deleting removes the connector")


class SpiriiEvse(BaseModel):
    uid: int = Field(description="The EVSE's integer alias", examples=[123456])
    evseId: str = Field(
        description="The EVSE's evse_id; without one, `<ocpp_id>*<evse_number>`",
        examples=["DK.12343*1"],
    )
    chargeboxId: int = Field(description="The charger's integer alias", examples=[123])
    status: OcpiStatus
    connectors: list[SpiriiConnector]


def _number(value: float) -> int | float:
    """A whole number as an integer, as Spirii writes them (400, not 400.0)."""
    return int(value) if value.is_integer() else value


def _connector(c: ConnectorOut) -> SpiriiConnector:
    error = None
    if c.error_code is not None and c.error_code != "NoError":
        error = SpiriiConnectorError(
            errorCode=c.error_code, info=c.error_info, vendorErrorCode=c.vendor_error_code
        )
    power = None if c.max_electric_power is None else _number(c.max_electric_power / W_PER_KW)
    return SpiriiConnector(
        id=c.connector_id,
        standard=c.standard,
        format=c.format,
        powerType=c.power_type,
        maxElectricPower=power,
        maxAmperage=c.max_amperage,
        maxVoltage=_number(c.max_voltage),
        tariffIds=[],
        error=error,
        deletedAt=None,
    )


async def _evse_out(ctx: ConfigContext, evse_id: uuid.UUID) -> SpiriiEvse:
    ctx.uow.session.expunge_all()  # re-read: the connectors as they are now
    evse = await evses.get_evse(ctx, evse_id)
    ours = EvseOut.of(evse, evse.charger.online)
    return SpiriiEvse(
        uid=await alias(ctx.uow, AliasKind.EVSE, evse.id),
        evseId=ours.evse_id or f"{evse.charger.ocpp_id}*{evse.evse_number}",
        chargeboxId=await alias(ctx.uow, AliasKind.CHARGER, evse.charger_id),
        status=ours.status,
        connectors=[_connector(c) for c in ours.connectors],
    )


Uid = Annotated[
    str, Path(max_length=64, description="Uniquely identifies the EVSE: its alias or UUID")
]
ConnectorNumber = Annotated[
    int, Path(ge=1, le=1000, description="Identifier of the Connector within the EVSE")
]


@router.get("/v2/evses/{uid}", summary="Get an EVSE")
async def get_evse(uid: Uid, ctx: KeyCtx) -> SpiriiEvse:
    """The EVSE with its connectors and OCPI status (UNKNOWN while its charger is
    offline).

    Roles: viewer, owner, service, admin
    """
    return await _evse_out(ctx, await resolve(ctx.uow, AliasKind.EVSE, uid, "EVSE"))


@router.patch("/v2/evses/{uid}/connectors/{connectorId}", summary="Updates a connector on an EVSE")
async def update_connector(
    uid: Uid,
    connectorId: ConnectorNumber,
    body: ConnectorPatch,
    ctx: KeyCtx,
) -> SpiriiEvse:
    """chargegrid's connector update (`PATCH /api/v1/evses/{id}/connectors/{n}`): only
    the fields sent change, and the load manager uses the new ratings at once (a DC
    connector's `maxElectricPower` bounds its input current).

    Roles: service, admin (403 for owner and viewer). 422 names the bad field in `param`.
    """
    evse_id = await resolve(ctx.uow, AliasKind.EVSE, uid, "EVSE")
    data = validated_as(ConnectorUpdate, _ours(body))
    await evses.update_connector_on_evse(ctx, evse_id, connectorId, data)
    return await _evse_out(ctx, evse_id)


SURFACE = Surface(
    tag="Spirii",
    prefix="/compat/spirii",
    router=router,
    render_error=render_error,
    description="Spirii's EVSE and connector API (v2) over chargegrid's EVSEs. "
    "Authorization: the chargegrid token, bare or as Bearer; ids: aliases or UUIDs.",
    field_names=FIELD_NAMES,
)
