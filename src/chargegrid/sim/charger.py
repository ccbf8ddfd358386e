"""One simulated OCPP 1.6J charge point with its connectors and the cars on them.

It connects to any CSMS, boots, reports status, authorizes and runs transactions,
samples meter values (per-phase current, power, energy, SoC), obeys charging
profiles, and survives lost links: transaction messages wait in an outbox and are
replayed in order with their original timestamps once it is connected again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidHandshake

from chargegrid.domain.phases import PhaseRotation
from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE
from chargegrid.ocpp.connection import Handler, OcppConnection, Payload, Reply, TransportClosed
from chargegrid.ocpp.errors import AnswerError, OcppCallError
from chargegrid.ocpp.schemas import central_system_actions, schemas
from chargegrid.ocpp.transport import WebSocketTransport
from chargegrid.sim.car import Car, random_car
from chargegrid.sim.draw_log import DrawLog, DrawSample
from chargegrid.sim.faults import Faults
from chargegrid.sim.profiles import ProfileStack

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0


def ocpp_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ChargerSpec:
    ocpp_id: str
    connectors: int = 1
    phases: int = 3  # conductors wired to each connector
    rotations: tuple[str, ...] = ()  # per connector, e.g. ("RST", "STR"); default identity
    # Per connector, to the GRID (composed through the site's circuits) when it differs
    # from ``rotations`` (which is to the charger's own supply, as OCPP reports it).
    grid_rotations: tuple[str, ...] = ()
    max_current: float = 32.0
    password: str | None = None
    vendor: str = "chargegrid"
    model: str = "SimBox"

    def rotation(self, connector_id: int) -> PhaseRotation:
        if connector_id <= len(self.rotations):
            return PhaseRotation.parse(self.rotations[connector_id - 1])
        return PhaseRotation.identity(self.phases)

    def grid_rotation(self, connector_id: int) -> PhaseRotation:
        if connector_id <= len(self.grid_rotations):
            return PhaseRotation.parse(self.grid_rotations[connector_id - 1])
        return self.rotation(connector_id)


@dataclass
class ConnectorState:
    number: int
    rotation: PhaseRotation  # to the charger's supply (reported as ConnectorPhaseRotation)
    grid: PhaseRotation  # to the site's grid phases (where the draw really lands)
    status: str = "Available"
    car: Car | None = None
    tx_id: int | None = None
    tx_started: datetime | None = None
    in_transaction: bool = False
    register_wh: float = 0.0
    operative: bool = True
    plugged_at: float = 0.0  # simulated seconds
    ignore_until: float = 0.0  # simulated seconds
    last_meter: float = 0.0  # simulated seconds
    limit: float | None = None
    phases_offered: int = 3


@dataclass
class Outgoing:
    """A transaction message that must reach the CSMS, in order, even across outages."""

    action: str
    build: Callable[[], Payload]
    on_result: Callable[[Payload], None] | None = None
    payload: Payload | None = None  # built once: a retry repeats it byte for byte


@dataclass
class SimClock:
    """Simulated seconds run ``speed`` times faster than real ones (physics only:
    timestamps sent over OCPP are real wall-clock time)."""

    speed: float = 1.0
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed


class SimCharger:
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
        }
        self.readonly = {
            "NumberOfConnectors",
            "ChargeProfileMaxStackLevel",
            "ChargingScheduleAllowedChargingRateUnit",
            "ChargingScheduleMaxPeriods",
            "MaxChargingProfilesInstalled",
        }
        self.outbox: deque[Outgoing] = deque()
        self.outbox_ready = asyncio.Event()
        self.connection: OcppConnection | None = None
        self.registration: str | None = None
        self.booted = asyncio.Event()
        self.connected_count = 0
        self.transactions_started = 0
        self._need_boot = True
        self._stopping = False
        self._ws: ClientConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- connection ------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with backoff."""
        backoff = 0.2
        while not self._stopping:
            try:
                ws = await websockets.connect(
                    self.url,
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    additional_headers=self._auth_headers(),
                    compression=None,
                    open_timeout=10,
                    max_size=1024 * 1024,
                )
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                log.info("%s: connect failed: %s", self.spec.ocpp_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.2
            await self._connected(ws)

    def _auth_headers(self) -> dict[str, str]:
        if not self.spec.password:
            return {}
        token = base64.b64encode(f"{self.spec.ocpp_id}:{self.spec.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _connected(self, ws: ClientConnection) -> None:
        self._ws = ws
        connection = OcppConnection(
            WebSocketTransport(ws),
            self._handlers(),
            schemas("v16"),
            central_system_actions(),
            name=self.spec.ocpp_id,
        )
        self.connection = connection
        self.connected_count += 1
        serving = asyncio.create_task(connection.serve())
        connection.spawn(lambda: self._after_connect(connection))
        if self.faults.drop_link_every_s:
            every = self.faults.drop_link_every_s
            connection.spawn(lambda: self._drop_link_later(ws, every))
        try:
            await serving
        finally:
            self.connection = None
            self._ws = None

    async def _after_connect(self, connection: OcppConnection) -> None:
        if self._need_boot or self.registration != "Accepted":
            await self._boot(connection)
        for number in [0, *self.connectors]:
            await self._status(number)
        connection.spawn(lambda: self._heartbeats(connection))
        await self._drain_outbox(connection)

    async def _boot(self, connection: OcppConnection) -> None:
        while True:
            answer = await connection.call(
                "BootNotification",
                {
                    "chargePointVendor": self.spec.vendor,
                    "chargePointModel": self.spec.model,
                    "chargePointSerialNumber": f"SN-{self.spec.ocpp_id}",
                    "firmwareVersion": "sim-1.0",
                },
                CALL_TIMEOUT,
            )
            self.registration = answer["status"]
            if answer["status"] == "Accepted":
                self._need_boot = False
                self.config["HeartbeatInterval"] = str(answer["interval"])
                self.booted.set()
                return
            await asyncio.sleep(max(1, answer.get("interval") or 10) / self._retry_scale())

    def _retry_scale(self) -> float:
        return max(1.0, self.clock.speed)

    async def _heartbeats(self, connection: OcppConnection) -> None:
        while True:
            await asyncio.sleep(max(1.0, float(self.config["HeartbeatInterval"])))
            await connection.call("Heartbeat", {}, CALL_TIMEOUT)

    async def _drop_link_later(self, ws: ClientConnection, every: float) -> None:
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * every)
        log.info("%s: fault: dropping the link", self.spec.ocpp_id)
        await ws.close(1001, "simulated link loss")

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        for task in list(self._tasks):
            task.cancel()

    # -- sending ---------------------------------------------------------------------

    async def _status(self, number: int) -> None:
        connection = self.connection
        if connection is None:
            return  # reported again after the next connect
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
        self.outbox_ready.set()

    async def _drain_outbox(self, connection: OcppConnection) -> None:
        while True:
            while not self.outbox:
                self.outbox_ready.clear()
                await self.outbox_ready.wait()
            item = self.outbox[0]
            if item.payload is None:
                item.payload = item.build()
            try:
                result = await connection.call(item.action, item.payload, CALL_TIMEOUT)
            except AnswerError as exc:
                log.warning("%s: %s refused: %s", self.spec.ocpp_id, item.action, exc)
                self.outbox.popleft()  # a CallError is final; a retry would get the same
                continue
            # TransportClosed / TimeoutError end this drain; the item stays first in line.
            self.outbox.popleft()
            if item.on_result is not None:
                item.on_result(result)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the car's side ------------------------------------------------------------

    def free_connector(self) -> int | None:
        free = [n for n, c in self.connectors.items() if c.car is None and c.operative]
        return self.rng.choice(free) if free else None

    def plug_in(self, number: int, car: Car, remote_id_tag: str | None = None) -> None:
        """A car arrives: Preparing, then Authorize (unless started remotely) and start."""
        c = self.connectors[number]
        c.car = car
        c.plugged_at = self.clock.now()
        if self.faults.ignore_limits and self.rng.random() < self.faults.ignore_limits:
            c.ignore_until = c.plugged_at + self.faults.ignore_for_s
        self._set_status(c, "Preparing")
        self._spawn(self._authorize_and_start(c, remote_id_tag))

    async def _authorize_and_start(self, c: ConnectorState, remote_id_tag: str | None) -> None:
        car = c.car
        if car is None:
            return
        id_tag = remote_id_tag or car.id_tag
        connection = self.connection
        if remote_id_tag is None and connection is not None:
            try:
                answer = await connection.call("Authorize", {"idTag": id_tag}, CALL_TIMEOUT)
                if answer["idTagInfo"]["status"] != "Accepted":
                    log.info("%s: %s not authorized", self.spec.ocpp_id, id_tag)
                    self.leave(c.number)
                    return
            except (TransportClosed, TimeoutError, AnswerError, OcppCallError):
                pass  # offline: start on local authority, as chargers do
        if c.car is not car:
            return
        self._start_transaction(c, id_tag)

    def _start_transaction(self, c: ConnectorState, id_tag: str) -> None:
        self.transactions_started += 1
        c.in_transaction = True
        c.tx_id = None
        c.tx_started = datetime.now(UTC)
        c.last_meter = self.clock.now()
        meter_start = int(c.register_wh)
        timestamp = ocpp_now()

        def started(result: Payload) -> None:
            c.tx_id = result["transactionId"]
            if result["idTagInfo"]["status"] != "Accepted" and c.in_transaction:
                self._stop_transaction(c, "DeAuthorized")

        self.enqueue(
            Outgoing(
                "StartTransaction",
                lambda: {
                    "connectorId": c.number,
                    "idTag": id_tag,
                    "meterStart": meter_start,
                    "timestamp": timestamp,
                },
                started,
            )
        )
        self._set_status(c, "Charging")

    def _stop_transaction(self, c: ConnectorState, reason: str) -> None:
        if not c.in_transaction:
            return
        c.in_transaction = False
        meter_stop = int(c.register_wh)
        timestamp = ocpp_now()
        id_tag = c.car.id_tag if c.car else None

        def build() -> Payload:
            payload: Payload = {
                "transactionId": c.tx_id if c.tx_id is not None else -1,
                "meterStop": meter_stop,
                "timestamp": timestamp,
                "reason": reason,
            }
            if id_tag is not None:
                payload["idTag"] = id_tag
            return payload

        self.enqueue(Outgoing("StopTransaction", build))
        self.profiles.transaction_ended(c.number)
        c.tx_started = None

    def leave(self, number: int, reason: str = "EVDisconnected") -> None:
        c = self.connectors[number]
        self._stop_transaction(c, reason)
        c.car = None
        c.limit = None
        self.draw_log.record(DrawSample(time.monotonic(), self.spec.ocpp_id, number, 0, 0, 0, None))
        self._set_status(c, "Available" if c.operative else "Unavailable")

    def _set_status(self, c: ConnectorState, status: str) -> None:
        if c.status != status:
            c.status = status
            self._spawn(self._status(c.number))

    # -- physics ---------------------------------------------------------------------

    def step(self, dt: float) -> None:
        """Advance every connector ``dt`` simulated seconds; sample meters when due."""
        now_sim = self.clock.now()
        now = datetime.now(UTC)
        cap = self.profiles.charger_cap(now)
        busy = [c for c in self.connectors.values() if c.car is not None and c.in_transaction]
        for c in busy:
            car = c.car
            assert car is not None
            own = self.profiles.limit(c.number, now, c.tx_id, c.tx_started)
            limits = [self.spec.max_current]
            if own.amps is not None:
                limits.append(own.amps)
            if cap.amps is not None:
                limits.append(cap.amps / len(busy))  # the charger shares its cap
            c.limit = min(limits)
            if not c.operative:
                c.limit = 0.0
            c.phases_offered = min(self.spec.phases, own.phases or 3)
            ignoring = now_sim < c.ignore_until
            car.step(c.limit, c.phases_offered, dt, ignoring)
            conductors = car.conductors(c.phases_offered)
            c.register_wh += car.drawing * conductors * DEFAULT_NOMINAL_VOLTAGE * dt / 3600.0
            self._record(c, car, conductors)
            if car.drawing > 0:
                self._set_status(c, "Charging")
            elif car.full:
                self._set_status(c, "SuspendedEV")
            else:
                self._set_status(c, "SuspendedEVSE")
            interval = float(self.config["MeterValueSampleInterval"])
            if interval > 0 and now_sim - c.last_meter >= interval:
                c.last_meter = now_sim
                self._meter_values(c, car, conductors)
            if now_sim - c.plugged_at >= car.stay_s:
                self.leave(c.number)

    def _record(self, c: ConnectorState, car: Car, conductors: int) -> None:
        grid = [0.0, 0.0, 0.0]
        for conductor in range(1, min(conductors, c.grid.phase_count) + 1):
            grid[c.grid.target(conductor).index] += car.drawing
        self.draw_log.record(
            DrawSample(
                time.monotonic(), self.spec.ocpp_id, c.number, grid[0], grid[1], grid[2], c.limit
            )
        )

    def _meter_values(self, c: ConnectorState, car: Car, conductors: int) -> None:
        timestamp = ocpp_now()
        sampled: list[dict[str, Any]] = [
            {
                "value": f"{car.drawing if i <= conductors else 0.0:.2f}",
                "measurand": "Current.Import",
                "phase": f"L{i}",
                "unit": "A",
            }
            for i in range(1, self.spec.phases + 1)
        ]
        power = car.drawing * conductors * DEFAULT_NOMINAL_VOLTAGE
        sampled += [
            {"value": f"{power:.1f}", "measurand": "Power.Active.Import", "unit": "W"},
            {
                "value": f"{c.register_wh:.1f}",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {"value": f"{car.soc:.1f}", "measurand": "SoC", "unit": "Percent"},
        ]

        def build() -> Payload:
            payload: Payload = {
                "connectorId": c.number,
                "meterValue": [{"timestamp": timestamp, "sampledValue": sampled}],
            }
            if c.tx_id is not None:
                payload["transactionId"] = c.tx_id
            return payload

        self.enqueue(Outgoing("MeterValues", build))

    # -- what the central system asks ---------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "RemoteStartTransaction": self._remote_start,
            "RemoteStopTransaction": self._remote_stop,
            "Reset": self._reset,
            "UnlockConnector": self._unlock,
            "ChangeAvailability": self._change_availability,
            "TriggerMessage": self._trigger,
            "GetConfiguration": self._get_configuration,
            "ChangeConfiguration": self._change_configuration,
            "SetChargingProfile": self._set_profile,
            "ClearChargingProfile": self._clear_profile,
            "DataTransfer": self._data_transfer,
            "ClearCache": self._accepted,
        }
        if not self.faults.answer_delay_s:
            return table
        return {action: self._delayed(fn) for action, fn in table.items()}

    def _delayed(self, fn: Handler) -> Handler:
        async def slow(payload: Payload) -> Payload | Reply:
            await asyncio.sleep(self.faults.answer_delay_s)
            return await fn(payload)

        return slow

    async def _accepted(self, p: Payload) -> Payload:
        return {"status": "Accepted"}

    async def _remote_start(self, p: Payload) -> Payload:
        number = p.get("connectorId") or self.free_connector()
        if number is None or number not in self.connectors:
            return {"status": "Rejected"}
        c = self.connectors[number]
        if c.in_transaction or not c.operative:
            return {"status": "Rejected"}
        if "chargingProfile" in p:
            c.tx_started = datetime.now(UTC)
        if c.car is None:
            car = random_car(self.rng, f"remote-{number}", p["idTag"], 3600.0)
            c.car = car
            c.plugged_at = self.clock.now()
        self._start_transaction(c, p["idTag"])
        if "chargingProfile" in p:
            self.profiles.install(number, p["chargingProfile"], None, datetime.now(UTC))
        return {"status": "Accepted"}

    async def _remote_stop(self, p: Payload) -> Payload:
        for c in self.connectors.values():
            if c.in_transaction and c.tx_id == p["transactionId"]:
                self._stop_transaction(c, "Remote")
                self._set_status(c, "Finishing")
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    async def _reset(self, p: Payload) -> Reply:
        reason = "HardReset" if p["type"] == "Hard" else "SoftReset"

        async def reboot() -> None:
            for c in self.connectors.values():
                self._stop_transaction(c, reason)
                if c.car is not None:
                    self._set_status(c, "Preparing")
            self._need_boot = True
            self.profiles.profiles = [x for x in self.profiles.profiles if x.purpose != "TxProfile"]
            if self._ws is not None:
                await self._ws.close(1012, "rebooting")

        return Reply({"status": "Accepted"}, reboot)

    async def _unlock(self, p: Payload) -> Payload:
        c = self.connectors.get(p["connectorId"])
        if c is None:
            return {"status": "NotSupported"}
        if c.car is not None:
            self.leave(c.number, "UnlockCommand")
        return {"status": "Unlocked"}

    async def _change_availability(self, p: Payload) -> Payload:
        number, operative = p["connectorId"], p["type"] == "Operative"
        targets = list(self.connectors.values()) if number == 0 else []
        if number:
            if number not in self.connectors:
                return {"status": "Rejected"}
            targets = [self.connectors[number]]
        scheduled = False
        for c in targets:
            c.operative = operative
            if c.in_transaction and not operative:
                scheduled = True  # takes effect when the session ends (§5.2)
            elif c.car is None:
                self._set_status(c, "Available" if operative else "Unavailable")
        return {"status": "Scheduled" if scheduled else "Accepted"}

    async def _trigger(self, p: Payload) -> Payload | Reply:
        message = p["requestedMessage"]
        number = p.get("connectorId")
        connection = self.connection
        if connection is None:
            return {"status": "Rejected"}

        async def send() -> None:
            if message == "BootNotification":
                await self._boot(connection)
            elif message == "Heartbeat":
                await connection.call("Heartbeat", {}, CALL_TIMEOUT)
            elif message == "StatusNotification":
                for n in [number] if number is not None else [0, *self.connectors]:
                    await self._status(n)
            elif message == "MeterValues":
                for c in self.connectors.values():
                    if (number in (None, c.number)) and c.car is not None:
                        self._meter_values(c, c.car, c.car.conductors(c.phases_offered))

        if message not in ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues"):
            return {"status": "NotImplemented"}
        return Reply({"status": "Accepted"}, send)

    async def _get_configuration(self, p: Payload) -> Payload:
        keys = p.get("key")
        wanted = keys if keys else list(self.config)
        known = [k for k in wanted if k in self.config]
        return {
            "configurationKey": [
                {"key": k, "readonly": k in self.readonly, "value": self.config[k]} for k in known
            ],
            "unknownKey": [k for k in wanted if k not in self.config],
        }

    async def _change_configuration(self, p: Payload) -> Payload:
        key, value = p["key"], p["value"]
        if key not in self.config:
            return {"status": "NotSupported"}
        if key in self.readonly:
            return {"status": "Rejected"}
        if key in ("MeterValueSampleInterval", "HeartbeatInterval") and not value.isdigit():
            return {"status": "Rejected"}
        self.config[key] = value
        return {"status": "Accepted"}

    async def _set_profile(self, p: Payload) -> Payload:
        if self.faults.refuse_profiles and self.rng.random() < self.faults.refuse_profiles:
            return {"status": "Rejected"}
        number = p["connectorId"]
        tx = self.connectors[number].tx_id if number in self.connectors else None
        status = self.profiles.install(number, p["csChargingProfiles"], tx, datetime.now(UTC))
        return {"status": status}

    async def _clear_profile(self, p: Payload) -> Payload:
        status = self.profiles.clear(
            p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"), p.get("stackLevel")
        )
        return {"status": status}

    async def _data_transfer(self, p: Payload) -> Payload:
        return {"status": "UnknownVendorId"}
