"""Operator commands to one charger: find its connection, send, translate the answer.

The REST actions and anything else that commands a charger on behalf of a person go
through :func:`send_command`, so offline (409), timeout (504) and refusals are the
same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chargegrid.domain.errors import Conflict

ACTION_TIMEOUT = 30.0
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class Gateway(Protocol):
    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109 (the call's own deadline)
    ) -> Mapping[str, Any]: ...


def snake(value: Any) -> Any:
    """An OCPP answer in the API's snake_case (``configurationKey`` -> ``configuration_key``)."""
    if isinstance(value, dict):
        return {_CAMEL.sub("_", k).lower(): snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


async def send_command(
    gateway: Gateway | None,
    ocpp_id: str,
    action: str,
    payload: Mapping[str, Any],
    timeout: float = ACTION_TIMEOUT,  # noqa: ASYNC109
) -> dict[str, Any]:
    if gateway is None:
        raise Conflict(f"charger {ocpp_id} is offline (this process runs no OCPP server)")
    answer = await gateway.send(ocpp_id, action, payload, timeout)
    result: dict[str, Any] = snake(dict(answer))
    return result


# -- Commands, as the API and the control loop mean them, whatever the OCPP version. --
# Each version's adapter (ocpp/v16/commands.py, ocpp/v201/commands.py) turns one into
# its CALL, or refuses it (InvalidValue naming the command) where the version has no
# such message.


@dataclass(frozen=True, slots=True)
class RemoteStart:
    id_tag: str
    evse_number: int | None = None
    remote_start_id: int = 1  # 2.0.1 RequestStartTransaction's id, echoed in its Started


@dataclass(frozen=True, slots=True)
class RemoteStop:
    transaction_id: int | str  # 1.6: ours; 2.0.1: the station's


@dataclass(frozen=True, slots=True)
class Reset:
    hard: bool = False  # 1.6 Hard / 2.0.1 Immediate; else Soft / OnIdle
    evse_number: int | None = None  # 2.0.1 only: one EVSE


@dataclass(frozen=True, slots=True)
class Unlock:
    evse_number: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    evse_number: int  # 0: the whole charger
    operative: bool
    connector_id: int | None = None  # 2.0.1 only: one connector of the EVSE


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    message: str
    evse_number: int | None = None


@dataclass(frozen=True, slots=True)
class SetChargingProfile:
    evse_number: int
    profile: Any  # ocpp.charging_profiles.ChargingProfile (version-free fields)


@dataclass(frozen=True, slots=True)
class ClearChargingProfile:
    profile_id: int | None = None
    evse_number: int | None = None
    purpose: str | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True)
class DataTransfer:
    vendor_id: str
    message_id: str | None = None
    data: Any = None


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class VariableName:
    """A 2.0.1 device-model attribute (component, variable, attribute type)."""

    component: str
    variable: str
    attribute_type: str = "Actual"
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None


@dataclass(frozen=True, slots=True)
class GetVariables:
    names: tuple[VariableName, ...]


@dataclass(frozen=True, slots=True)
class SetVariables:
    values: tuple[tuple[VariableName, str], ...]


@dataclass(frozen=True, slots=True)
class GetBaseReport:
    report_base: str = "FullInventory"
    request_id: int = 1


@dataclass(frozen=True, slots=True)
class AuthEntry:
    """One id tag of a local authorization list, as our id tags say."""

    id_tag: str
    status: str  # Accepted | Blocked | Expired | Invalid
    expires_at: datetime | None = None
    parent_id_tag: str | None = None


@dataclass(frozen=True, slots=True)
class SendLocalList:
    """The charger's local list replaced by ours (updateType Full)."""

    version: int
    entries: tuple[AuthEntry, ...]


@dataclass(frozen=True, slots=True)
class GetLocalListVersion:
    pass


# Certificates (security profile 3, docs/security.md): 2.0.1 names the certificate
# types; the 1.6 adapter translates the ones its security extension knows.
CSMS_ROOT = "CSMSRootCertificate"
MANUFACTURER_ROOT = "ManufacturerRootCertificate"


@dataclass(frozen=True, slots=True)
class CertificateSigned:
    """The chain the CA signed for the charger's CSR (leaf first)."""

    chain: str
    certificate_type: str = "ChargingStationCertificate"


@dataclass(frozen=True, slots=True)
class InstallCertificate:
    certificate_type: str  # CSMSRootCertificate | ManufacturerRootCertificate | V2G.. | MO..
    certificate: str  # PEM


@dataclass(frozen=True, slots=True)
class GetInstalledCertificateIds:
    certificate_types: tuple[str, ...] = ()  # none: every type (2.0.1 only)


@dataclass(frozen=True, slots=True)
class DeleteCertificate:
    hash_data: Mapping[str, str]  # OCPP CertificateHashDataType, as OCPP words


@dataclass(frozen=True, slots=True)
class TriggerCertificateRenewal:
    """Ask the charger for a new CSR (1.6 ExtendedTriggerMessage, 2.0.1 TriggerMessage)."""


@dataclass(frozen=True, slots=True)
class Native:
    """Any CALL of the charger's own version, as OCPP words (checked by its schema)."""

    action: str
    payload: Mapping[str, Any]
    version: str | None = None  # "1.6" | "2.0.1": refused on a charger speaking the other


Command = (
    RemoteStart
    | RemoteStop
    | Reset
    | Unlock
    | ChangeAvailability
    | TriggerMessage
    | SetChargingProfile
    | ClearChargingProfile
    | DataTransfer
    | GetConfiguration
    | ChangeConfiguration
    | GetVariables
    | SetVariables
    | GetBaseReport
    | SendLocalList
    | GetLocalListVersion
    | CertificateSigned
    | InstallCertificate
    | GetInstalledCertificateIds
    | DeleteCertificate
    | TriggerCertificateRenewal
    | Native
)


class CommandGateway(Protocol):
    async def command(
        self,
        ocpp_id: str,
        command: Command,
        timeout: float,  # noqa: ASYNC109
    ) -> Mapping[str, Any]: ...


async def run_command(
    gateway: CommandGateway | None,
    ocpp_id: str,
    command: Command,
    timeout: float = ACTION_TIMEOUT,  # noqa: ASYNC109
) -> dict[str, Any]:
    """Send ``command`` in the charger's own OCPP version; its answer in snake_case."""
    if gateway is None:
        raise Conflict(f"charger {ocpp_id} is offline (this process runs no OCPP server)")
    answer = await gateway.command(ocpp_id, command, timeout)
    result: dict[str, Any] = snake(dict(answer))
    return result
