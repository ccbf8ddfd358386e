"""The reconnect storm's chargers: one slice of the fleet in one process.

Light on purpose (raw ``websockets`` + orjson, no OCPP library): several of these run
beside the server so the client is never what limits the storm. The parent drives the
waves over stdin/stdout, one line each way:

- the fleet prints ``SETTLED <wave>`` once every charger of its slice is Accepted and
  has had its post-boot exchange (or the wave's deadline passed), then ``--linger``
  seconds more, so a late duplicate exchange is still counted;
- the parent answers ``GO <wave> <monotonic start>`` (after the last wave ``END``):
  every socket of the slice drops at once (``abort``: the TCP connection is torn
  down; ``silent``: left open and unread, as after a power cut the server cannot
  see) and all reconnect at that moment.

Per charger and connection it records the time to Accepted, every failed handshake,
every CallError it got back, and how many times each CALL from the server arrived.
The JSON (``--out``) is read by ``python -m bench.storm``.

    python -m bench.storm.fleet --url ws://127.0.0.1:PORT/ocpp --first 0 --count 5000
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
from bench.boot.fleet import BOOT, CONFIGURATION, ocpp_id
from bench.ocpp.load import ts
from bench.ocpp.server import raise_fd_limit

ACCEPTED = {"status": "Accepted"}
# The post-boot exchange is over for a charger once this key was set (the server reads
# the configuration, then sets what differs: this one always does, see CONFIGURATION).
LAST_SETTING = "MeterValuesSampledData"


@dataclass
class Link:
    """One charger's connection in one wave (monotonic seconds; None: did not happen)."""

    ocpp_id: str
    attempts: int = 0
    handshake_errors: list[str] = field(default_factory=list)
    connected_at: float | None = None
    accepted_at: float | None = None
    boot_status: str | None = None
    configured_at: float | None = None
    call_errors: list[str] = field(default_factory=list)  # "Action:ErrorCode"
    calls: dict[str, int] = field(default_factory=dict)  # CALLs from the server, by action
    settings: dict[str, int] = field(default_factory=dict)  # ChangeConfiguration, by key
    error: str | None = None


class Charger:
    def __init__(self, url: str, name: str, deadline_s: float) -> None:
        self.url = f"{url}/{name}"
        self.name = name
        self.deadline_s = deadline_s
        self.ws: websockets.ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.link = Link(name)
        self.pending: dict[str, asyncio.Future[list[Any]]] = {}
        self.seq = 0
        self.settled = asyncio.Event()

    async def run(self, go_at: float) -> None:
        """Connect (retrying refused or timed-out handshakes, as chargers do), boot,
        report the connectors, answer the server until the wave ends."""
        link = self.link
        give_up = go_at + self.deadline_s
        while self.ws is None:
            link.attempts += 1
            try:
                self.ws = await websockets.connect(
                    self.url,
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    compression=None,
                    open_timeout=max(1.0, give_up - time.monotonic()),
                    ping_interval=None,
                    close_timeout=1,
                )
            except Exception as exc:
                link.handshake_errors.append(f"{type(exc).__name__}: {exc}"[:160])
                if time.monotonic() + 1 > give_up:
                    link.error = "gave up connecting"
                    self.settled.set()
                    return
                await asyncio.sleep(random.uniform(0.5, 1.5))  # chargers back off
        link.connected_at = time.monotonic()
        self.reader = asyncio.create_task(self._read())
        answer = await self.call("BootNotification", BOOT)
        link.boot_status = answer[2].get("status") if answer[0] == 3 else "CallError"
        if link.boot_status != "Accepted":
            self.settled.set()
            return
        for connector in (0, 1):
            await self.call(
                "StatusNotification",
                {
                    "connectorId": connector,
                    "errorCode": "NoError",
                    "status": "Available",
                    "timestamp": ts(),
                },
            )

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        assert self.ws is not None
        self.seq += 1
        unique_id = str(self.seq)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        await self.ws.send(orjson.dumps([2, unique_id, action, payload]), text=True)
        frame = await future
        if frame[0] == 4:
            self.link.call_errors.append(f"{action}:{frame[2]}")
        return frame

    async def _read(self) -> None:
        assert self.ws is not None
        link = self.link
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                frame = orjson.loads(raw)
                if frame[0] != 2:
                    boot = frame[0] == 3 and isinstance(frame[2], dict) and "interval" in frame[2]
                    if boot and link.accepted_at is None and frame[2].get("status") == "Accepted":
                        link.accepted_at = time.monotonic()
                    future = self.pending.pop(frame[1], None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                    continue
                await self._answer(frame[1], frame[2], frame[3])
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))

    async def _answer(self, unique_id: str, action: str, payload: dict[str, Any]) -> None:
        assert self.ws is not None
        link = self.link
        link.calls[action] = link.calls.get(action, 0) + 1
        answer: dict[str, Any]
        if action == "GetConfiguration":
            answer = {"configurationKey": CONFIGURATION}
        elif action == "DataTransfer":
            answer = {"status": "Accepted"}
        else:  # ChangeConfiguration, SetChargingProfile, TriggerMessage, ...: Accepted
            answer = ACCEPTED
        await self.ws.send(orjson.dumps([3, unique_id, answer]), text=True)
        if action == "ChangeConfiguration":
            key = str(payload.get("key"))
            link.settings[key] = link.settings.get(key, 0) + 1
            if key == LAST_SETTING and link.configured_at is None:
                link.configured_at = time.monotonic()
                self.settled.set()

    def drop(self, how: str) -> None:
        """The link goes: ``abort`` tears the TCP connection down; ``silent`` stops
        reading and leaves it open (the server learns nothing until it replaces it)."""
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None and how == "abort":
            self.ws.transport.abort()

    def again(self) -> Charger:
        """The same charger on a new connection (the old one kept open if silent)."""
        return Charger(self.url.rsplit("/", 1)[0], self.name, self.deadline_s)


async def wave(chargers: list[Charger], go_at: float, deadline_s: float) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, go_at - time.monotonic()))
    runs = [asyncio.create_task(c.run(go_at)) for c in chargers]
    waits = [asyncio.create_task(c.settled.wait()) for c in chargers]
    await asyncio.wait(waits, timeout=max(0.0, go_at + deadline_s - time.monotonic()))
    settled_at = time.monotonic()
    for task in waits:
        task.cancel()
    done, _ = await asyncio.wait(runs, timeout=5)
    for c, task in zip(chargers, runs, strict=True):
        if task not in done:
            task.cancel()
            # Accepted and configured, perhaps, but a StatusNotification unanswered.
            c.link.error = c.link.error or "a call of its own still unanswered"
        elif task.exception() is not None:
            c.link.error = c.link.error or repr(task.exception())[:200]
    return {"go_at": go_at, "settled_at": settled_at}


async def lines() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def fleet(args: argparse.Namespace) -> dict[str, Any]:
    stdin = await lines()
    drops = [d for d in args.then.split(",") if d]
    chargers = [
        Charger(args.url, ocpp_id(n), args.deadline)
        for n in range(args.first, args.first + args.count)
    ]
    old: list[Charger] = []
    waves: list[dict[str, Any]] = []
    say("READY")
    for index in range(1 + len(drops)):
        command = (await stdin.readline()).decode().split()
        if command[:2] != ["GO", str(index)]:
            raise SystemExit(f"expected GO {index}, got {command}")
        go_at = float(command[2])
        if index > 0:
            await asyncio.sleep(max(0.0, go_at - time.monotonic()))
            how = drops[index - 1]
            for c in chargers:
                c.drop(how)
            old += chargers if how == "silent" else []
            chargers = [c.again() for c in chargers]
        stamps = await wave(chargers, go_at, args.deadline)
        await asyncio.sleep(args.linger)  # a late duplicate exchange still counts
        waves.append(
            {
                **stamps,
                "drop": drops[index - 1] if index else None,
                "links": [asdict(c.link) for c in chargers],
            }
        )
        say(f"SETTLED {index}")
    await stdin.readline()  # END (or the pipe closed): the parent has counted
    for c in [*old, *chargers]:
        if c.ws is not None:
            c.ws.transport.abort()
    return {"waves": waves}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--then", default="abort", help="drops after the first wave: abort,silent")
    parser.add_argument("--deadline", type=float, default=120.0, help="a wave's most (s)")
    parser.add_argument("--linger", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    raise_fd_limit()
    args.out.write_bytes(orjson.dumps(uvloop.run(fleet(args))))


if __name__ == "__main__":
    main()
