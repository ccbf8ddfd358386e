"""The OCPP central system as one component: group-commit writer, handlers, command
gateway and the WebSocket listener, started and stopped together. The store is given
(``services.charger_ports.ServerStore``; the SQL one is ``store.charger_store``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from chargegrid.ocpp.boot_sequence import BootSettings, LimitsFirst
from chargegrid.ocpp.connection import Payload
from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.schemas import schemas
from chargegrid.ocpp.server import OcppServer, PasswordCheck
from chargegrid.ocpp.tls import ReloadingTls, TlsSource
from chargegrid.ocpp.v201.device_model import (
    from_get_results,
    from_set_results,
    new_password,
)
from chargegrid.ocpp.versions import VERSIONS
from chargegrid.services.auth import hash_password, verify_password
from chargegrid.services.certificates import ChargerCertificates
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import (
    EventSink,
    ServerStore,
    SessionRules,
    VariablesWrite,
)
from chargegrid.services.group_commit import GroupCommitWriter
from chargegrid.services.pki_ports import PkiStore

log = logging.getLogger(__name__)


class OcppCentralSystem:
    def __init__(
        self,
        store: ServerStore,
        events: EventSink,
        *,
        auto_register: bool = False,
        unknown_tags_accepted: bool = False,
        heartbeat_interval: int = 300,
        check_password: PasswordCheck = verify_password,
        checkpoint_every_s: float = 0.5,
        limits_first: LimitsFirst | None = None,
        boot_settings: BootSettings | None = None,
        session_rules: SessionRules | None = None,
        pki: PkiStore | None = None,
    ) -> None:
        self.store = store
        self.writer = GroupCommitWriter(self.store)
        self.gateway = CommandGateway()
        self.messages = ChargerMessages(
            self.store,
            self.writer,
            events,
            auto_register=auto_register,
            unknown_tags_accepted=unknown_tags_accepted,
            heartbeat_interval=heartbeat_interval,
            session_rules=session_rules,
        )
        # The built-in CA signs chargers' CSRs (SignCertificate), when there is a store
        # for it; without one a CSR is answered Rejected (NoCA).
        self.certificates = None if pki is None else ChargerCertificates(pki, self.gateway)
        self.messages.certificates = self.certificates
        self.tls: ReloadingTls | None = None
        self.gateway.observer = self._observe
        self.gateway.items_limit = self._items_limit
        self.server = OcppServer(
            self.messages, self.gateway, check_password, limits_first, boot_settings
        )
        self.checkpoint_every_s = checkpoint_every_s
        self.owns_every_socket = True  # False in a cluster (ocpp/component.py)
        self._checkpointer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(
        self,
        host: str,
        port: int,
        *,
        tls: TlsSource | None = None,
        tls_port: int | None = None,
        tls_reload_s: float = 30.0,
    ) -> int:
        """Listen on ``host:port`` (0 picks a free port), and with ``tls`` on ``tls_port``
        too (wss, its certificates reloaded when ``tls`` changes, checked every
        ``tls_reload_s``); returns the plain port (``tls_port`` property: the other)."""
        for version in VERSIONS:  # compiled before the first charger waits for them
            schemas(version.schema_key)
        # One node owns every socket: nobody is connected before we listen, whatever a
        # crash left in the table. In a cluster the other nodes hold theirs (the cluster
        # component forgets only what this node held: cluster/component.py).
        if self.owns_every_socket:
            stale = await self.store.forget_presence()
            if stale:
                log.info("marked %d chargers offline that were online when we last stopped", stale)
        self.writer.start()
        self._checkpointer = asyncio.get_running_loop().create_task(
            self._checkpoint_forever(), name="wal-checkpointer"
        )
        self._sweeper = asyncio.get_running_loop().create_task(
            self._sweep_forever(), name="session-sweeper"
        )
        await self.server.start(host, port)
        if tls is not None:
            self.tls = ReloadingTls(tls, tls_reload_s)
            await self.server.start(host, tls_port or 0, ssl=await self.tls.start())
        return self.server.port

    @property
    def tls_port(self) -> int:
        return self.server.port_of(1)

    async def stop(self) -> None:
        await self.server.stop()
        if self.tls is not None:
            await self.tls.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.writer.stop()
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        await self.store.close()

    async def _items_limit(self, ocpp_id: str, action: str) -> int | None:
        """What the station reported as DeviceDataCtrlr.ItemsPerMessage[action]."""
        value = await self.store.variable(ocpp_id, "DeviceDataCtrlr", "ItemsPerMessage", action)
        return int(value) if value is not None and value.isdigit() and int(value) > 0 else None

    async def _observe(
        self, ocpp_id: str, action: str, request: Mapping[str, Any], answer: Payload
    ) -> None:
        """Keep what a GetVariables/SetVariables from an operator taught us."""
        if action == "GetVariables":
            learnt = from_get_results(answer.get("getVariableResult") or ())
            source = "get"
        elif action == "SetVariables":
            data = request.get("setVariableData") or ()
            results = answer.get("setVariableResult") or ()
            learnt = from_set_results(data, results)
            source = "set"
            password = new_password(data, results)
            if password is not None:
                # The station answers its next handshake with it; until then (it may not
                # reconnect for a while) the old one must keep working: pending.
                hashed = await asyncio.to_thread(hash_password, password)
                await self.store.stage_password_hash(ocpp_id, hashed)
        else:
            return
        record = await self.store.charger(ocpp_id)
        if record is not None:
            write = VariablesWrite(record.id, source, learnt, self.messages.clock())
            await self.messages.variables(write)

    async def _checkpoint_forever(self) -> None:
        """SQLite: the writer never checkpoints its WAL (it would stall group commits);
        this does, beside it."""
        while True:
            await asyncio.sleep(self.checkpoint_every_s)
            try:
                await self.store.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed; retrying")

    async def _sweep_forever(self) -> None:
        """Close refused starts and unresumed transactions once their time is up; a
        tenth of the shorter timeout late at most (and never more than 15 s)."""
        rules = self.messages.session_rules
        every = min(15.0, max(0.05, min(rules.refused_timeout_s, rules.resume_timeout_s) / 10))
        while True:
            await asyncio.sleep(every)
            try:
                await self.messages.sweep()
            except Exception:
                log.exception("session sweep failed; retrying")
