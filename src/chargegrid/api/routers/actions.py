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

router = make_router("actions", commands_chargers=True)
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


@router.post(f"{PATH}/remote-start", summary="Start charging remotely")
async def remote_start(
    charger_id: uuid.UUID, body: RemoteStart, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Asks the charger to start a session for `id_tag` (RemoteStartTransaction on 1.6,
    RequestStartTransaction on 2.0.1), on `evse_number` or, without it, where the
    charger chooses. `Accepted` means it will try: the session exists once the charger
    reports it started, and the load manager then gives it current.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError or an answer that breaks the OCPP schema.
    """
    command = cmd.RemoteStart(body.id_tag, body.evse_number, next(_remote_start_ids))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/remote-stop", summary="Stop a session remotely")
async def remote_stop(
    charger_id: uuid.UUID, body: RemoteStop, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Asks the charger to stop a running session (RemoteStopTransaction on 1.6,
    RequestStopTransaction on 2.0.1). The session ends when the charger reports it
    stopped.

    Roles: owner, service, admin

    403 for a viewer. 404 when the session is not this charger's; 409 when it is not
    running (stopped, or a refused start). Otherwise answers as every action: 409
    offline, 504 no answer within 30 s, 502 a CallError. A session the charger does not
    end is ended by hand with `POST /sessions/{id}/actions/end`.
    """
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


@router.post(f"{PATH}/reset", summary="Reset a charger")
async def reset(charger_id: uuid.UUID, body: Reset, request: Request, ctx: Ctx) -> ChargerAnswer:
    """Reboots the charger: `soft` (2.0.1 OnIdle: after its sessions) or `hard` (2.0.1
    Immediate). 2.0.1 may reset one `evse_number`; 1.6 resets the whole charger only
    (422). After the reboot it boots again and is sent its limits first.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.Reset(hard=body.type == "hard", evse_number=body.evse_number)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/unlock", summary="Unlock a connector")
async def unlock(charger_id: uuid.UUID, body: Unlock, request: Request, ctx: Ctx) -> ChargerAnswer:
    """Releases the cable at `evse_number` (2.0.1: and `connector_id`, default 1), e.g. a
    cable stuck after a session (UnlockConnector).

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.Unlock(body.evse_number, body.connector_id)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/change-availability", summary="Change availability")
async def change_availability(
    charger_id: uuid.UUID, body: ChangeAvailability, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Sets the charger (`evse_number` 0) or one EVSE `operative` or `inoperative`
    (ChangeAvailability); the charger may answer `Scheduled` while it is charging.
    Nothing is stored: the EVSE's `enabled` (`PATCH /evses/{id}`, which also stops the
    load manager giving it current) stays as it was.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.ChangeAvailability(body.evse_number, body.type == "operative", body.connector_id)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/trigger-message", summary="Ask a charger to send a message")
async def trigger_message(
    charger_id: uuid.UUID, body: TriggerMessage, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Asks the charger to send `message` now (StatusNotification, MeterValues,
    Heartbeat, BootNotification ...; the 2.0.1-only ones are refused on 1.6), for one
    `evse_number` or all. The answer says whether it will; the message itself arrives
    on its own and is handled like any other.

    Roles: owner, service, admin

    403 for a viewer. 422 for a message the charger's version does not have. Answers as
    every action: 409 offline, 504 no answer within 30 s, 502 a CallError.
    """
    command = cmd.TriggerMessage(body.message, body.evse_number)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/get-configuration", summary="Read a charger's configuration")
async def get_configuration(
    charger_id: uuid.UUID, body: GetConfiguration, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """OCPP 1.6: the charger's configuration keys (`keys`, or all of them), answered as
    `configuration_key` and `unknown_key`. A 2.0.1 charger gets a 422 pointing to
    `get-variables`. Nothing is stored.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.GetConfiguration(tuple(body.keys or ()))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/change-configuration", summary="Change a configuration key")
async def change_configuration(
    charger_id: uuid.UUID, body: ChangeConfiguration, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """OCPP 1.6: sets one configuration `key` to `value` (ChangeConfiguration); the
    answer's `status` is `Accepted`, `RebootRequired`, `Rejected` or `NotSupported`. A
    2.0.1 charger gets a 422 pointing to `set-variables`. Keys the server manages itself
    (MeterValueSampleInterval, from the charger's `meter_value_interval`) are set back
    after the charger's next reboot.

    Roles: service, admin

    403 for owner and viewer. Answers as every action: 409 offline, 504 no answer within
    30 s, 502 a CallError.
    """
    command = cmd.ChangeConfiguration(body.key, body.value)
    return await _send(request, ctx, charger_id, command, technical="charger configuration")


@router.post(f"{PATH}/get-variables", summary="Read device-model variables")
async def get_variables(
    charger_id: uuid.UUID, body: GetVariables, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """OCPP 2.0.1: reads up to 100 device-model attributes (GetVariables); the answers,
    refusals included, are stored and shown by `GET /chargers/{id}/variables`. A 1.6
    charger gets a 422 pointing to `get-configuration`.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.GetVariables(tuple(v.name() for v in body.variables))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/set-variables", summary="Set device-model variables")
async def set_variables(
    charger_id: uuid.UUID, body: SetVariables, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """OCPP 2.0.1: sets up to 100 device-model attributes (SetVariables); each result
    (`Accepted`, `Rejected`, `RebootRequired` ...) is in the answer, and what the
    station took is stored (`GET /chargers/{id}/variables`). A 1.6 charger gets a 422
    pointing to `change-configuration`.

    Roles: service, admin

    403 for owner and viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.SetVariables(tuple((v.name(), v.value) for v in body.variables))
    return await _send(request, ctx, charger_id, command, technical="charger configuration")


@router.post(f"{PATH}/get-base-report", summary="Ask for a device-model report")
async def get_base_report(
    charger_id: uuid.UUID, body: GetBaseReport, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """OCPP 2.0.1: asks the station for its device model (`FullInventory` by default,
    or `ConfigurationInventory`, `SummaryInventory`). The answer only says whether it
    will; the report follows in NotifyReport messages, stored as they come
    (`GET /chargers/{id}/variables`). A 1.6 charger gets a 422.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.GetBaseReport(body.report_base, next(_remote_start_ids))
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/set-charging-profile", summary="Send a charging profile")
async def set_charging_profile(
    charger_id: uuid.UUID, body: SetChargingProfile, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Installs a charging profile on `evse_number` (0: the whole charger) in the
    charger's version (purposes are mapped: ChargePointMaxProfile on 1.6 is
    ChargingStationMaxProfile on 2.0.1), with its periods in A or W. The load manager
    does not track it and keeps sending its own profiles (stack levels 0 and 1); which
    one applies is the charger's stacking rule, so a profile here can hold a charger
    below what the load manager gives it.

    Roles: owner, service, admin

    403 for a viewer. 422 names each bad field. Answers as every action: 409 offline,
    504 no answer within 30 s, 502 a CallError.
    """
    command = cmd.SetChargingProfile(body.evse_number, body.profile())
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/clear-charging-profile", summary="Clear charging profiles")
async def clear_charging_profile(
    charger_id: uuid.UUID, body: ClearChargingProfile, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Removes the charger's profiles matching all the criteria given (`charging_profile_id`,
    `evse_number`, `purpose`, `stack_level`); with none, every profile. Clearing the
    load manager's profiles leaves the charger without its limits until the load
    manager sends them again.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.ClearChargingProfile(
        body.charging_profile_id, body.evse_number, body.purpose, body.stack_level
    )
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/data-transfer", summary="Send a vendor DataTransfer")
async def data_transfer(
    charger_id: uuid.UUID, body: DataTransfer, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """A vendor-specific DataTransfer (`vendor_id`, `message_id`, `data` as text); the
    charger's answer (`status`, `data`) comes back as it sent it.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.DataTransfer(body.vendor_id, body.message_id, body.data)
    return await _send(request, ctx, charger_id, command)


@router.post(f"{PATH}/ocpp-call", summary="Send any OCPP call")
async def ocpp_call(
    charger_id: uuid.UUID, body: OcppCall, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Any other CALL of the charger's version (GetTransactionStatus,
    GetCompositeSchedule, GetChargingProfiles, UpdateFirmware, SetNetworkProfile,
    SetVariableMonitoring ...), in the charger's own OCPP words: `action` and `payload`,
    checked against that version's schema before anything is sent. The answer is the
    charger's, in snake_case.

    Roles: service, admin

    403 for owner and viewer. 422 when `action` is not a call a CSMS may send in the
    charger's version, when `ocpp_version` names the other version, or when the payload
    breaks the schema. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    command = cmd.Native(body.action, body.payload, body.ocpp_version)
    return await _send(request, ctx, charger_id, command, technical="raw OCPP calls")


@router.post(f"{PATH}/send-local-list", summary="Send the local authorization list")
async def send_local_list(charger_id: uuid.UUID, request: Request, ctx: Ctx) -> ChargerAnswer:
    """Replaces the charger's local authorization list (updateType Full) with the id
    tags of its site and the global ones, each with its status and expiry; the list
    version is the current time in seconds, so it only grows. No body.

    Roles: service, admin

    403 for owner and viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    charger = await get_charger(ctx, charger_id)
    tags = await ctx.uow.id_tags.valid_at(charger.site_id)
    entries = tuple(cmd.AuthEntry(t.id_tag, t.status, t.expires_at, t.parent_id_tag) for t in tags)
    command = cmd.SendLocalList(int(time.time()), entries)
    return await _send(request, ctx, charger_id, command, technical="local authorization list")


@router.post(f"{PATH}/get-local-list-version", summary="Read the local list version")
async def get_local_list_version(
    charger_id: uuid.UUID, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """The version of the local authorization list the charger holds: `list_version`
    on 1.6 (-1: local lists not enabled, 0: none), `version_number` on 2.0.1.

    Roles: owner, service, admin

    403 for a viewer. Answers as every action: 409 offline, 504 no answer within 30 s,
    502 a CallError.
    """
    return await _send(request, ctx, charger_id, cmd.GetLocalListVersion())
