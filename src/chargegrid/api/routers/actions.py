"""``POST /chargers/{id}/actions/<action>``: commands to a connected charger (API.md).

The answer is the charger's own, in snake_case (``{"status": "Accepted"}``); 409 when
the charger is offline, 504 when it does not answer in time, 502 when it answers with
an OCPP CallError or an answer that breaks the OCPP schema.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import make_router
from chargegrid.api.schemas.common import WriteModel
from chargegrid.domain.errors import Conflict, NotFound
from chargegrid.ocpp.charging_profiles import ChargingProfile, SchedulePeriod
from chargegrid.ocpp.errors import AnswerError
from chargegrid.services import charger_commands
from chargegrid.services.charger_commands import Gateway, send_command
from chargegrid.services.configure.chargers import get_charger

router = make_router("actions")
GATEWAY_HANDLE = "ocpp_gateway"

EvseNumber = Annotated[int, Field(strict=True, ge=0, le=1000, description="0 = whole charger")]
ConnectorNumber = Annotated[int, Field(strict=True, ge=1, le=1000)]
IdTagText = Annotated[str, Field(min_length=1, max_length=20)]


class ChargerAnswer(BaseModel):
    """What the charger answered, e.g. ``{"status": "Accepted"}``; other fields as sent
    (in snake_case), e.g. ``configuration_key`` for get-configuration."""

    model_config = ConfigDict(extra="allow")
    status: str | None = None


class RemoteStart(WriteModel):
    id_tag: IdTagText
    evse_number: ConnectorNumber | None = None


class RemoteStop(WriteModel):
    session_id: uuid.UUID


class Reset(WriteModel):
    type: Literal["soft", "hard"] = "soft"


class Unlock(WriteModel):
    evse_number: ConnectorNumber


class ChangeAvailability(WriteModel):
    evse_number: EvseNumber = 0
    type: Literal["operative", "inoperative"]


class TriggerMessage(WriteModel):
    message: Literal[
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    ]
    evse_number: EvseNumber | None = None


class GetConfiguration(WriteModel):
    keys: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = None


class ChangeConfiguration(WriteModel):
    key: Annotated[str, Field(min_length=1, max_length=50)]
    value: Annotated[str, Field(max_length=500)]


class Period(WriteModel):
    start_period: Annotated[int, Field(strict=True, ge=0)]
    limit: Annotated[float, Field(strict=True, ge=0, le=1_000_000)]
    number_phases: Annotated[int, Field(strict=True, ge=1, le=3)] | None = None


class SetChargingProfile(WriteModel):
    evse_number: EvseNumber
    charging_profile_id: Annotated[int, Field(strict=True, ge=1)]
    stack_level: Annotated[int, Field(strict=True, ge=0, le=100)]
    purpose: Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
    kind: Literal["Absolute", "Recurring", "Relative"] = "Relative"
    rate_unit: Literal["A", "W"] = "A"
    periods: Annotated[list[Period], Field(min_length=1, max_length=48)]
    transaction_id: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    start_schedule: datetime | None = None
    duration: Annotated[int, Field(strict=True, ge=1)] | None = None
    recurrency: Literal["Daily", "Weekly"] | None = None

    def profile(self) -> ChargingProfile:
        return ChargingProfile(
            id=self.charging_profile_id,
            stack_level=self.stack_level,
            purpose=self.purpose,
            kind=self.kind,
            rate_unit=self.rate_unit,
            periods=tuple(
                SchedulePeriod(p.start_period, p.limit, p.number_phases) for p in self.periods
            ),
            transaction_id=self.transaction_id,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            start_schedule=self.start_schedule,
            duration=self.duration,
            recurrency=self.recurrency,
        )


class ClearChargingProfile(WriteModel):
    charging_profile_id: int | None = None
    evse_number: EvseNumber | None = None
    purpose: Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"] | None = None
    stack_level: Annotated[int, Field(strict=True, ge=0)] | None = None


class DataTransfer(WriteModel):
    vendor_id: Annotated[str, Field(min_length=1, max_length=255)]
    message_id: Annotated[str, Field(max_length=50)] | None = None
    data: str | None = None


async def _send(
    request: Request, ctx: Ctx, charger_id: uuid.UUID, action: str, payload: dict[str, Any]
) -> ChargerAnswer:
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_write()
    gateway: Gateway | None = request.app.state.runtime.handles.get(GATEWAY_HANDLE)
    try:
        answer = await send_command(
            gateway, charger.ocpp_id, action, payload, charger_commands.ACTION_TIMEOUT
        )
    except AnswerError as exc:
        raise HTTPException(502, f"the charger refused {action}: {exc}") from None
    return ChargerAnswer.model_validate(answer)


PATH = "/chargers/{charger_id}/actions"


@router.post(f"{PATH}/remote-start")
async def remote_start(
    charger_id: uuid.UUID, body: RemoteStart, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload: dict[str, Any] = {"idTag": body.id_tag}
    if body.evse_number is not None:
        payload["connectorId"] = body.evse_number
    return await _send(request, ctx, charger_id, "RemoteStartTransaction", payload)


@router.post(f"{PATH}/remote-stop")
async def remote_stop(
    charger_id: uuid.UUID, body: RemoteStop, request: Request, ctx: Ctx
) -> ChargerAnswer:
    await get_charger(ctx, charger_id)
    session = await ctx.uow.sessions.get(body.session_id)
    if session is None or session.charger_id != charger_id:
        raise NotFound("no such session on this charger")
    if (
        session.transaction_id is None
        or session.stopped_at is not None
        or session.authorization_status != "Accepted"  # a refused start never ran
    ):
        raise Conflict("the session is not running")
    payload = {"transactionId": session.transaction_id}
    return await _send(request, ctx, charger_id, "RemoteStopTransaction", payload)


@router.post(f"{PATH}/reset")
async def reset(charger_id: uuid.UUID, body: Reset, request: Request, ctx: Ctx) -> ChargerAnswer:
    payload = {"type": body.type.capitalize()}
    return await _send(request, ctx, charger_id, "Reset", payload)


@router.post(f"{PATH}/unlock")
async def unlock(charger_id: uuid.UUID, body: Unlock, request: Request, ctx: Ctx) -> ChargerAnswer:
    payload = {"connectorId": body.evse_number}
    return await _send(request, ctx, charger_id, "UnlockConnector", payload)


@router.post(f"{PATH}/change-availability")
async def change_availability(
    charger_id: uuid.UUID, body: ChangeAvailability, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload = {"connectorId": body.evse_number, "type": body.type.capitalize()}
    return await _send(request, ctx, charger_id, "ChangeAvailability", payload)


@router.post(f"{PATH}/trigger-message")
async def trigger_message(
    charger_id: uuid.UUID, body: TriggerMessage, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload: dict[str, Any] = {"requestedMessage": body.message}
    if body.evse_number is not None:
        payload["connectorId"] = body.evse_number
    return await _send(request, ctx, charger_id, "TriggerMessage", payload)


@router.post(f"{PATH}/get-configuration")
async def get_configuration(
    charger_id: uuid.UUID, body: GetConfiguration, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload: dict[str, Any] = {"key": body.keys} if body.keys else {}
    return await _send(request, ctx, charger_id, "GetConfiguration", payload)


@router.post(f"{PATH}/change-configuration")
async def change_configuration(
    charger_id: uuid.UUID, body: ChangeConfiguration, request: Request, ctx: Ctx
) -> ChargerAnswer:
    ctx.who.require_technical("charger configuration")
    payload = {"key": body.key, "value": body.value}
    return await _send(request, ctx, charger_id, "ChangeConfiguration", payload)


@router.post(f"{PATH}/set-charging-profile")
async def set_charging_profile(
    charger_id: uuid.UUID, body: SetChargingProfile, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload = {"connectorId": body.evse_number, "csChargingProfiles": body.profile().to_ocpp()}
    return await _send(request, ctx, charger_id, "SetChargingProfile", payload)


@router.post(f"{PATH}/clear-charging-profile")
async def clear_charging_profile(
    charger_id: uuid.UUID, body: ClearChargingProfile, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload: dict[str, Any] = {}
    if body.charging_profile_id is not None:
        payload["id"] = body.charging_profile_id
    if body.evse_number is not None:
        payload["connectorId"] = body.evse_number
    if body.purpose is not None:
        payload["chargingProfilePurpose"] = body.purpose
    if body.stack_level is not None:
        payload["stackLevel"] = body.stack_level
    return await _send(request, ctx, charger_id, "ClearChargingProfile", payload)


@router.post(f"{PATH}/data-transfer")
async def data_transfer(
    charger_id: uuid.UUID, body: DataTransfer, request: Request, ctx: Ctx
) -> ChargerAnswer:
    payload: dict[str, Any] = {"vendorId": body.vendor_id}
    if body.message_id is not None:
        payload["messageId"] = body.message_id
    if body.data is not None:
        payload["data"] = body.data
    return await _send(request, ctx, charger_id, "DataTransfer", payload)
