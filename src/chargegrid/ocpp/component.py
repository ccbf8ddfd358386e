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

from chargegrid import events
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.domain.errors import DomainError
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.errors import AnswerError
from chargegrid.ocpp.tls import TlsFiles
from chargegrid.services.charger_commands import ChangeAvailability
from chargegrid.services.charger_ports import ServerStore, SessionRules

log = logging.getLogger(__name__)

GATEWAY_HANDLE = "ocpp_gateway"
CENTRAL_HANDLE = "ocpp"
CONTROL_HANDLE = "control_loop"  # control.component.HANDLE, found at call time
PUSHED_SETTINGS = frozenset({"meter_value_interval"})
AVAILABILITY_TIMEOUT = 30.0


class RuntimeLike(Protocol):
    settings: Settings
    bus: EventBus
    handles: dict[str, Any]


@asynccontextmanager
async def ocpp_server(runtime: RuntimeLike, store: ServerStore) -> AsyncIterator[OcppCentralSystem]:
    """The OCPP listener on ``store`` (app.py wires the SQL store of the runtime's
    database in)."""
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
    )
    tls = tls_files(settings)
    port = await central.start(
        settings.host, settings.ocpp_port, tls=tls, tls_port=settings.ocpp_tls_port
    )
    log.info("OCPP 2.0.1 and 1.6J on ws://%s:%d/ocpp/{charge point id}", settings.host, port)
    if tls is not None:
        log.info("... and on wss://%s:%d/ocpp/{id}", settings.host, central.tls_port)
    runtime.handles[GATEWAY_HANDLE] = central.gateway
    runtime.handles[CENTRAL_HANDLE] = central
    follower = asyncio.create_task(follow_config_changes(runtime.bus, store, central))
    try:
        yield central
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        runtime.handles.pop(GATEWAY_HANDLE, None)
        runtime.handles.pop(CENTRAL_HANDLE, None)
        await central.stop()


def tls_files(settings: Settings) -> TlsFiles | None:
    """The wss listener's files, if ``--ocpp-tls-port`` asks for one."""
    if settings.ocpp_tls_port is None:
        return None
    if not settings.tls_cert or not settings.tls_key:
        raise SystemExit("--ocpp-tls-port needs --tls-cert and --tls-key (PEM files)")
    client_ca = Path(settings.tls_client_ca) if settings.tls_client_ca else None
    return TlsFiles(Path(settings.tls_cert), Path(settings.tls_key), client_ca)


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
