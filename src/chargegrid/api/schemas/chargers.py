from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from chargegrid.api.schemas.common import (
    Integer,
    NotNull,
    Number,
    Timestamps,
    WriteModel,
    columns_of,
)
from chargegrid.api.schemas.evses import ConnectorCreate, EvseCreate, EvseOut
from chargegrid.domain.status import OcpiStatus, charger_status, to_ocpi
from chargegrid.services.pki_ports import SignedCertificate
from chargegrid.store.models import Charger

ChargeCurrent = Annotated[Number, Field(ge=0, le=32)]


class ChargerUpdate(WriteModel):
    ocpp_id: str = NotNull(min_length=1, max_length=48)
    password: str | None = Field(
        None, max_length=64, description="Write-only; Basic auth for the charger"
    )
    site_id: uuid.UUID = NotNull(description="Moves the charger to another site")
    circuit_id: uuid.UUID | None = None
    registration_status: Literal["Accepted", "Pending", "Rejected"] | None = None
    security_profile: Literal[1, 2, 3] | None = Field(
        None,
        description="1 Basic auth (ws or wss), 2 TLS + Basic auth (wss only), "
        "3 TLS client certificate with CN = ocpp_id (wss only)",
    )
    ocpp_version_pin: Literal["1.6", "2.0.1"] | None = Field(
        None,
        description="Refuse any other OCPP version at the handshake; null: the best the "
        "charger offers (2.0.1 before 1.6)",
    )
    max_charge_current: ChargeCurrent | None = Field(
        None,
        description="0-32 A; null: no limit. Below min_charge_current no current is "
        "allocated (so 0 pauses the charger): a setting, not an error (API.md, Zaptec)",
    )
    min_charge_current: ChargeCurrent | None = Field(
        None, description="default 6 A; a session gets 0 or at least this"
    )
    max_charge_phases: Literal[1, 3] | None = None
    allowed_currents: list[ChargeCurrent] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The only currents the charger accepts, e.g. [0, 8, 16, 24, 32] A; "
        "the load manager rounds its plan down into them. null: any current (or "
        "current_step)",
    )
    current_step: Number | None = Field(
        None,
        gt=0,
        le=32,
        description="The charger accepts only multiples of this many A (1: whole amps); "
        "null: any current. Not together with allowed_currents",
    )
    offline_charge_current: Number | None = Field(None, description="-1 automatic, or 0-32 A")
    offline_charge_phase: Literal[0, 1, 2, 4, 7] | None = Field(
        None, description="0 automatic, 1 L1, 2 L2, 4 L3, 7 all"
    )
    meter_value_interval: Integer | None = Field(
        None, ge=0, le=7 * 86400, description="s, default 10; 0 disables periodic meter values"
    )
    priority: Number | None = Field(None, ge=0, le=1000)

    @field_validator("offline_charge_current")
    @classmethod
    def _offline_current(cls, value: float | None) -> float | None:
        if value is not None and value != -1 and not 0 <= value <= 32:
            raise ValueError("-1 (automatic) or 0-32 A")
        return value

    @field_validator("max_charge_phases", "offline_charge_phase", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        # Literal[1] accepts True; a phase count is never a boolean.
        if isinstance(value, bool):
            raise ValueError("must be an integer")
        return value


class ChargerCreate(ChargerUpdate):
    """``site_id`` may be left out by an unscoped token: the charger waits unplaced."""

    ocpp_id: str = Field(min_length=1, max_length=48)
    site_id: uuid.UUID | None = Field(  # type: ignore[assignment]
        None, description="null or left out: unplaced (unscoped tokens only)"
    )
    evses: list[EvseCreate] | None = Field(None, max_length=64, description="Created with it")
    connectors: list[ConnectorCreate] | None = Field(
        None, max_length=64, description="OCPP 1.6 shape: one EVSE per connector"
    )


class Capabilities(BaseModel):
    """What this charger can do, as far as its OCPP version and its reports say."""

    ocpp_version: str | None = Field(description="As negotiated on its last connection")
    device_model: bool = Field(description="2.0.1: variables (GET .../variables)")
    configuration_keys: bool = Field(description="1.6: get/change-configuration")
    phase_to_use: bool = Field(
        description="2.0.1 ACPhaseSwitchingSupported: a 1-phase session may be put on any phase"
    )
    charging_rate_units: list[str] | None
    max_stack_level: int | None
    transaction_events: bool = Field(description="2.0.1 TransactionEvent (seqNo, offline)")

    @classmethod
    def of(cls, charger: Charger) -> Capabilities:
        v201 = (charger.ocpp_version or "").startswith("2")
        return cls(
            ocpp_version=charger.ocpp_version,
            device_model=v201,
            configuration_keys=charger.ocpp_version == "1.6",
            phase_to_use=v201 and bool(charger.phase_switching),
            charging_rate_units=charger.charging_rate_units,
            max_stack_level=charger.max_stack_level,
            transaction_events=v201,
        )


class CertificateOut(BaseModel):
    """The last certificate the built-in CA signed for the charger (security profile 3)."""

    subject: str
    serial: str = Field(description="hex, as OCPP's CertificateHashData writes it")
    not_before: datetime
    expires_at: datetime
    signed_at: datetime
    renewal_requested_at: datetime | None = Field(
        description="when we last asked the charger for a new CSR (30 days before expiry)"
    )

    @classmethod
    def of(cls, signed: SignedCertificate) -> CertificateOut:
        return cls(
            subject=signed.subject,
            serial=signed.serial,
            not_before=signed.not_before,
            expires_at=signed.not_after,
            signed_at=signed.created_at,
            renewal_requested_at=signed.renewal_requested_at,
        )


class ChargerOut(Timestamps):
    id: uuid.UUID
    ocpp_id: str
    site_id: uuid.UUID | None
    circuit_id: uuid.UUID | None
    registration_status: str
    has_password: bool
    password_pending: bool = Field(
        description="a new password the charger took (rotate-password, set-variables) that "
        "it has not connected with yet: until it does, the old one works too"
    )
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    ocpp_version: str | None
    ocpp_version_pin: str | None
    security_profile: int
    last_boot_reason: str | None
    capabilities: Capabilities
    certificate: CertificateOut | None = Field(
        description="the last certificate our CA signed for it; null: none"
    )
    online: bool
    last_seen_at: datetime | None
    status: OcpiStatus
    ocpp_status: str | None
    error_code: str | None
    error_info: str | None
    vendor_error_code: str | None
    max_stack_level: int | None
    charging_rate_units: list[str] | None
    connector_phase_rotation: str | None
    max_charge_current: float | None
    min_charge_current: float
    max_charge_phases: int
    allowed_currents: list[float] | None
    current_step: float | None
    offline_charge_current: float
    offline_charge_phase: int
    meter_value_interval: int
    priority: float
    config_sync: str
    evses: list[EvseOut]

    @classmethod
    def of(cls, charger: Charger, certificate: SignedCertificate | None = None) -> ChargerOut:
        fields = columns_of(charger)
        fields.pop("password_hash")
        fields.pop("pending_password_hash", None)
        fields.pop("reported_configuration")
        fields.pop("phase_switching", None)
        return cls.model_validate(
            {
                **fields,
                "has_password": charger.password_hash is not None,
                "password_pending": charger.pending_password_hash is not None,
                "capabilities": Capabilities.of(charger),
                "certificate": CertificateOut.of(certificate) if certificate else None,
                "status": to_ocpi(
                    charger_status(charger.ocpp_status, (e.ocpp_status for e in charger.evses)),
                    charger.online,
                ),
                "evses": [EvseOut.of(e, charger.online) for e in charger.evses],
            }
        )
