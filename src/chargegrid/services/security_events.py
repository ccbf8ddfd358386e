"""The security event log: what a charger reports (SecurityEventNotification, OCPP 1.6
security extension and 2.0.1) and what the CSMS itself saw or did (refused handshakes,
rotated passwords, changed security profiles). Each event is stored, then published
as ``charger.security_event`` (event stream, webhooks); docs/security.md.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from chargegrid import events as ev
from chargegrid.services.charger_ports import EventSink

log = logging.getLogger(__name__)

Source = Literal["charger", "csms"]
Severity = Literal["critical", "warning", "info"]

# The events the OCPP security event list (1.6 Security Whitepaper appendix, 2.0.1
# part 2 appendix) marks critical: a charger must push these to the CSMS at once.
CRITICAL = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)

# The CSMS's own events. A failed login and a bad certificate reuse the OCPP list's
# names (the charger failed to authenticate at us); the rest are ours.
FAILED_AUTHENTICATION = "FailedToAuthenticateAtCsms"
INVALID_CERTIFICATE = "InvalidChargingStationCertificate"
DOWNGRADE_REFUSED = "SecurityProfileDowngradeRefused"
UNTRUSTED_FORWARDING = "UntrustedForwardedHeaders"
PASSWORD_ROTATED = "PasswordRotated"
PASSWORD_ROTATION_COMPLETED = "PasswordRotationCompleted"
SECURITY_PROFILE_CHANGED = "SecurityProfileChanged"
# What an attacker at the door causes: worth a look, not an alarm each time.
WARNINGS = frozenset(
    {FAILED_AUTHENTICATION, INVALID_CERTIFICATE, DOWNGRADE_REFUSED, UNTRUSTED_FORWARDING}
)

TYPE_MAX = 50  # the OCPP type field's length (CiString50) and our column's
TECH_INFO_MAX = 255


def severity(source: Source, event_type: str) -> Severity:
    if event_type in CRITICAL:
        return "critical"
    if source == "csms" and event_type in WARNINGS:
        return "warning"
    return "info"


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    charger_id: uuid.UUID
    source: Source
    type: str
    tech_info: str | None
    timestamp: datetime  # when it happened (a charger's own events: its clock)

    def clipped(self) -> SecurityEvent:
        """Fits the columns (the schemas bound what chargers send; ours are cut)."""
        info = self.tech_info[:TECH_INFO_MAX] if self.tech_info is not None else None
        return SecurityEvent(
            self.charger_id, self.source, self.type[:TYPE_MAX], info, self.timestamp
        )


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    site_id: uuid.UUID | None


class SecurityEventStore(Protocol):
    async def add_security_event(
        self, event: SecurityEvent, severity: Severity, received_at: datetime
    ) -> Stored | None:
        """Store ``event``; None when its charger no longer exists."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class SecurityEvents:
    """Stores and publishes security events; the CSMS's refusals are throttled."""

    # At most one stored refusal per charger and type in this many seconds: a flood of
    # wrong passwords must not become a flood of rows (each one is still logged).
    THROTTLE_S = 10.0

    def __init__(
        self,
        store: SecurityEventStore,
        events: EventSink,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.events = events
        self.clock = clock
        self._last_refusal: dict[tuple[uuid.UUID, str], float] = {}

    async def record(self, event: SecurityEvent, ocpp_id: str) -> Stored | None:
        """Store ``event`` (durable when this returns) and publish it."""
        event = event.clipped()
        level = severity(event.source, event.type)
        stored = await self.store.add_security_event(event, level, self.clock())
        if stored is None:
            return None
        payload: ev.ChargerSecurityEvent = {
            "id": stored.id,
            "charger_id": str(event.charger_id),
            "ocpp_id": ocpp_id,
            "site_id": str(stored.site_id) if stored.site_id is not None else None,
            "source": event.source,
            "type": event.type,
            "tech_info": event.tech_info,
            "timestamp": event.timestamp.isoformat(),
            "severity": level,
        }
        self.events.publish(ev.CHARGER_SECURITY_EVENT, payload)
        return stored

    async def csms(
        self, charger_id: uuid.UUID, ocpp_id: str, event_type: str, tech_info: str | None
    ) -> Stored | None:
        """One of the CSMS's own events, happening now."""
        event = SecurityEvent(charger_id, "csms", event_type, tech_info, self.clock())
        return await self.record(event, ocpp_id)

    def refusal_due(self, charger_id: uuid.UUID, event_type: str) -> bool:
        """Whether a refusal of this type on this charger should be stored (not within
        THROTTLE_S of the last stored one)."""
        now = time.monotonic()
        key = (charger_id, event_type)
        last = self._last_refusal.get(key)
        if last is not None and now - last < self.THROTTLE_S:
            return False
        if len(self._last_refusal) > 10_000:  # bounded: forget the old ones
            self._last_refusal = {
                k: t for k, t in self._last_refusal.items() if now - t < self.THROTTLE_S
            }
        self._last_refusal[key] = now
        return True
