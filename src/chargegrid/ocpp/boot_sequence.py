"""One connection from the socket opening to a charger we may steer.

Real chargers refuse (``SecurityError``) or ignore anything sent before they are
registered, and some start a transaction 1-3 s after their BootNotification. So:

1. Nothing is sent until the charger has spoken first on this connection.
2. If its first message is a BootNotification, nothing is sent before that is answered
   ``Accepted`` (``Pending``: nothing at all; it boots again after ``interval``).
   A charger whose first message is anything else reconnected without rebooting: it is
   registered already and ready as soon as that message is answered.
3. Once ready, the first calls are its failsafe (TxDefaultProfile) and live limits: the
   control loop is told (``charger.ready``) and this waits, bounded, until it reports
   them sent and answered. Only then are the configuration read and our settings
   pushed, once per connection.
4. A charger that says nothing for ``boot_wait_s`` gets a TriggerMessage(BootNotification),
   then again at doubling intervals: the only call made before it has spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chargegrid.ocpp.connection import OcppConnection, Payload, Reply, TransportClosed
from chargegrid.ocpp.errors import AnswerError
from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import ChargerRecord

log = logging.getLogger(__name__)

# Awaitable until the control loop has sent a ready charger's first limits.
LimitsFirst = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BootSettings:
    boot_wait_s: float = 15.0  # silence before TriggerMessage(BootNotification)
    boot_wait_max_s: float = 300.0  # ... repeated at doubling intervals up to this
    limits_first_timeout_s: float = 10.0  # the most the configuration waits for them
    trigger_timeout_s: float = 30.0


class BootSequence:
    """The registration state of one connection; see the module docstring."""

    def __init__(
        self,
        connection: OcppConnection,
        gateway: CommandGateway,
        messages: ChargerMessages,
        charger: Callable[[], ChargerRecord],
        sync: Callable[[], Awaitable[object]],
        limits_first: LimitsFirst | None = None,
        settings: BootSettings | None = None,
        ocpp_version: str | None = None,
    ) -> None:
        self.connection = connection
        self.ocpp_version = ocpp_version
        self.gateway = gateway
        self.messages = messages
        self._charger = charger
        self._sync = sync
        self.limits_first = limits_first
        self.settings = settings or BootSettings()
        self.spoke = asyncio.Event()
        self.ready = False
        self.booted = False  # a BootNotification was seen on this connection
        self._synced = False

    def start(self) -> None:
        """Beside the read loop: nudge a silent charger."""
        self.connection.spawn(self._nudge_when_silent)

    def heard(self, action: str) -> None:
        """A CALL from the charger arrived (before it is handled)."""
        self.spoke.set()
        if action == "BootNotification":
            self.booted = True

    def answered(self, action: str, reply: Payload | Reply, accepted: bool) -> Payload | Reply:
        """The answer to a CALL, with what to do once it has left."""
        if action == "BootNotification":
            if not accepted:
                return reply
            return _then(reply, lambda: self._became_ready(rebooted=True))
        if not self.ready and not self.booted and accepted:
            # Its first words were not a BootNotification: a reconnect without reboot.
            return _then(reply, lambda: self._became_ready(rebooted=False))
        return reply

    async def _became_ready(self, *, rebooted: bool) -> None:
        charger = self._charger()
        first = not self.ready
        if first:
            if not self.gateway.mark_ready(charger.ocpp_id, self.connection):
                return  # a newer connection replaced this one
            self.ready = True
            self.messages.ready(charger, rebooted=rebooted, ocpp_version=self.ocpp_version)
            await self._wait_for_limits(charger)
        if self._synced or not (rebooted or charger.config_sync == "pending"):
            return
        self._synced = True  # once per connection, even if the charger boots again
        await self._sync()

    async def _wait_for_limits(self, charger: ChargerRecord) -> None:
        if self.limits_first is None:
            return
        try:
            async with asyncio.timeout(self.settings.limits_first_timeout_s):
                await self.limits_first(str(charger.id))
        except TimeoutError:
            log.info("%s: first limits not confirmed in time; configuring anyway", charger.ocpp_id)

    async def _nudge_when_silent(self) -> None:
        wait = self.settings.boot_wait_s
        while not self.spoke.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self.spoke.wait()
            if self.spoke.is_set():
                return
            ocpp_id = self._charger().ocpp_id
            log.info("%s: silent for %.0f s; asking for a BootNotification", ocpp_id, wait)
            try:
                await self.connection.call(
                    "TriggerMessage",
                    {"requestedMessage": "BootNotification"},
                    self.settings.trigger_timeout_s,
                )
            except (TimeoutError, AnswerError) as exc:
                log.info("%s: TriggerMessage(BootNotification) failed: %s", ocpp_id, exc)
            except TransportClosed:
                return
            wait = min(wait * 2, self.settings.boot_wait_max_s)


def _then(reply: Payload | Reply, work: Callable[[], Awaitable[None]]) -> Reply:
    if isinstance(reply, Reply):
        previous = reply.then
        if previous is None:
            return Reply(reply.payload, work)

        async def both() -> None:
            await previous()
            await work()

        return Reply(reply.payload, both)
    return Reply(reply, work)
