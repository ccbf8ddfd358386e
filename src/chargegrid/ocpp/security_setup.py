"""Wires security into a started OCPP central system: the security event log
(SecurityEventNotifications and the handshake's refusals), a rotation's pending
passwords at the handshake, and TLS-terminating proxies (``trusted_proxies``).

Called by ``ocpp.component.ocpp_server`` before the listener starts, with the store
``app.py`` wires in (the SQL one is ``store.security_store``), and by tests that build a
central system themselves. Without it the server is safe but plainer: forwarding
headers ignored, only the current password accepted, refusals only logged.
"""

from __future__ import annotations

from typing import Protocol

from chargegrid.config import Settings
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.forwarded_tls import ForwardedTls
from chargegrid.ocpp.handshake_security import PendingPasswords
from chargegrid.services.security_events import SecurityEvents, SecurityEventStore


class SecurityStore(SecurityEventStore, PendingPasswords, Protocol):
    """The security event log and a rotation's pending passwords."""


def secure(central: OcppCentralSystem, settings: Settings, store: SecurityStore) -> SecurityEvents:
    events = SecurityEvents(store, central.messages.events)
    central.messages.security_events = events
    guard = central.server.guard
    guard.events = events
    guard.passwords = store
    guard.forwarded = ForwardedTls.from_settings(settings.trusted_proxies, settings.tls_client_ca)
    return events
