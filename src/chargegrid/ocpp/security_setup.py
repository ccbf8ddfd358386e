"""Wires security into a started OCPP central system: the security event log
(SecurityEventNotifications and the handshake's refusals), a rotation's pending
passwords at the handshake, and TLS-terminating proxies (``trusted_proxies``).

Called by ``app.ocpp_listener`` right after the listener starts, and by tests that
build a central system themselves. Until it is called the server is safe but plainer:
forwarding headers ignored, only the current password accepted, refusals only logged.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from chargegrid.config import Settings
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.forwarded_tls import ForwardedTls
from chargegrid.services.security_events import SecurityEvents
from chargegrid.store.security_store import SqlSecurityStore


def secure(central: OcppCentralSystem, settings: Settings, engine: AsyncEngine) -> SecurityEvents:
    store = SqlSecurityStore(engine)
    events = SecurityEvents(store, central.messages.events)
    central.messages.security_events = events
    guard = central.server.guard
    guard.events = events
    guard.passwords = store
    guard.forwarded = ForwardedTls.from_settings(settings.trusted_proxies, settings.tls_client_ca)
    return events
