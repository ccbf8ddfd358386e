"""A simulated charger's link to the central system: connecting and reconnecting, the
boot and registration sequence, heartbeats, and how it goes down and comes back on a
reboot.

On every new connection the charger first stays silent for ``Faults.boot_delay_s``
(unless asked with TriggerMessage(BootNotification)), then boots if it has rebooted
since it was last registered (a link drop is not a reboot: its first message is a
StatusNotification), reports every connector's status, heartbeats, and only then sends
its queued transaction messages. Until its BootNotification is answered ``Accepted`` it
answers, refuses (``SecurityError``) or ignores the central system's calls, as
``Faults.calls_before_boot`` says.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import websockets
from websockets.exceptions import InvalidHandshake

from chargegrid.ocpp.connection import Handler, OcppConnection, Transport, TransportClosed
from chargegrid.ocpp.errors import AnswerError, OcppCallError
from chargegrid.ocpp.schemas import central_system_actions, schemas
from chargegrid.ocpp.transport import WebSocketTransport
from chargegrid.sim.car import Car
from chargegrid.sim.draw_log import DrawLog
from chargegrid.sim.faults import Faults
from chargegrid.sim.outbox import CALL_TIMEOUT, Outbox, Outgoing
from chargegrid.sim.profiles import ProfileStack
from chargegrid.sim.state import ChargerSpec, ConnectorState, SimClock, ocpp_now

log = logging.getLogger(__name__)

REBOOT_S = 0.5  # real seconds a rebooting charger is without power and offline

Dial = Callable[[str, dict[str, str]], Awaitable[Transport]]


async def dial_websocket(
    url: str, headers: dict[str, str], subprotocol: str = "ocpp1.6"
) -> Transport:
    ws = await websockets.connect(
        url,
        subprotocols=[subprotocol],  # type: ignore[list-item]
        additional_headers=headers,
        compression=None,
        open_timeout=10,
        max_size=1024 * 1024,
    )
    return WebSocketTransport(ws)


def is_boot_trigger(action: str, payload: Any) -> bool:
    return (
        action == "TriggerMessage"
        and isinstance(payload, dict)
        and payload.get("requestedMessage") == "BootNotification"
    )


class BeforeRegistration:
    """The central system's CALLs while the charger is not registered: counted by action
    (a test asks how many calls a charger got before its boot) and, with fault
    ``calls_before_boot="ignore"``, dropped: never answered. A TriggerMessage(BootNotification)
    is always let through."""

    def __init__(
        self,
        inner: Transport,
        registered: Callable[[], bool],
        counts: Counter[str],
        *,
        drop: bool,
    ) -> None:
        self.inner = inner
        self.registered = registered
        self.counts = counts
        self.drop = drop

    async def recv(self) -> bytes | str:
        while True:
            raw = await self.inner.recv()
            if self.registered():
                return raw
            call = self._call(raw)
            if call is None:
                return raw
            action, payload = call
            self.counts[action] += 1
            if not self.drop or is_boot_trigger(action, payload):
                return raw
            log.info("fault: ignoring a call before registration: %.120r", raw)

    @staticmethod
    def _call(raw: bytes | str) -> tuple[str, Any] | None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(frame, list) or len(frame) < 4 or frame[0] != 2:
            return None
        return str(frame[2]), frame[3]

    async def send(self, data: bytes) -> None:
        await self.inner.send(data)

    def send_now(self, data: bytes) -> bool:
        send_now: Callable[[bytes], bool] | None = getattr(self.inner, "send_now", None)
        return send_now is not None and send_now(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inner.close(code, reason)


class ChargerLink:
    # The schema set (chargegrid.ocpp.schemas) frames are validated with, both ways.
    schema_version = "v16"

    def __init__(
        self,
        spec: ChargerSpec,
        url: str,
        *,
        clock: SimClock,
        draw_log: DrawLog,
        rng: random.Random,
        faults: Faults | None = None,
    ) -> None:
        self.spec = spec
        self.url = url.rstrip("/") + "/" + spec.ocpp_id
        self.clock = clock
        self.draw_log = draw_log
        self.rng = rng
        self.faults = faults or Faults()
        self.dial: Dial = dial_websocket
        self.reboot_s = REBOOT_S
        # Cars for connectors that a fault fills at boot; the fleet sets it.
        self.new_car: Callable[[], Car] | None = None
        self.connectors = {
            n: ConnectorState(
                n, spec.rotation(n), spec.grid_rotation(n), register_wh=rng.uniform(0, 5e6)
            )
            for n in range(1, spec.connectors + 1)
        }
        self.profiles = ProfileStack(spec.connectors)
        self.config: dict[str, str] = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": "60",
            "MeterValuesSampledData": "Energy.Active.Import.Register,Current.Import",
            "NumberOfConnectors": str(spec.connectors),
            "ConnectorPhaseRotation": ",".join(
                f"{n}.{c.rotation}" for n, c in self.connectors.items()
            ),
            "ChargeProfileMaxStackLevel": str(self.profiles.max_stack_level),
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "ChargingScheduleMaxPeriods": "24",
            "MaxChargingProfilesInstalled": "16",
            "AuthorizeRemoteTxRequests": "false",
            "StopTransactionOnInvalidId": "true",
        }
        self.readonly = {
            "NumberOfConnectors",
            "ChargeProfileMaxStackLevel",
            "ChargingScheduleAllowedChargingRateUnit",
            "ChargingScheduleMaxPeriods",
            "MaxChargingProfilesInstalled",
            "StopTransactionOnInvalidId",
        }
        self.outbox = Outbox(spec.ocpp_id)
        self.connection: OcppConnection | None = None
        self.registration: str | None = None  # of the current boot; None after a reboot
        self.booted = asyncio.Event()  # registered since the last (re)boot
        self.boots = 0  # BootNotifications answered Accepted
        self.connected_count = 0
        # CALLs from the central system received while not registered, by action.
        self.calls_before_registration: Counter[str] = Counter()
        self.transactions_started = 0
        self.powered = True
        self._down_reason = "PowerLoss"  # why it last went down (StopTransaction reason)
        self._need_boot = True
        self._boot_asked = asyncio.Event()  # TriggerMessage(BootNotification)
        self.heartbeat_changed = asyncio.Event()  # set: the interval restarts
        self._speaking = False  # this connection's silence and boot are over
        self._stopping = False
        self._transport: Transport | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def registered(self) -> bool:
        return self.registration == "Accepted"

    # -- connection ------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with backoff."""
        backoff = 0.2
        while not self._stopping:
            if not self.powered:
                await asyncio.sleep(self.reboot_s)
                self.powered = True
                self._power_restored(self._down_reason)
            try:
                transport = await self.dial(self.url, self._auth_headers())
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                log.info("%s: connect failed: %s", self.spec.ocpp_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.2
            await self._connected(transport)

    def _auth_headers(self) -> dict[str, str]:
        if not self.spec.password:
            return {}
        token = base64.b64encode(f"{self.spec.ocpp_id}:{self.spec.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _connected(self, transport: Transport) -> None:
        transport = BeforeRegistration(
            transport,
            lambda: self.registered,
            self.calls_before_registration,
            drop=self.faults.calls_before_boot == "ignore",
        )
        self._transport = transport
        self._speaking = False
        connection = OcppConnection(
            transport,
            self._handlers(),
            schemas(self.schema_version),
            central_system_actions(self.schema_version),
            name=self.spec.ocpp_id,
        )
        self.connection = connection
        self.connected_count += 1
        serving = asyncio.create_task(connection.serve())
        connection.spawn(lambda: self._after_connect(connection))
        if self.faults.drop_link_every_s:
            every = self.faults.drop_link_every_s
            connection.spawn(lambda: self._drop_link_later(transport, every))
        try:
            await serving
        finally:
            self.connection = None
            self._transport = None

    async def _after_connect(self, connection: OcppConnection) -> None:
        self._boot_asked.clear()
        if self.faults.boot_delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._boot_asked.wait(), self.faults.boot_delay_s)
        if self._need_boot or not self.registered:
            await self._boot(connection)
        self._speaking = True
        self.outbox.drop_transient()  # superseded by the statuses reported now
        for number in [0, *self.connectors]:
            await self._status(number)
        connection.spawn(lambda: self._heartbeats(connection))
        await self.outbox.drain(connection)

    async def _boot(self, connection: OcppConnection) -> None:
        while True:
            self._boot_asked.clear()
            answer = await connection.call("BootNotification", self._boot_payload(), CALL_TIMEOUT)
            self.registration = answer["status"]
            if answer["status"] == "Accepted":
                self._need_boot = False
                self._set_heartbeat_interval(int(answer["interval"]))
                self.boots += 1
                self.booted.set()
                self._on_registered()
                return
            wait = max(1, answer.get("interval") or 10) / self._retry_scale()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._boot_asked.wait(), wait)

    def _boot_payload(self) -> dict[str, Any]:
        return {
            "chargePointVendor": self.spec.vendor,
            "chargePointModel": self.spec.model,
            "chargePointSerialNumber": f"SN-{self.spec.ocpp_id}",
            "firmwareVersion": "sim-1.0",
        }

    def _set_heartbeat_interval(self, seconds: int) -> None:
        self.config["HeartbeatInterval"] = str(seconds)

    def _heartbeat_s(self) -> float:
        return float(self.config["HeartbeatInterval"])

    def _retry_scale(self) -> float:
        return max(1.0, self.clock.speed)

    def boot_triggered(self, connection: OcppConnection) -> Callable[[], Awaitable[None]] | None:
        """TriggerMessage(BootNotification): end the silence or the Pending wait of a
        boot under way, or (already registered) send a BootNotification now."""
        booting = self._need_boot or not self.registered
        self._boot_asked.set()
        if booting:
            return None
        return lambda: self._boot(connection)

    async def _heartbeats(self, connection: OcppConnection) -> None:
        while True:
            self.heartbeat_changed.clear()
            try:
                await asyncio.wait_for(self.heartbeat_changed.wait(), max(1.0, self._heartbeat_s()))
                continue  # a new interval: count it from now
            except TimeoutError:
                pass
            await connection.call("Heartbeat", {}, CALL_TIMEOUT)

    async def _drop_link_later(self, transport: Transport, every: float) -> None:
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * every)
        log.info("%s: fault: dropping the link", self.spec.ocpp_id)
        await transport.close(1001, "simulated link loss")

    def drop_link(self) -> None:
        """The link is lost (the test's hand on the network cable): the socket closes,
        the charger keeps charging and reconnects without rebooting."""
        transport = self._transport
        if transport is not None:
            log.info("%s: dropping the link", self.spec.ocpp_id)
            self._spawn(transport.close(1001, "link lost"))

    async def stop(self) -> None:
        self._stopping = True
        if self._transport is not None:
            await self._transport.close()
        for task in list(self._tasks):
            task.cancel()

    # -- reboots -------------------------------------------------------------------

    async def reboot(self, reason: str) -> None:
        """Go down and come back: ``SoftReset`` stops transactions first (gracefully),
        ``HardReset`` and ``PowerLoss`` cut the power; :meth:`run` powers the charger
        up again after ``reboot_s`` and it boots anew."""
        if reason == "SoftReset":
            await self._stop_gracefully()
        log.info("%s: rebooting (%s)", self.spec.ocpp_id, reason)
        self.powered = False
        self._down_reason = reason
        self.booted.clear()
        self.registration = None
        self._need_boot = True
        self._power_lost(reason)
        transport = self._transport
        if transport is not None:
            await transport.close(1012, "rebooting")

    def power_cycle(self) -> None:
        """A power cut (the test's hand on the breaker): the charger reboots."""
        self._spawn(self.reboot("PowerLoss"))

    # Overridden by the transaction behaviour.
    async def _stop_gracefully(self) -> None:
        return None

    def _power_lost(self, reason: str) -> None:
        return None

    def _power_restored(self, reason: str) -> None:
        return None

    def _on_registered(self) -> None:
        return None

    def _handlers(self) -> dict[str, Handler]:
        return {}

    # -- sending ---------------------------------------------------------------------

    async def _status(self, number: int) -> None:
        connection = self.connection
        if connection is None or not self._speaking:
            return  # reported after the boot or connect under way
        status = "Available"
        if number:
            status = self.connectors[number].status
        payload = {
            "connectorId": number,
            "errorCode": "NoError",
            "status": status,
            "timestamp": ocpp_now(),
        }
        try:
            await connection.call("StatusNotification", payload, CALL_TIMEOUT)
        except (TransportClosed, TimeoutError, AnswerError, OcppCallError) as exc:
            log.info("%s: StatusNotification not delivered: %s", self.spec.ocpp_id, exc)

    def enqueue(self, item: Outgoing) -> None:
        self.outbox.append(item)

    def _queue_status(self, number: int, status: str) -> None:
        """A status change, in order with the transaction messages; while offline (or
        before the boot) nothing: every status is reported once connected."""
        if self.connection is None or not self._speaking:
            return
        payload = {
            "connectorId": number,
            "errorCode": "NoError",
            "status": status,
            "timestamp": ocpp_now(),
        }
        self.enqueue(Outgoing("StatusNotification", lambda: payload, transient=True))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
