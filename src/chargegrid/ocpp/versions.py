"""The OCPP versions this central system speaks, and which one a charger gets.

Everything that does not depend on the version lives once (frames, validation, the
connection, the gateway, durability, the boot sequence); a version is a thin adapter:
its subprotocol, its schemas, what its chargers may send, its handlers, its post-boot
exchange and how it writes our commands. A third version (2.1) is one more entry here
and one more package beside ``v16`` and ``v201``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from chargegrid.ocpp.charger_handlers import Registration
from chargegrid.ocpp.connection import Handler, OcppConnection
from chargegrid.ocpp.schemas import CHARGER_ACTIONS_16, CHARGER_ACTIONS_201
from chargegrid.ocpp.v16 import boot_sync as boot_sync_16
from chargegrid.ocpp.v16 import commands as commands_16
from chargegrid.ocpp.v16.central_system import CentralSystem16
from chargegrid.ocpp.v201 import boot_sync as boot_sync_201
from chargegrid.ocpp.v201 import commands as commands_201
from chargegrid.ocpp.v201.central_system import CentralSystem201
from chargegrid.services.charger_commands import Command
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import ChargerRecord


class CentralSystem(Protocol):
    """One connection's handlers (``CentralSystem16``, ``CentralSystem201``)."""

    charger: ChargerRecord
    registration: Registration | None

    def handlers(self) -> dict[str, Handler]: ...


SyncAfterBoot = Callable[[OcppConnection, ChargerRecord, ChargerMessages], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ProtocolVersion:
    name: str  # as stored and shown: "1.6", "2.0.1"
    subprotocol: str  # as negotiated in the WebSocket handshake
    schema_key: str  # chargegrid.ocpp.schemas.schemas(key)
    charger_actions: frozenset[str]
    central_system: Callable[[ChargerRecord, ChargerMessages], CentralSystem]
    sync_after_boot: SyncAfterBoot
    # After an operator changed a setting (``meter_value_interval``): what to push.
    push_settings: SyncAfterBoot
    encode: Callable[[Command], tuple[str, dict[str, Any]]]


V16 = ProtocolVersion(
    "1.6",
    "ocpp1.6",
    "v16",
    CHARGER_ACTIONS_16,
    CentralSystem16,
    boot_sync_16.sync_after_boot,
    boot_sync_16.sync_after_boot,
    commands_16.encode,
)
V201 = ProtocolVersion(
    "2.0.1",
    "ocpp2.0.1",
    "v201",
    CHARGER_ACTIONS_201,
    CentralSystem201,
    boot_sync_201.sync_after_boot,
    boot_sync_201.push_settings,
    commands_201.encode,
)
# Best first: a charger offering both gets 2.0.1.
VERSIONS = (V201, V16)
BY_NAME = {v.name: v for v in VERSIONS}
SUBPROTOCOLS = [v.subprotocol for v in VERSIONS]


def negotiate(offered: Iterable[str], pin: str | None = None) -> ProtocolVersion | None:
    """The best version the charger offers (only ``pin`` if an operator pinned one)."""
    offered = set(offered)
    for version in VERSIONS:
        if version.subprotocol in offered and pin in (None, version.name):
            return version
    return None
