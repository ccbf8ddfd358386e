"""What charger traffic needs from storage and the event bus, as plain types.

The OCPP handlers speak to :class:`ChargerStore` and :class:`EventSink` only, so they
run against SQLite/PostgreSQL in production and against fakes in unit tests. Every
message a charger sends becomes one of the ``*Write`` records below; a store applies
a whole list of them in ONE database transaction (group commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

# How long an open session may stay open without counting as running; the defaults of
# config.Settings, and why, in docs/ocpp.md ("Refused starts", "When a session ends").
REFUSED_START_TIMEOUT_S = 120.0
SESSION_RESUME_TIMEOUT_S = 300.0
SESSION_SUSPECT_AFTER_S = 600.0

# stop_reason of a session chargegrid closed itself (the charger never said it stopped).
# Its late StopTransaction still completes it with the real meter reading; any other
# stop_reason came from the charger, and a repeated StopTransaction changes nothing.
SUPERSEDED = "Superseded"  # a new StartTransaction on the same connector
CONNECTOR_AVAILABLE = "ConnectorAvailable"  # or ConnectorFinishing/ConnectorPreparing
NOT_RESUMED = "NotResumed"  # the charger rebooted and never showed the transaction again
TIMED_OUT = "Timeout"  # a refused start the charger never closed
OPERATOR = "Operator"  # POST /sessions/{id}/actions/end
SERVER_STOP_REASONS = frozenset(
    {
        SUPERSEDED,
        CONNECTOR_AVAILABLE,
        "ConnectorFinishing",
        "ConnectorPreparing",
        NOT_RESUMED,
        TIMED_OUT,
        OPERATOR,
    }
)
ACCEPTED = "Accepted"


@dataclass(frozen=True, slots=True)
class SessionRules:
    """When an open session stops counting as running (docs/ocpp.md)."""

    # A refused start the charger neither stops nor frees its connector from is closed
    # after this long (it holds no current and no tag meanwhile; this only tidies up).
    refused_timeout_s: float = REFUSED_START_TIMEOUT_S
    # After a BootNotification, an open transaction must show itself again within this
    # long (or twice the charger's meter interval, if longer), else it is closed.
    resume_timeout_s: float = SESSION_RESUME_TIMEOUT_S
    # A session on a charger offline for longer is ``suspect`` and no longer keeps its
    # id tag busy.
    suspect_after_s: float = SESSION_SUSPECT_AFTER_S


@dataclass(frozen=True, slots=True)
class ChargerRecord:
    """A charger as the OCPP server needs it at connect time."""

    id: uuid.UUID
    ocpp_id: str
    registration_status: str  # Accepted | Pending | Rejected
    password_hash: str | None
    meter_value_interval: int | None
    config_sync: str
    # The OCPP version an operator pinned ("1.6" | "2.0.1"); None: the best offered.
    ocpp_version_pin: str | None = None
    security_profile: int = 1  # 1 Basic auth, 2 TLS + Basic auth, 3 client certificate


@dataclass(frozen=True, slots=True)
class IdTagRecord:
    id_tag: str
    status: str  # Accepted | Blocked | Expired | Invalid
    expires_at: datetime | None
    parent_id_tag: str | None
    # The site the tag is valid at (id_tags.site_id); None: every site.
    site_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


# The records made for every MeterValues message (six samples, the write, its result)
# are NamedTuples: as immutable as frozen dataclasses, but built in a third of the time
# (a frozen dataclass sets each field through object.__setattr__).


class Sample(NamedTuple):
    """One sampled value, normalised to A, V, W, Wh, var, varh, %."""

    timestamp: datetime
    measurand: str
    value: float
    phase: str | None = None
    unit: str | None = None
    context: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceWrite:
    charger_id: uuid.UUID
    online: bool
    at: datetime
    ocpp_version: str | None = None


@dataclass(frozen=True, slots=True)
class BootWrite:
    charger_id: uuid.UUID
    at: datetime
    vendor: str
    model: str
    serial_number: str | None
    firmware_version: str | None
    reason: str | None = None  # 2.0.1 BootReason (PowerUp, RemoteReset, Watchdog, ...)


@dataclass(frozen=True, slots=True)
class StatusWrite:
    """StatusNotification; connector 0 is the charger itself."""

    charger_id: uuid.UUID
    connector_id: int
    status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StartWrite:
    """StartTransaction; ``(charger, connector, id_tag, meter_start, timestamp)`` is its
    identity, so a repeat after a reconnect finds the session it already created."""

    charger_id: uuid.UUID
    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime
    reservation_id: int | None
    unknown_tags_accepted: bool = False
    # A session on a charger offline for longer than this does not make its tag busy.
    suspect_after_s: float = SESSION_SUSPECT_AFTER_S


@dataclass(frozen=True, slots=True)
class Closed:
    """A session chargegrid closed itself (reason: one of SERVER_STOP_REASONS)."""

    session_id: uuid.UUID
    charger_id: uuid.UUID
    connector_id: int | None
    transaction_id: int | None
    reason: str
    at: datetime
    energy_wh: float | None
    # It was running (accepted) until now: the load manager and subscribers must hear
    # it stopped. A refused start was never running, so its closing is not announced.
    running: bool


@dataclass(frozen=True, slots=True)
class Booted:
    """A stored BootNotification: the sessions it closed, and the charger's record as it
    is now (an operator may have accepted a Pending charger since it connected), read
    in the same write so that a boot costs no second lookup."""

    closed: tuple[Closed, ...]
    record: ChargerRecord | None


@dataclass(frozen=True, slots=True)
class Started:
    session_id: uuid.UUID
    transaction_id: int
    id_tag_info: IdTagInfo
    repeated: bool
    # Open sessions on the same connector this start closed (their stop was lost).
    superseded: tuple[Closed, ...] = ()

    @property
    def refused(self) -> bool:
        """Recorded with its transaction id, but not running: no current, no tag."""
        return self.id_tag_info.status != ACCEPTED


@dataclass(frozen=True, slots=True)
class StopWrite:
    charger_id: uuid.UUID
    transaction_id: int
    meter_stop: int
    timestamp: datetime
    reason: str | None
    id_tag: str | None
    samples: Sequence[Sample] = ()


@dataclass(frozen=True, slots=True)
class Stopped:
    session_id: uuid.UUID | None  # None: we never heard of that transaction
    connector_id: int | None
    energy_wh: float | None
    id_tag_info: IdTagInfo | None
    repeated: bool
    # The session was running until this stop (not a refused start, not closed before).
    running: bool = True
    # It had been closed by chargegrid; this stop completed it with the real reading.
    late: bool = False


@dataclass(frozen=True, slots=True)
class SweepWrite:
    """Close refused starts and unresumed transactions whose time is up (as of ``at``)."""

    at: datetime
    refused_timeout_s: float = REFUSED_START_TIMEOUT_S
    resume_timeout_s: float = SESSION_RESUME_TIMEOUT_S


class MeterWrite(NamedTuple):
    charger_id: uuid.UUID
    connector_id: int
    transaction_id: int | None
    samples: Sequence[Sample]


class Metered(NamedTuple):
    session_id: uuid.UUID | None
    energy_wh: float | None


@dataclass(frozen=True, slots=True)
class ConfigWrite:
    """What the post-boot exchange learnt; a None field is left as it is."""

    charger_id: uuid.UUID
    config_sync: str | None = None
    configuration: Mapping[str, Any] | None = None
    connector_phase_rotation: str | None = None
    max_stack_level: int | None = None
    charging_rate_units: Sequence[str] | None = None
    phase_switching: bool | None = None


@dataclass(frozen=True, slots=True)
class TxEventWrite:
    """A 2.0.1 TransactionEvent. ``(charger, transaction_id, seq_no)`` is its identity:
    a replay (after a reconnect, or an answer lost) is recognised and changes nothing."""

    charger_id: uuid.UUID
    event_type: str  # Started | Updated | Ended
    transaction_id: str  # the station's own id
    seq_no: int
    trigger_reason: str
    timestamp: datetime
    evse_number: int | None
    connector_id: int | None
    id_tag: str | None  # idToken.idToken when the event carries one
    charging_state: str | None
    stopped_reason: str | None
    remote_start_id: int | None
    offline: bool
    samples: Sequence[Sample] = ()
    unknown_tags_accepted: bool = False
    suspect_after_s: float = SESSION_SUSPECT_AFTER_S


@dataclass(frozen=True, slots=True)
class TxEventResult:
    """What a TransactionEvent changed, for the answer and the events published."""

    session_id: uuid.UUID
    evse_number: int
    repeated: bool  # seen before (same seqNo): nothing changed
    id_tag_info: IdTagInfo | None  # when the event carried an idToken
    began: bool  # the session starts running now (new and accepted, or authorized now)
    refused: bool  # its idToken was refused now: the session does not run (any more)
    ended: bool  # the station ended it now
    was_running: bool  # it ran before this event (for ended/refused: announce the stop)
    energy_wh: float | None
    late: bool = False  # ended a session chargegrid had closed itself
    superseded: tuple[Closed, ...] = ()


@dataclass(frozen=True, slots=True)
class Variable:
    """One attribute of a 2.0.1 device-model variable, as a charger reported or set it."""

    component: str
    variable: str
    attribute_type: str = "Actual"
    component_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    variable_instance: str = ""
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None
    data_type: str | None = None
    unit: str | None = None
    min_limit: str | None = None
    max_limit: str | None = None
    values_list: str | None = None
    supports_monitoring: bool | None = None
    status: str | None = None  # a GetVariables/SetVariables result other than Accepted


@dataclass(frozen=True, slots=True)
class VariablesWrite:
    """Device-model attributes learnt (``source``: report | get | set); upserted."""

    charger_id: uuid.UUID
    source: str
    variables: Sequence[Variable]
    at: datetime


@dataclass(frozen=True, slots=True)
class EvNeedsWrite:
    """What an EV asked for (2.0.1 NotifyEVChargingNeeds, ISO 15118): set on the open
    session of the EVSE; a None field is left as it is."""

    charger_id: uuid.UUID
    evse_number: int
    departure_time: datetime | None
    energy_wanted_wh: float | None
    ev_max_current: float | None


@dataclass(frozen=True, slots=True)
class ExternalLimitWrite:
    """2.0.1 NotifyChargingLimit / ClearedChargingLimit: a limit from outside on one EVSE
    (``evse_number`` None: every EVSE of the station); ``amps`` None clears it."""

    charger_id: uuid.UUID
    evse_number: int | None
    amps: float | None
    source: str


@dataclass(frozen=True, slots=True)
class NoticeWrite:
    """DataTransfer, firmware/diagnostics/log/security notices: kept as they came."""

    charger_id: uuid.UUID
    action: str
    payload: Mapping[str, Any]
    at: datetime


Write = (
    PresenceWrite
    | BootWrite
    | StatusWrite
    | StartWrite
    | StopWrite
    | MeterWrite
    | ConfigWrite
    | NoticeWrite
    | SweepWrite
    | TxEventWrite
    | VariablesWrite
    | EvNeedsWrite
    | ExternalLimitWrite
)


class ChargerGone(Exception):
    """A write for a charger whose row no longer exists (deleted while it was
    connected): refused, never acknowledged and dropped. A store gives it as the
    write's result; the group-commit writer raises it to the write's submitter."""

    def __init__(self, charger_id: uuid.UUID) -> None:
        super().__init__(f"charger {charger_id} no longer exists (deleted); nothing was stored")
        self.charger_id = charger_id


class ChargerStore(Protocol):
    async def charger(self, ocpp_id: str) -> ChargerRecord | None: ...

    async def site_of(self, charger_id: uuid.UUID) -> uuid.UUID | None:
        """The charger's site (None: unplaced, or no such charger). Asked only for an
        id tag that belongs to a site."""
        ...

    async def register(self, ocpp_id: str) -> ChargerRecord:
        """Create a charger that connected on its own (auto-registration): Pending."""
        ...

    async def id_tag(self, id_tag: str) -> IdTagRecord | None: ...

    async def apply(self, writes: Sequence[Write]) -> list[Any]:
        """Apply ``writes`` in one transaction and commit it; one result per write, in
        order (:class:`Started`, :class:`Stopped`, :class:`Metered`, a tuple of
        :class:`Closed` for a status, boot or sweep, or None). A write for a charger
        whose row no longer exists is not applied: its result is a
        :class:`ChargerGone`."""
        ...

    async def durable(self) -> None:
        """Return once every transaction ``apply`` has committed so far is on stable
        storage (at once where a commit is durable by itself); raise if it cannot be."""
        ...


class ServerStore(ChargerStore, Protocol):
    """What the OCPP server needs of its store beyond charger traffic: its lifecycle,
    and the few reads that turn a configuration change into a call."""

    async def forget_presence(self) -> int:
        """Mark every charger offline (start-up: no socket is held yet); how many were."""
        ...

    async def checkpoint(self) -> None:
        """Housekeeping beside the writer (SQLite: move the WAL into the database)."""
        ...

    async def close(self) -> None: ...

    async def ocpp_id_of(self, charger_id: uuid.UUID) -> str | None: ...

    async def evse_availability(self, evse_id: uuid.UUID) -> tuple[str, int, bool] | None:
        """``(ocpp_id, evse_number, enabled)`` of the EVSE row ``evse_id``."""
        ...

    async def variable(
        self, ocpp_id: str, component: str, variable: str, instance: str = ""
    ) -> str | None:
        """A 2.0.1 device-model value the charger reported (its Actual attribute)."""
        ...

    async def stage_password_hash(self, ocpp_id: str, password_hash: str) -> None:
        """The charger took a new Basic-auth password: pending, beside the current one,
        until it connects with it (``ocpp.handshake_security``)."""
        ...


class EventSink(Protocol):
    """The event bus as charger traffic sees it (``bus.memory.EventBus`` fits)."""

    def publish(self, topic: str, payload: Mapping[str, Any], /) -> object:
        """Hand an event (``chargegrid.events``) to the bus; must not block."""
        ...


@dataclass
class EventLog:
    """An EventSink that keeps what it was given (for wiring without a bus, and tests)."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    limit: int = 10_000

    def publish(self, topic: str, payload: Mapping[str, Any], /) -> object:
        if len(self.events) >= self.limit:
            del self.events[: self.limit // 2]
        self.events.append((topic, dict(payload)))
        return None
