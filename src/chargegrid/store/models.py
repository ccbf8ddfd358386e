"""The tables. One schema serves the API, the OCPP server and the load manager.

Enumerations are stored as short strings (validated in the domain and the API), so
adding a value never needs a migration. Currents are A per phase, power W, energy Wh.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from chargegrid.domain.connectors import WiringSource
from chargegrid.store.types import UtcDateTime, utcnow

# Named constraints keep Alembic migrations (and SQLite batch mode) deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; BigInteger there would not.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as the Core table it is (for Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AvailableCurrentOverride:
    """A dynamic per-phase limit below ``max_current`` (Zaptec AvailableCurrent).

    ``None`` on a phase means no override there (the node's ``max_current`` applies);
    ``available_current_expires_at`` makes the whole override lapse (Easee's TTL).
    """

    available_current_l1: Mapped[float | None] = mapped_column(Float)
    available_current_l2: Mapped[float | None] = mapped_column(Float)
    available_current_l3: Mapped[float | None] = mapped_column(Float)
    available_current_expires_at: Mapped[datetime | None] = mapped_column()


class Site(Timestamped, AvailableCurrentOverride, Base):
    __tablename__ = "sites"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    network_type: Mapped[str] = mapped_column(String(2), default="TN")
    nominal_voltage: Mapped[float] = mapped_column(Float, default=230.0)
    max_current: Mapped[float] = mapped_column(Float)
    offline_limit_to_min_current: Mapped[bool] = mapped_column(Boolean, default=False)
    three_to_one_phase_switch_current: Mapped[float | None] = mapped_column(Float)
    # Meter measuring the unmanaged load behind the main fuse. No foreign key: meters
    # belong to sites, and a cycle of foreign keys would complicate every migration;
    # deleting a meter clears the references (services.configure).
    electricity_meter_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    circuits: Mapped[list[Circuit]] = relationship(
        back_populates="site", cascade="all, delete-orphan", passive_deletes=True
    )


class Circuit(Timestamped, AvailableCurrentOverride, Base):
    __tablename__ = "circuits"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )
    # None: directly under the site's main fuse.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("circuits.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    max_current: Mapped[float] = mapped_column(Float)
    phases: Mapped[int] = mapped_column(Integer, default=3)
    # How this circuit's conductors land on its parent's phases ("RST", "STR", "S" ...).
    phase_rotation: Mapped[str] = mapped_column(String(3), default="RST")
    electricity_meter_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # see Site
    # Reserved for unmanaged load while the circuit's meter is stale.
    offline_reserved_current: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[float] = mapped_column(Float, default=1.0)
    # Line limits checked on phasor sums (208 V networks with line-to-line chargers).
    phasor_lines: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A delta-wye transformer: max_current rates its secondary lines, these its primary.
    transformer_ratio: Mapped[float | None] = mapped_column(Float)
    transformer_primary_current: Mapped[float | None] = mapped_column(Float)

    site: Mapped[Site] = relationship(back_populates="circuits")


class Charger(Timestamped, Base):
    __tablename__ = "chargers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # None for a charger that registered itself and awaits placement.
    site_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )
    circuit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("circuits.id", ondelete="SET NULL"), index=True
    )
    ocpp_id: Mapped[str] = mapped_column(String(48), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # A rotated password the charger accepted but has not connected with yet; both
    # are accepted until it does (services/password_rotation.py, ocpp_0009).
    pending_password_hash: Mapped[str | None] = mapped_column(String(200))
    registration_status: Mapped[str] = mapped_column(String(16), default="Accepted")

    # Reported by the charger (BootNotification, StatusNotification, GetConfiguration).
    vendor: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(50))
    serial_number: Mapped[str | None] = mapped_column(String(50))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    ocpp_version: Mapped[str | None] = mapped_column(String(16))
    # Why it last booted (2.0.1 BootReason: PowerUp, RemoteReset, Watchdog, ...).
    last_boot_reason: Mapped[str | None] = mapped_column(String(32))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    ocpp_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_info: Mapped[str | None] = mapped_column(String(500))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))
    reported_configuration: Mapped[dict[str, Any] | None] = mapped_column()
    # Smart-charging capabilities the charger reported.
    max_stack_level: Mapped[int | None] = mapped_column(Integer)
    charging_rate_units: Mapped[list[Any] | None] = mapped_column()
    connector_phase_rotation: Mapped[str | None] = mapped_column(String(255))
    # 2.0.1 SmartChargingCtrlr.ACPhaseSwitchingSupported: a 1-phase session may be put
    # on any grid phase with phaseToUse (None: not reported, or 1.6).
    phase_switching: Mapped[bool | None] = mapped_column(Boolean)
    # The OCPP version the charger must speak ("1.6" | "2.0.1"); None: the best one both
    # offer at the handshake (ocpp/negotiation.py).
    ocpp_version_pin: Mapped[str | None] = mapped_column(String(16))
    # OCPP security profile: 1 Basic auth (ws or wss), 2 TLS + Basic auth (wss only),
    # 3 TLS with a client certificate whose CN is the ocpp_id (docs/security.md).
    security_profile: Mapped[int] = mapped_column(Integer, server_default="1")

    # Settings (Zaptec charger update).
    max_charge_current: Mapped[float | None] = mapped_column(Float)
    min_charge_current: Mapped[float] = mapped_column(Float, default=6.0)
    # The only currents the charger accepts (A, ascending), or the step they come in
    # (1.0: whole amps); None: any current.
    allowed_currents: Mapped[list[Any] | None] = mapped_column(JSON)
    current_step: Mapped[float | None] = mapped_column(Float)
    max_charge_phases: Mapped[int] = mapped_column(Integer, default=3)
    offline_charge_current: Mapped[float] = mapped_column(Float, default=-1.0)
    offline_charge_phase: Mapped[int] = mapped_column(Integer, default=0)
    # 10 s: the load manager learns phases, headroom and compliance from these samples
    # (docs/ocpp.md "Meter values"); Zaptec's 900 s would leave it blind for 15 minutes.
    meter_value_interval: Mapped[int] = mapped_column(Integer, default=10)
    priority: Mapped[float] = mapped_column(Float, default=1.0)
    # pending until the charger confirms the pushed settings; applied | rejected.
    config_sync: Mapped[str] = mapped_column(String(16), default="pending")

    evses: Mapped[list[Evse]] = relationship(
        back_populates="charger",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Evse.evse_number",
    )


class Evse(Timestamped, Base):
    __tablename__ = "evses"
    __table_args__ = (UniqueConstraint("charger_id", "evse_number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    charger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), index=True
    )
    evse_number: Mapped[int] = mapped_column(Integer)
    evse_id: Mapped[str | None] = mapped_column(String(48))
    physical_reference: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    ocpp_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_info: Mapped[str | None] = mapped_column(String(500))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))
    # 2.0.1 NotifyChargingLimit: a limit set on the station from outside (an energy
    # management system, the grid operator), per phase in A, and who set it; the load
    # manager plans no more than that here until ClearedChargingLimit.
    external_limit_a: Mapped[float | None] = mapped_column(Float)
    external_limit_source: Mapped[str | None] = mapped_column(String(20))

    charger: Mapped[Charger] = relationship(back_populates="evses")
    connectors: Mapped[list[Connector]] = relationship(
        back_populates="evse",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Connector.connector_id",
    )


class Connector(Timestamped, Base):
    __tablename__ = "connectors"
    # OCPP 1.6 addresses connectors by a charger-wide id, so it is unique per charger.
    __table_args__ = (UniqueConstraint("charger_id", "connector_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    evse_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evses.id", ondelete="CASCADE"), index=True
    )
    charger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    standard: Mapped[str] = mapped_column(String(32), default="IEC_62196_T2")
    format: Mapped[str] = mapped_column(String(8), default="SOCKET")
    power_type: Mapped[str] = mapped_column(String(20), default="AC_3_PHASE")
    max_voltage: Mapped[float] = mapped_column(Float, default=230.0)
    max_amperage: Mapped[int] = mapped_column(Integer, default=32)
    max_electric_power: Mapped[float | None] = mapped_column(Float)
    phase_rotation: Mapped[str] = mapped_column(String(3), default="RST")
    # Between the two lines its terminals 1 and 2 reach, no neutral (208 V).
    line_to_line: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who set power_type and phase_rotation (domain.connectors.WiringSource). Rows that
    # say nothing are an operator's: a charger's report must never override those.
    wiring_source: Mapped[str] = mapped_column(
        String(10), default=WiringSource.OPERATOR.value, server_default=WiringSource.OPERATOR.value
    )
    ocpp_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_info: Mapped[str | None] = mapped_column(String(500))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(255))

    evse: Mapped[Evse] = relationship(back_populates="connectors")


class TransactionId(Base):
    """Hands out OCPP 1.6 integer transaction ids, portably on SQLite and PostgreSQL."""

    __tablename__ = "transaction_ids"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChargingSession(Timestamped, Base):
    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    charger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), index=True
    )
    evse_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("evses.id", ondelete="SET NULL"))
    connector_pk: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="SET NULL")
    )
    evse_number: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int | None] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # OCPP 2.0.1 transaction ids are strings chosen by the charger.
    remote_transaction_id: Mapped[str | None] = mapped_column(String(36))
    id_tag: Mapped[str | None] = mapped_column(String(36))
    meter_start: Mapped[float | None] = mapped_column(Float)
    meter_stop: Mapped[float | None] = mapped_column(Float)
    energy_wh: Mapped[float] = mapped_column(Float, default=0.0)
    # The charger's own timestamps.
    started_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None] = mapped_column()
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    # The idTagInfo status StartTransaction was answered with. Only an Accepted session
    # runs (gets current, a TxProfile, keeps its tag busy); a refused one is a record
    # that the charger's transaction id existed (docs/ocpp.md "Refused starts").
    # (No Python-side default: the database's lets older code and schemas insert rows.)
    authorization_status: Mapped[str] = mapped_column(String(16), server_default="Accepted")
    # Server time of the charger's reboot, while the transaction has not shown itself
    # since (by MeterValues, StopTransaction or a Charging/Suspended status).
    rebooted_at: Mapped[datetime | None] = mapped_column()
    # Who closed it through the API (role:token id) and why: the audit of an operator end.
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(String(500))
    priority: Mapped[float | None] = mapped_column(Float)
    phases_used: Mapped[int | None] = mapped_column(Integer)
    ev_max_current: Mapped[float | None] = mapped_column(Float)
    # 2.0.1: the transaction's chargingState (Charging, EVConnected, SuspendedEV, ...) and
    # the remoteStartId of a RequestStartTransaction that started it.
    charging_state: Mapped[str | None] = mapped_column(String(20))
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    # The deadline the load manager plans with, and where each part came from
    # (domain/deadline_sources.py: api | charger | id_tag_default | predicted).
    departure_time: Mapped[datetime | None] = mapped_column()
    energy_wanted_wh: Mapped[float | None] = mapped_column(Float)
    departure_source: Mapped[str | None] = mapped_column(String(16))
    departure_confidence: Mapped[float | None] = mapped_column(Float)
    energy_wanted_source: Mapped[str | None] = mapped_column(String(16))
    # What the car last asked for (NotifyEVChargingNeeds), kept apart: clearing an API
    # value falls back to it.
    ev_departure_time: Mapped[datetime | None] = mapped_column()
    ev_energy_wanted_wh: Mapped[float | None] = mapped_column(Float)
    soc: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_sessions_charger_active", "charger_id", "stopped_at"),
        # "Is this id tag charging already?" on every StartTransaction (migration ocpp_0002).
        Index("ix_sessions_id_tag_active", "id_tag", "stopped_at"),
        # The periodic sweep of open sessions (refused starts, reboots) (migration ocpp_0005).
        Index("ix_sessions_open", "stopped_at", "authorization_status"),
        UniqueConstraint("charger_id", "remote_transaction_id"),
    )


class MeterValue(Base):
    __tablename__ = "meter_values"
    __table_args__ = (
        Index("ix_meter_values_session_ts", "session_id", "timestamp"),
        Index("ix_meter_values_charger_ts", "charger_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE")
    )
    charger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    evse_number: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column()
    measurand: Mapped[str] = mapped_column(String(64), default="Energy.Active.Import.Register")
    phase: Mapped[str | None] = mapped_column(String(8))
    unit: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    context: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(16))


class IdTag(Timestamped, Base):
    __tablename__ = "id_tags"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    id_tag: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="Accepted")
    expires_at: Mapped[datetime | None] = mapped_column()
    parent_id_tag: Mapped[str | None] = mapped_column(String(36))
    # Its sessions' deadline unless the API or the car says otherwise: leaves at this
    # local time of day ("17:30", the site's time zone), else after this long; wants
    # this much energy (docs/deadlines.md).
    default_departure_time: Mapped[str | None] = mapped_column(String(5))
    default_dwell_s: Mapped[int | None] = mapped_column(Integer)
    default_energy_wh: Mapped[float | None] = mapped_column(Float)
    # None: valid everywhere (only unscoped tokens manage it).
    site_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )


class ElectricityMeter(Timestamped, Base):
    """A meter of unmanaged load; a site or circuit points at it by electricity_meter_id."""

    __tablename__ = "electricity_meters"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # A reading older than this is stale: the node falls back to offline_reserved_current.
    max_age_s: Mapped[int] = mapped_column(Integer, default=60)


class MeterReading(Base):
    __tablename__ = "meter_readings"
    __table_args__ = (Index("ix_meter_readings_meter_ts", "meter_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    meter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("electricity_meters.id", ondelete="CASCADE")
    )
    timestamp: Mapped[datetime] = mapped_column()
    current_l1: Mapped[float | None] = mapped_column(Float)
    current_l2: Mapped[float | None] = mapped_column(Float)
    current_l3: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # SHA-256 of the token: tokens are 256-bit random, so a slow hash adds nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # None: every site; otherwise a list of site id strings.
    site_ids: Mapped[list[Any] | None] = mapped_column()
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Webhook(Timestamped, Base):
    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column()
    secret: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
