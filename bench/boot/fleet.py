"""The boot storm's chargers: raw WebSockets + orjson, many in one process (core 1).

Each charger opens its socket, waits for its moment in the boot window, sends its
BootNotification and answers every CALL from the server at once. Some start a
transaction 1-3 s after their boot was answered (StartTransaction, StatusNotification
Charging, MeterValues), as the field's chargers did (issue 11). Everything is stamped
with ``time.monotonic()`` (CLOCK_MONOTONIC: the same clock as the server's process),
the moment a frame is read or written. Writes one JSON object (``--out``, else stdout):
per charger, the stamps and the order of what it received.

    python -m bench.boot.fleet --url ws://127.0.0.1:PORT/ocpp --chargers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvloop
import websockets
from bench.ocpp.load import meter_values, ts
from bench.ocpp.server import raise_fd_limit

BOOT = {"chargePointVendor": "bench", "chargePointModel": "boot", "firmwareVersion": "1.0"}
# What a charger's GetConfiguration answers: a small, plausible key list.
CONFIGURATION = [
    {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"},
    {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
    {"key": "ConnectorPhaseRotation", "readonly": False, "value": "1.RST"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
    {"key": "MeterValuesSampledData", "readonly": False, "value": "Energy.Active.Import.Register"},
    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
]
ACCEPTED = {"status": "Accepted"}
ANSWERED_ACCEPTED = frozenset(
    {"ChangeConfiguration", "TriggerMessage", "ChangeAvailability", "ClearChargingProfile"}
)


def ocpp_id(n: int) -> str:
    """The n-th charger's id; the parent seeds the same ones."""
    return f"BOOT{n:05d}"


def id_tag(charger: str, storm: int = 0) -> str:
    """A tag per charger and storm: a reboot's new transaction must not find its tag
    busy with the one the power cut left open."""
    return f"BENCH-{charger}" if storm == 0 else f"BENCH-{charger}-{storm}"


@dataclass
class Record:
    """One charger's run, in monotonic seconds (None: did not happen)."""

    ocpp_id: str
    transacting: bool
    boot_offset_s: float
    connected_at: float | None = None
    boot_sent_at: float | None = None
    boot_answered_at: float | None = None
    boot_status: str | None = None
    failsafe_received_at: float | None = None
    failsafe_acked_at: float | None = None
    live_acked_at: float | None = None  # first SetChargingProfile at stack level >= 1
    first_profile_acked_at: float | None = None  # any SetChargingProfile
    get_configuration_at: float | None = None
    change_configuration_at: float | None = None
    start_sent_at: float | None = None
    tx_profile_acked_at: float | None = None  # first TxProfile for its transaction
    transaction_id: int | None = None
    # Violations of the boot rule (issue 11, rules 2 and 3).
    calls_before_boot_answer: list[str] = field(default_factory=list)
    triggers_before_boot: int = 0  # TriggerMessage(BootNotification): allowed, counted apart
    config_before_failsafe: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # the first calls, in order
    calls: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def _describe(action: str, payload: dict[str, Any]) -> str:
    if action != "SetChargingProfile":
        return action
    profile = payload.get("csChargingProfiles", {})
    return f"SCP:{profile.get('chargingProfilePurpose')}/{profile.get('stackLevel')}"


class Charger:
    def __init__(self, url: str, record: Record, tag: str, done: asyncio.Event) -> None:
        self.url = url
        self.r = record
        self.tag = tag
        self.ws: websockets.ClientConnection | None = None
        self.pending: dict[str, asyncio.Future[list[Any]]] = {}
        self.seq = 0
        self.lock = asyncio.Lock()  # one outstanding CALL of ours at a time (OCPP-J)
        self.settled = asyncio.Event()
        self.all_done = done

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            f"{self.url}/{self.r.ocpp_id}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            compression=None,
            open_timeout=120,
            ping_interval=None,
        )
        self.r.connected_at = time.monotonic()

    async def read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                now = time.monotonic()
                frame = orjson.loads(raw)
                if frame[0] == 2:
                    await self._answer(frame[1], frame[2], frame[3], now)
                else:
                    r = self.r
                    ours = frame[0] == 3 and self.pending.get(frame[1]) is not None
                    if ours and r.boot_sent_at is not None and r.boot_answered_at is None:
                        r.boot_answered_at = now  # stamped as read, before anything else runs
                    future = self.pending.pop(frame[1], None)
                    if future is not None and not future.done():
                        future.set_result(frame)

    async def _answer(
        self, unique_id: str, action: str, payload: dict[str, Any], now: float
    ) -> None:
        assert self.ws is not None
        r = self.r
        r.calls[action] = r.calls.get(action, 0) + 1
        if len(r.received) < 12:
            r.received.append(_describe(action, payload))
        if r.boot_answered_at is None:
            trigger = action == "TriggerMessage"
            if trigger and payload.get("requestedMessage") == "BootNotification":
                r.triggers_before_boot += 1
            else:
                r.calls_before_boot_answer.append(action)
        answer: dict[str, Any] | None = None
        profile: dict[str, Any] = {}
        if action == "SetChargingProfile":
            answer = ACCEPTED
            profile = payload.get("csChargingProfiles", {})
        elif action == "GetConfiguration":
            answer = {"configurationKey": CONFIGURATION}
        elif action in ANSWERED_ACCEPTED:
            answer = ACCEPTED
        if action in ("GetConfiguration", "ChangeConfiguration"):
            if r.failsafe_acked_at is None:
                r.config_before_failsafe.append(action)
            if action == "GetConfiguration" and r.get_configuration_at is None:
                r.get_configuration_at = now
            if action == "ChangeConfiguration" and r.change_configuration_at is None:
                r.change_configuration_at = now
        if answer is None:
            frame = [4, unique_id, "NotImplemented", f"{action} not in this bench", {}]
        else:
            frame = [3, unique_id, answer]
        await self.ws.send(orjson.dumps(frame), text=True)
        acked = time.monotonic()
        if action == "SetChargingProfile":
            self._profile_acked(profile, now, acked)
        self._check_settled()

    def _profile_acked(self, profile: dict[str, Any], received: float, acked: float) -> None:
        r = self.r
        if r.first_profile_acked_at is None:
            r.first_profile_acked_at = acked
        purpose, level = profile.get("chargingProfilePurpose"), profile.get("stackLevel")
        if purpose == "TxDefaultProfile" and level == 0 and r.failsafe_acked_at is None:
            r.failsafe_received_at, r.failsafe_acked_at = received, acked
        elif isinstance(level, int) and level >= 1 and r.live_acked_at is None:
            r.live_acked_at = acked
        if purpose == "TxProfile" and r.tx_profile_acked_at is None and r.start_sent_at:
            r.tx_profile_acked_at = acked

    def _check_settled(self) -> None:
        r = self.r
        # Not the failsafe: a charger the server has seen before may not get it again.
        if (
            r.live_acked_at is not None
            and r.get_configuration_at is not None
            and (not r.transacting or r.tx_profile_acked_at is not None)
        ):
            self.settled.set()

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        assert self.ws is not None
        async with self.lock:
            self.seq += 1
            unique_id = str(self.seq)
            future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self.pending[unique_id] = future
            if action == "BootNotification":
                self.r.boot_sent_at = time.monotonic()
            elif action == "StartTransaction":
                self.r.start_sent_at = time.monotonic()
            await self.ws.send(orjson.dumps([2, unique_id, action, payload]), text=True)
            return await asyncio.wait_for(future, 60)

    async def run(self, go_at: float, rng: random.Random) -> None:
        r = self.r
        await asyncio.sleep(max(0.0, go_at + r.boot_offset_s - time.monotonic()))
        answer = await self.call("BootNotification", BOOT)
        r.boot_status = answer[2].get("status") if answer[0] == 3 else "CallError"
        if r.boot_status != "Accepted":
            return
        for connector in (0, 1):
            await self.call("StatusNotification", self._status(connector, "Available"))
        if not r.transacting:
            return
        assert r.boot_answered_at is not None
        await asyncio.sleep(max(0.0, r.boot_answered_at + rng.uniform(1.0, 3.0) - time.monotonic()))
        start = {"connectorId": 1, "idTag": self.tag, "meterStart": 1000, "timestamp": ts()}
        answer = await self.call("StartTransaction", start)
        r.transaction_id = int(answer[2]["transactionId"]) if answer[0] == 3 else None
        await self.call("StatusNotification", self._status(1, "Charging"))
        energy = 1000
        while not self.all_done.is_set():
            energy += 30
            await self.call("MeterValues", meter_values(self.r.transaction_id or 0, energy))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_done.wait(), 10.0)

    @staticmethod
    def _status(connector: int, status: str) -> dict[str, Any]:
        return {
            "connectorId": connector,
            "errorCode": "NoError",
            "status": status,
            "timestamp": ts(),
        }


async def storms(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    runs = [await storm(args, 0, rng)]
    if args.reboot:
        # A power cut: every socket gone at once, then the same chargers boot again
        # against the server that saw them (it keeps what they acknowledged).
        await asyncio.sleep(args.pause)
        runs.append(await storm(args, 1, rng))
    return {"storms": runs}


async def storm(args: argparse.Namespace, index: int, rng: random.Random) -> dict[str, Any]:
    ids = [ocpp_id(n) for n in range(args.chargers)]
    done = asyncio.Event()
    chargers = [
        Charger(
            args.url,
            Record(i, rng.random() < args.transacting, rng.uniform(0.0, args.window)),
            id_tag(i, index),
            done,
        )
        for i in ids
    ]
    gate = asyncio.Semaphore(50)

    async def connect(c: Charger) -> None:
        async with gate:
            await c.connect()

    t0 = time.monotonic()
    await asyncio.gather(*(connect(c) for c in chargers))
    connected_s = time.monotonic() - t0
    readers = [asyncio.create_task(c.read()) for c in chargers]
    go_at = time.monotonic() + 0.2
    runs = [asyncio.create_task(c.run(go_at, random.Random(rng.random()))) for c in chargers]
    settled = [asyncio.create_task(c.settled.wait()) for c in chargers]
    # Every charger's run has its failsafe, live limit, configuration read and (when it
    # charges) its TxProfile; or the deadline.
    await asyncio.wait(settled, timeout=args.window + args.tail)
    done.set()
    results = await asyncio.gather(*runs, return_exceptions=True)
    for c, result in zip(chargers, results, strict=True):
        if isinstance(result, BaseException):
            c.r.error = repr(result)
    for c in chargers:
        if c.ws is not None:
            await c.ws.close()
    for task in readers + settled:
        task.cancel()
    await asyncio.gather(*readers, *settled, return_exceptions=True)
    return {
        "connect_s": connected_s,
        "go_at": go_at,
        "window_s": args.window,
        "records": [asdict(c.r) for c in chargers],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--transacting", type=float, default=0.5)
    parser.add_argument("--tail", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--reboot", action="store_true", help="then all boot again")
    parser.add_argument("--pause", type=float, default=3.0, help="offline before rebooting")
    parser.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    args = parser.parse_args()
    raise_fd_limit()
    result = orjson.dumps(uvloop.run(storms(args)))
    if args.out is not None:
        args.out.write_bytes(result)
    else:
        sys.stdout.buffer.write(result)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
