"""``POST /chargers/{id}/actions/<action>``: commands to a connected charger (API.md).

The same body means the same on OCPP 1.6 and 2.0.1: each action is a version-free
command (``services.charger_commands``) that the charger's own version writes as its
CALL (``remote-start`` is RemoteStartTransaction on 1.6, RequestStartTransaction on
2.0.1). An action the charger's version has no message for is a 422 that says what to
use instead. The answer is the charger's own, in snake_case (``{"status": "Accepted"}``);
409 when the charger is offline, 504 when it does not answer in time, 502 when it
answers with an OCPP CallError or an answer that breaks the OCPP schema.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.common import make_router
from chargegrid.api.schemas.common import LenientTimestamp, WriteModel
from chargegrid.domain.errors import Conflict, NotFound
from chargegrid.ocpp.charging_profiles import ChargingProfile, SchedulePeriod
from chargegrid.ocpp.errors import AnswerError
from chargegrid.services import charger_commands
from chargegrid.services import charger_commands as cmd
from chargegrid.services.charger_commands import CommandGateway, run_command
from chargegrid.services.configure.chargers import get_charger

router = make_router("actions")
GATEWAY_HANDLE = "ocpp_gateway"

EvseNumber = Annotated[int, Field(strict=True, ge=0, le=1000, description="0 = whole charger")]
ConnectorNumber = Annotated[int, Field(strict=True, ge=1, le=1000)]
# 1.6 id tags have at most 20 characters, 2.0.1 idTokens 36 (the 1.6 schema checks).
IdTagText = Annotated[str, Field(min_length=1, max_length=36)]


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
    type: Literal["soft", "hard"] = "soft"  # 2.0.1: OnIdle / Immediate
    evse_number: ConnectorNumber | None = Field(None, description="2.0.1 only: one EVSE")


class Unlock(WriteModel):
    evse_number: ConnectorNumber
    connector_id: ConnectorNumber = Field(1, description="2.0.1: the connector of the EVSE")


class ChangeAvailability(WriteModel):
    evse_number: EvseNumber = 0
    type: Literal["operative", "inoperative"]
    connector_id: ConnectorNumber | None = Field(None, description="2.0.1 only")


class TriggerMessage(WriteModel):
    message: Literal[
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
        # 2.0.1 only
        "LogStatusNotification",
        "TransactionEvent",
        "SignChargingStationCertificate",
        "PublishFirmwareStatusNotification",
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
    purpose: Literal[
        "ChargePointMaxProfile", "ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"
    ]
    kind: Literal["Absolute", "Recurring", "Relative"] = "Relative"
    rate_unit: Literal["A", "W"] = "A"
    periods: Annotated[list[Period], Field(min_length=1, max_length=48)]
    transaction_id: int | Annotated[str, Field(min_length=1, max_length=36)] | None = None
    valid_from: LenientTimestamp | None = None
    valid_to: LenientTimestamp | None = None
    start_schedule: LenientTimestamp | None = None
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
    purpose: (
        Literal[
            "ChargePointMaxProfile", "ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"
        ]
        | None
    ) = None
    stack_level: Annotated[int, Field(strict=True, ge=0)] | None = None


class VariableRef(WriteModel):
    """A 2.0.1 device-model attribute: component (+instance, +EVSE/connector), variable
    (+instance), attribute type."""

    component: Annotated[str, Field(min_length=1, max_length=50)]
    variable: Annotated[str, Field(min_length=1, max_length=50)]
    attribute_type: Literal["Actual", "Target", "MinSet", "MaxSet"] = "Actual"
    component_instance: Annotated[str, Field(max_length=50)] | None = None
    evse_id: Annotated[int, Field(strict=True, ge=0, le=1000)] | None = None
    connector_id: Annotated[int, Field(strict=True, ge=0, le=1000)] | None = None
    variable_instance: Annotated[str, Field(max_length=50)] | None = None

    def name(self) -> cmd.VariableName:
        return cmd.VariableName(
            self.component,
            self.variable,
            self.attribute_type,
            self.component_instance,
            self.evse_id,
            self.connector_id,
            self.variable_instance,
        )


class VariableValue(VariableRef):
    value: Annotated[str, Field(max_length=1000)]


class GetVariables(WriteModel):
    variables: Annotated[list[VariableRef], Field(min_length=1, max_length=100)]


class SetVariables(WriteModel):
    variables: Annotated[list[VariableValue], Field(min_length=1, max_length=100)]


class GetBaseReport(WriteModel):
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = (
        "FullInventory"
    )


class OcppCall(WriteModel):
    """Any CALL a CSMS may send, in the charger's own OCPP words (checked against its
    version's schema before anything is sent)."""

    action: Annotated[str, Field(min_length=1, max_length=64)]
    payload: dict[str, Any] = Field(default_factory=dict)
    ocpp_version: Literal["1.6", "2.0.1"] | None = Field(
        None, description="Refused (422) if the charger speaks the other version"
    )


class DataTransfer(WriteModel):
    vendor_id: Annotated[str, Field(min_length=1, max_length=255)]
    message_id: Annotated[str, Field(max_length=50)] | None = None
    data: str | None = None


async def _send(
    request: Request,
    ctx: Ctx,
    charger_id: uuid.UUID,
    command: cmd.Command,
    *,
    technical: str | None = None,
) -> ChargerAnswer:
    charger = await get_charger(ctx, charger_id)
    ctx.who.require_write()
    if technical is not None:
        ctx.who.require_technical(technical)
    gateway: CommandGateway | None = request.app.state.runtime.handles.get(GATEWAY_HANDLE)
    try:
        answer = await run_command(
            gateway, charger.ocpp_id, command, charger_commands.ACTION_TIMEOUT
        )
    except AnswerError as exc:
        raise HTTPException(502, f"the charger refused it: {exc}") from None
    return ChargerAnswer.model_validate(answer)


PATH = "/chargers/{charger_id}/actions"
_remote_start_ids = itertools.count(int(time.time()) % 1_000_000)


@router.post(f"{PATH}/remote-start")
async def remote_start(
    charger_id: uuid.UUID, body: RemoteStart, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.RemoteStart(body.id_tag, body.evse_number, next(_remote_start_ids))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/remote-stop")
async def remote_stop(
    charger_id: uuid.UUID, body: RemoteStop, request: Request, ctx: Ctx
) -> ChargerAnswer:
    await get_charger(ctx, charger_id)
    session = await ctx.uow.sessions.get(body.session_id)
    if session is None or session.charger_id != charger_id:
        raise NotFound("no such session on this charger")
    # 1.6: our transaction number; 2.0.1: the station's own transaction id.
    transaction: int | str | None = session.transaction_id
    if transaction is None:
        transaction = session.remote_transaction_id
    if (
        transaction is None
        or session.stopped_at is not None
        or session.authorization_status != "Accepted"  # a refused start never ran
    ):
        raise Conflict("the session is not running")
    return await _send(request, ctx, charger_id, cmd.RemoteStop(transaction))


@router.post(f"{PATH}/reset")
async def reset(charger_id: uuid.UUID, body: Reset, request: Request, ctx: Ctx) -> ChargerAnswer:
    command = cmd.Reset(hard=body.type == "hard", evse_number=body.evse_number)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/unlock")
async def unlock(charger_id: uuid.UUID, body: Unlock, request: Request, ctx: Ctx) -> ChargerAnswer:
    command = cmd.Unlock(body.evse_number, body.connector_id)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/change-availability")
async def change_availability(
    charger_id: uuid.UUID, body: ChangeAvailability, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.ChangeAvailability(body.evse_number, body.type == "operative", body.connector_id)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/trigger-message")
async def trigger_message(
    charger_id: uuid.UUID, body: TriggerMessage, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.TriggerMessage(body.message, body.evse_number)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/get-configuration")
async def get_configuration(
    charger_id: uuid.UUID, body: GetConfiguration, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.GetConfiguration(tuple(body.keys or ()))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/change-configuration")
async def change_configuration(
    charger_id: uuid.UUID, body: ChangeConfiguration, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.ChangeConfiguration(body.key, body.value)
    return await _send(request, ctx, charger_id, command, technical="charger configuration")


@router.post(f"{PATH}/get-variables")
async def get_variables(
    charger_id: uuid.UUID, body: GetVariables, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """2.0.1: read device-model attributes; the answers are stored (GET .../variables)."""
    command = cmd.GetVariables(tuple(v.name() for v in body.variables))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/set-variables")
async def set_variables(
    charger_id: uuid.UUID, body: SetVariables, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """2.0.1: set device-model attributes; what the station took is stored."""
    command = cmd.SetVariables(tuple((v.name(), v.value) for v in body.variables))
    return await _send(request, ctx, charger_id, command, technical="charger configuration")


@router.post(f"{PATH}/get-base-report")
async def get_base_report(
    charger_id: uuid.UUID, body: GetBaseReport, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """2.0.1: the station reports its device model (NotifyReport), stored as it comes."""
    command = cmd.GetBaseReport(body.report_base, next(_remote_start_ids))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/set-charging-profile")
async def set_charging_profile(
    charger_id: uuid.UUID, body: SetChargingProfile, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.SetChargingProfile(body.evse_number, body.profile())
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/clear-charging-profile")
async def clear_charging_profile(
    charger_id: uuid.UUID, body: ClearChargingProfile, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.ClearChargingProfile(
        body.charging_profile_id, body.evse_number, body.purpose, body.stack_level
    )
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/data-transfer")
async def data_transfer(
    charger_id: uuid.UUID, body: DataTransfer, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.DataTransfer(body.vendor_id, body.message_id, body.data)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/ocpp-call")
async def ocpp_call(
    charger_id: uuid.UUID, body: OcppCall, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Any other CALL of the charger's version (GetTransactionStatus, GetCompositeSchedule,
    GetChargingProfiles, SendLocalList, UpdateFirmware, GetLog, SetNetworkProfile,
    SetVariableMonitoring, ...), checked against its schema; technicians and up."""
    command = cmd.Native(body.action, body.payload, body.ocpp_version)
    return await _send(request, ctx, charger_id, command, technical="raw OCPP calls")


@router.post(f"{PATH}/send-local-list")
async def send_local_list(charger_id: uuid.UUID, request: Request, ctx: Ctx) -> ChargerAnswer:
    """Replace the charger's local authorization list with our id tags valid at its site
    (updateType Full; the version is the current time in seconds, so it only grows)."""
    charger = await get_charger(ctx, charger_id)
    tags = await ctx.uow.id_tags.valid_at(charger.site_id)
    entries = tuple(cmd.AuthEntry(t.id_tag, t.status, t.expires_at, t.parent_id_tag) for t in tags)
    command = cmd.SendLocalList(int(time.time()), entries)
    return await _send(request, ctx, charger_id, command, technical="local authorization list")


@router.post(f"{PATH}/get-local-list-version")
async def get_local_list_version(
    charger_id: uuid.UUID, request: Request, ctx: Ctx
) -> ChargerAnswer:
    return await _send(request, ctx, charger_id, cmd.GetLocalListVersion())
