"""The OCPP server as an app component (``app.components_for``).

Besides starting the listener it follows ``config.changed``: settings an operator
changes on a connected charger are pushed at once (``meter_value_interval``), an
EVSE switched off or on becomes a ChangeAvailability, and a deleted charger's
connection is closed (what it would send could no longer be stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from chargegrid import events
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.domain.errors import DomainError
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.errors import AnswerError
from chargegrid.ocpp.forwarded_tls import ForwardedTls
from chargegrid.ocpp.security_setup import SecurityStore, secure
from chargegrid.ocpp.tls import TlsFiles
from chargegrid.ocpp.tls_sources import CaAndFiles, NoTlsMaterial, client_ca_pem
from chargegrid.services.certificates import renew_server_certificate
from chargegrid.services.charger_commands import ChangeAvailability
from chargegrid.services.charger_ports import ServerStore, SessionRules
from chargegrid.services.pki_ports import PkiStore

log = logging.getLogger(__name__)

GATEWAY_HANDLE = "ocpp_gateway"
CENTRAL_HANDLE = "ocpp"
CONTROL_HANDLE = "control_loop"  # control.component.HANDLE, found at call time
CLUSTER_HANDLE = "cluster"  # cluster.component.HANDLE (cluster mode only)
PUSHED_SETTINGS = frozenset({"meter_value_interval"})
AVAILABILITY_TIMEOUT = 30.0
CERTIFICATE_CHECK_S = 3600.0  # renewals: chargers' certificates and the server's own


class RuntimeLike(Protocol):
    settings: Settings
    bus: EventBus
    handles: dict[str, Any]


@asynccontextmanager
async def ocpp_server(
    runtime: RuntimeLike,
    store: ServerStore,
    pki: PkiStore | None = None,
    security: SecurityStore | None = None,
) -> AsyncIterator[OcppCentralSystem]:
    """The OCPP listener on ``store``, the built-in CA's ``pki`` and ``security`` (the
    security event log, pending passwords); app.py wires the SQL stores in."""
    settings = runtime.settings

    async def limits_first(charger_id: str) -> None:
        # The control loop, when this process runs one, sends a booted charger its
        # failsafe and live limits before its configuration is read (BootSequence).
        loop = runtime.handles.get(CONTROL_HANDLE)
        if loop is not None:
            await loop.first_limits(charger_id)

    central = OcppCentralSystem(
        store,
        runtime.bus,
        auto_register=settings.auto_register,
        limits_first=limits_first,
        session_rules=SessionRules(
            refused_timeout_s=settings.refused_start_timeout_s,
            resume_timeout_s=settings.session_resume_timeout_s,
            suspect_after_s=settings.session_suspect_after_s,
        ),
        pki=pki,
    )
    if security is not None:  # before the first handshake
        secure(central, settings, security)
    cluster = runtime.handles.get(CLUSTER_HANDLE)
    if cluster is not None:  # cluster mode (cluster/component.py): started before us
        central.owns_every_socket = False
        central.server.superseded = cluster.superseded
    tls = tls_source(settings, pki)
    try:
        port = await central.start(
            settings.host,
            settings.ocpp_port,
            tls=tls,
            tls_port=settings.ocpp_tls_port,
            tls_reload_s=settings.tls_reload_s,
        )
    except NoTlsMaterial as exc:
        await central.stop()
        raise SystemExit(str(exc)) from None
    log.info("OCPP 2.0.1 and 1.6J on ws://%s:%d/ocpp/{charge point id}", settings.host, port)
    if tls is not None:
        log.info("... and on wss://%s:%d/ocpp/{id}", settings.host, central.tls_port)
    # In a cluster, the gateway that reaches a charger on whichever node holds it.
    gateway = central.gateway if cluster is None else await cluster.route(central)
    runtime.handles[GATEWAY_HANDLE] = gateway
    runtime.handles[CENTRAL_HANDLE] = central
    follower = asyncio.create_task(follow_config_changes(runtime.bus, store, central))
    renewals = asyncio.create_task(renew_certificates_forever(central, pki))
    proxies = asyncio.create_task(follow_client_cas(central.server.guard.forwarded, pki, settings))
    try:
        yield central
    finally:
        for task in (follower, renewals, proxies):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime.handles.pop(GATEWAY_HANDLE, None)
        runtime.handles.pop(CENTRAL_HANDLE, None)
        await central.stop()


def tls_source(settings: Settings, pki: PkiStore | None) -> CaAndFiles | None:
    """Where the wss listener's certificates come from, if ``--ocpp-tls-port`` asks for
    one: ``--tls-cert/--tls-key`` where given, else the built-in CA's server certificate;
    profile-3 chargers may hold certificates of ``--tls-client-ca`` or of the CA."""
    if settings.ocpp_tls_port is None:
        return None
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together (PEM files)")
    files = None
    if settings.tls_cert and settings.tls_key:
        client_ca = Path(settings.tls_client_ca) if settings.tls_client_ca else None
        files = TlsFiles(Path(settings.tls_cert), Path(settings.tls_key), client_ca)
    return CaAndFiles(pki, files)


async def renew_certificates_forever(central: OcppCentralSystem, pki: PkiStore | None) -> None:
    """Every hour: ask chargers whose certificate expires within 30 days for a new CSR,
    and renew the server's own certificate from the CA before it expires."""
    if pki is None:
        return
    while True:
        try:
            if central.certificates is not None:
                await central.certificates.ask_renewals()
            if await renew_server_certificate(pki):
                log.info("renewed the server certificate (it expired within 30 days)")
        except Exception:  # a database hiccup: next hour
            log.exception("certificate renewal check failed")
        await asyncio.sleep(CERTIFICATE_CHECK_S)


async def follow_client_cas(
    forwarded: ForwardedTls | None, pki: PkiStore | None, settings: Settings
) -> None:
    """A trusted proxy's forwarded certificates are checked against the same CAs as
    direct ones, as they change: ``--tls-client-ca`` and the built-in CA."""
    if forwarded is None:
        return
    client_ca = Path(settings.tls_client_ca) if settings.tls_client_ca else None
    seen: str | None = None
    while True:
        try:
            pem = await client_ca_pem(pki, client_ca)
            if pem != seen:
                forwarded.client_cas = tuple(x509.load_pem_x509_certificates(pem.encode()))
                seen = pem
        except (OSError, ValueError) as exc:
            log.error("client CAs for proxied certificates unchanged: %s", exc)
        except Exception:  # a database hiccup: next time
            log.exception("client CA check failed")
        await asyncio.sleep(settings.tls_reload_s)


async def follow_config_changes(
    bus: EventBus, store: ServerStore, central: OcppCentralSystem
) -> None:
    async with bus.subscribe(events.CONFIG_CHANGED) as subscription:
        async for event in subscription:
            try:
                await _on_change(event.payload, store, central)
            except Exception:  # one odd event must not stop the follower
                log.exception("could not act on %s", event.payload)


async def _on_change(
    payload: Mapping[str, Any], store: ServerStore, central: OcppCentralSystem
) -> None:
    kind, action = payload.get("kind"), payload.get("action")
    fields = set(payload.get("fields") or ())
    if kind == "charger" and action == "deleted" and payload.get("ocpp_id"):
        await _charger_deleted(payload, store, central)
        return
    if kind == "site" and action == "deleted":
        # Its chargers went with it (ON DELETE CASCADE): close whichever was connected.
        for connected in central.gateway.connected():
            if await store.charger(connected) is None:
                await central.gateway.disconnect(connected, "charger deleted with its site")
        return
    if action != "updated" or "id" not in payload:
        return
    row_id = uuid.UUID(payload["id"])
    if kind == "charger" and fields & PUSHED_SETTINGS:
        ocpp_id = await store.ocpp_id_of(row_id)
        if ocpp_id is not None and central.gateway.is_online(ocpp_id):
            _background(central.server.push_settings(ocpp_id), f"push settings to {ocpp_id}")
    elif kind == "evse" and "enabled" in fields:
        evse = await store.evse_availability(row_id)
        if evse is not None and central.gateway.is_online(evse[0]):
            ocpp_id, number, enabled = evse
            command = ChangeAvailability(number, operative=enabled)
            _background(
                central.gateway.command(ocpp_id, command, AVAILABILITY_TIMEOUT),
                f"ChangeAvailability on {ocpp_id}",
            )


async def _charger_deleted(
    payload: Mapping[str, Any], store: ServerStore, central: OcppCentralSystem
) -> None:
    """Close the socket of a charger deleted through the API (only a real deletion
    names the ``ocpp_id``; a charger moved to another site is "deleted" from the old
    one without it). Its writes are refused meanwhile (``ChargerGone``)."""
    ocpp_id = str(payload["ocpp_id"])
    current = await store.ocpp_id_of(uuid.UUID(payload["id"]))
    if current is not None:
        return  # the row is still there: not a deletion
    await central.gateway.disconnect(ocpp_id, "charger deleted")


_tasks: set[asyncio.Task[Any]] = set()


def _background(work: Any, what: str) -> None:
    async def run() -> None:
        try:
            await work
        except (DomainError, AnswerError) as exc:
            log.info("%s: %s", what, exc)

    task = asyncio.create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
