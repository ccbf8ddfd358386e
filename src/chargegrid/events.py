"""The bus's contract: every topic the API, the OCPP server and the control loop publish
to each other, and the payload each carries, typed.

Publishers build their payload as the TypedDict of its topic (mypy checks the fields);
consumers read the topic constants. The same names and fields reach the event stream
(`GET /events/stream`) and webhooks, so they are public: add fields, never rename one.
Pure: imports nothing from the rest of chargegrid.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NotRequired, TypedDict

# --- chargers -------------------------------------------------------------------------

CHARGER_CONNECTED: Final = "charger.connected"
CHARGER_READY: Final = "charger.ready"
CHARGER_DISCONNECTED: Final = "charger.disconnected"
CHARGER_STATUS_CHANGED: Final = "charger.status_changed"
CHARGER_LIMIT_VIOLATION: Final = "charger.limit_violation"
CHARGER_DATA_TRANSFER: Final = "charger.data_transfer"
CHARGER_NOTICE: Final = "charger.notice"
CHARGER_SECURITY_EVENT: Final = "charger.security_event"

# --- sessions -------------------------------------------------------------------------

SESSION_STARTED: Final = "session.started"
SESSION_REFUSED: Final = "session.refused"
SESSION_UPDATED: Final = "session.updated"
SESSION_STOPPED: Final = "session.stopped"

# --- configuration, meters, load ------------------------------------------------------

CONFIG_CHANGED: Final = "config.changed"
METER_READING: Final = "meter.reading"
SITE_LOAD_CHANGED: Final = "site.load_changed"

Phases = dict[str, float | None]  # {"l1", "l2", "l3"}: A, W or V per phase


class ChargerLink(TypedDict):
    """charger.connected (a socket opened), charger.disconnected."""

    charger_id: str
    ocpp_id: str
    ocpp_version: NotRequired[str]


class ChargerReady(TypedDict):
    """The charger spoke first on its connection (a BootNotification was accepted):
    calls may be sent to it now (docs/ocpp.md, the boot sequence)."""

    charger_id: str
    ocpp_id: str
    rebooted: bool
    # The OCPP version negotiated on this connection: what its first calls are written
    # in (the control loop must not greet it from an older snapshot's version).
    ocpp_version: NotRequired[str]


class ChargerStatusChanged(TypedDict):
    charger_id: str
    ocpp_id: str
    connector_id: int  # 0: the charger itself
    ocpp_status: str
    error_code: str | None
    timestamp: str


class ChargerNotice(TypedDict):
    """charger.data_transfer, charger.notice (firmware, diagnostics, log, security)."""

    charger_id: str
    ocpp_id: str
    action: str
    payload: dict[str, Any]


class ChargerSecurityEvent(TypedDict):
    """charger.security_event: a charger's SecurityEventNotification (``source``
    "charger", its own type such as TamperDetectionActivated) or the CSMS's own
    (``source`` "csms": a refused handshake, a rotated password, a changed security
    profile; docs/security.md "Security events"). Also in
    ``GET /chargers/{id}/security-events`` under the same ``id``."""

    id: int
    charger_id: str
    ocpp_id: str
    site_id: str | None
    source: Literal["charger", "csms"]
    type: str
    tech_info: str | None
    timestamp: str  # when it happened (the charger's clock for its own events)
    severity: Literal["critical", "warning", "info"]


class LimitViolation(TypedDict):
    """A car drawing above its acknowledged limit past the reaction time: published once
    when it begins (``ended`` False) and once when it ends."""

    site_id: str | None
    charger_id: str
    ocpp_id: str | None
    evse_number: int
    connector_id: int | None
    session_id: str | None  # None: a draw without a session (a forgotten refused start)
    limit_a: float
    measured_a: float
    since: str
    ended: bool
    ended_at: NotRequired[str]
    reason: NotRequired[str]  # complied | session_stopped | session_started | connector_*


class SessionStarted(TypedDict):
    session_id: str
    charger_id: str
    ocpp_id: str
    connector_id: int
    transaction_id: int | str  # 1.6: ours (a number); 2.0.1: the station's
    id_tag: str
    started_at: str


class SessionRefused(SessionStarted):
    """A StartTransaction answered other than Accepted: recorded, never running."""

    status: str


class SessionReading(TypedDict):
    """session.updated for one MeterValues message (``session_id`` None: no session)."""

    session_id: str | None
    charger_id: str
    ocpp_id: str
    connector_id: int
    transaction_id: int | str | None
    timestamp: str
    current: Phases
    power_w: float | None
    energy_wh: float | None
    soc: float | None
    power: Phases
    voltage: Phases
    current_unphased: float | None
    energy_register_wh: float | None


class SessionCompleted(TypedDict):
    """session.updated when a session chargegrid closed gets its charger's late
    StopTransaction: the real meter reading."""

    session_id: str
    charger_id: str
    ocpp_id: str
    connector_id: int | None
    transaction_id: int | str  # 1.6: ours (a number); 2.0.1: the station's
    energy_wh: float | None
    meter_stop: float
    stopped_at: str
    reason: str | None
    completed: Literal[True]


class SessionNeeds(TypedDict):
    """session.updated when an EV said what it needs (2.0.1 NotifyEVChargingNeeds):
    what it asked for; the deadline planned with may still be the API's."""

    session_id: str
    charger_id: str
    ocpp_id: str
    connector_id: int
    departure_at: str | None
    energy_wanted_wh: float | None
    ev_max_current: float | None
    needs: NotRequired[Literal[True]]


DeadlineSourceName = Literal["api", "charger", "id_tag_default", "predicted"]


class SessionDeadline(TypedDict):
    """session.updated when a session's deadline was set through the API or filled in
    from its id tag's defaults or a prediction (docs/deadlines.md): what the load
    manager plans with now, and where each part came from."""

    session_id: str
    charger_id: str
    departure_at: str | None
    departure_source: DeadlineSourceName | None
    departure_confidence: float | None
    energy_wanted_wh: float | None
    energy_wanted_source: DeadlineSourceName | None
    deadline: Literal[True]


class SessionStopped(TypedDict):
    session_id: str
    charger_id: str
    ocpp_id: NotRequired[str | None]  # None: closed by chargegrid's own sweep
    connector_id: int | None
    transaction_id: int | str | None
    energy_wh: float | None
    stopped_at: str
    reason: str | None
    ended_by: NotRequired[str]  # an operator's end: who ...
    end_reason: NotRequired[str]  # ... and why


class ConfigChanged(TypedDict, total=False):
    """Something an operator configured (``kind``/``id``/``action``/``fields``), or what
    a charger's post-boot exchange learnt (``charger_id``/``config_sync``)."""

    kind: str  # site | circuit | charger | evse | connector | electricity_meter | ...
    id: str
    site_id: str | None
    action: str  # created | updated | deleted
    fields: list[str]
    charger_id: str
    ocpp_id: str
    config_sync: str
    # 2.0.1 NotifyChargingLimit / ClearedChargingLimit on the charger (None: cleared).
    external_limit_a: float | None
    evse_number: int | None


class MeterReading(TypedDict):
    meter_id: str
    site_id: str
    timestamp: str
    current_l1: float | None
    current_l2: float | None
    current_l3: float | None


# What webhooks may subscribe to (patterns like "session.*" also work): API.md's events,
# the raw meter feed, the compliance reports and the security events.
WEBHOOK_TOPICS: Final = frozenset(
    {
        CHARGER_CONNECTED,
        CHARGER_DISCONNECTED,
        CHARGER_STATUS_CHANGED,
        CHARGER_LIMIT_VIOLATION,
        CHARGER_SECURITY_EVENT,
        SESSION_STARTED,
        SESSION_UPDATED,
        SESSION_STOPPED,
        SITE_LOAD_CHANGED,
        CONFIG_CHANGED,
        METER_READING,
    }
)
