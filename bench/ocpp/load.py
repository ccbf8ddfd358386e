"""Load generator: many chargers on raw websockets + orjson, as cheap as a client gets,
so the central system (pinned to its own core) is what is measured.

Each charger boots, starts a transaction, then sends MeterValues (3 phase currents,
power, energy, SoC) back to back, one outstanding CALL at a time as OCPP requires; every
``cycle`` messages it stops and starts a transaction. Prints one JSON line.

``--protocol 2.0.1``: the same over an ``ocpp2.0.1`` socket. Each station boots, opens
its transaction with a TransactionEvent(Started) (idToken, EVSE 1, the register), then
sends TransactionEvent(Updated) with the same six readings as the 1.6 MeterValues (as
2.0.1 numbers with ``unitOfMeasure``), ``seqNo`` counting up per transaction; every
``cycle`` events a TransactionEvent(Ended) and a new transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

import orjson
import uvloop
import websockets
from bench.ocpp.server import raise_fd_limit


def ts() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meter_values(tx: int, energy: int) -> dict[str, object]:
    sampled = [
        {"value": "15.9", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "16.0", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
        {"value": "15.8", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": str(energy), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "55", "measurand": "SoC", "unit": "Percent"},
    ]
    return {
        "connectorId": 1,
        "transactionId": tx,
        "meterValue": [{"timestamp": ts(), "sampledValue": sampled}],
    }


class Counter:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.in_window = 0
        self.total = 0
        self.errors = 0
        self.latencies: list[float] = []


Call = Callable[[str, dict[str, object]], Awaitable[dict[str, object]]]


def caller(ws: websockets.ClientConnection, counter: Counter) -> Call:
    """One CALL at a time on ``ws``, counted and timed; its CALLRESULT payload."""
    seq = 0

    async def call(action: str, payload: dict[str, object]) -> dict[str, object]:
        nonlocal seq
        seq += 1
        sent = time.monotonic()
        await ws.send(orjson.dumps([2, str(seq), action, payload]), text=True)
        reply = orjson.loads(await ws.recv(decode=False))
        while reply[0] == 2:  # the CSMS asks something (post-boot sync): decline
            await ws.send(orjson.dumps([4, reply[1], "NotSupported", "", {}]), text=True)
            reply = orjson.loads(await ws.recv(decode=False))
        done = time.monotonic()
        counter.total += 1
        if reply[0] != 3:
            counter.errors += 1
        if counter.start <= done < counter.end:
            counter.in_window += 1
            if counter.in_window % 50 == 0:
                counter.latencies.append(done - sent)
        result: dict[str, object] = reply[2] if reply[0] == 3 else {}
        return result

    return call


async def charger(url: str, name: str, counter: Counter, cycle: int, stop_at: float) -> None:
    async with websockets.connect(
        f"{url}/{name}", subprotocols=["ocpp1.6"], compression=None, open_timeout=60
    ) as ws:
        call = caller(ws, counter)
        await call("BootNotification", {"chargePointVendor": "bench", "chargePointModel": "load"})
        energy = 1000
        while time.monotonic() < stop_at:
            start = await call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "TAG" + name[-5:],
                    "meterStart": energy,
                    "timestamp": ts(),
                },
            )
            tx = int(start.get("transactionId", 0))  # type: ignore[call-overload]
            for _ in range(cycle):
                energy += 3
                await call("MeterValues", meter_values(tx, energy))
                if time.monotonic() >= stop_at:
                    break
            await call(
                "StopTransaction",
                {"transactionId": tx, "meterStop": energy, "timestamp": ts(), "reason": "Local"},
            )


def sampled_201(energy: int) -> list[dict[str, object]]:
    """The 1.6 frame's six readings in 2.0.1's words (numbers, ``unitOfMeasure``)."""
    return [
        {
            "value": 15.9,
            "measurand": "Current.Import",
            "phase": "L1",
            "unitOfMeasure": {"unit": "A"},
        },
        {
            "value": 16.0,
            "measurand": "Current.Import",
            "phase": "L2",
            "unitOfMeasure": {"unit": "A"},
        },
        {
            "value": 15.8,
            "measurand": "Current.Import",
            "phase": "L3",
            "unitOfMeasure": {"unit": "A"},
        },
        {"value": 11000, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
        {
            "value": energy,
            "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"},
        },
        {"value": 55, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}},
    ]


def transaction_event(
    event_type: str,
    trigger: str,
    seq_no: int,
    info: Mapping[str, object],
    sampled: Sequence[Mapping[str, object]],
) -> dict[str, object]:
    at = ts()
    return {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        "meterValue": [{"timestamp": at, "sampledValue": sampled}],
    }


async def station(url: str, name: str, counter: Counter, cycle: int, stop_at: float) -> None:
    """A 2.0.1 charging station: one transaction after another, meter values as Updated."""
    async with websockets.connect(
        f"{url}/{name}", subprotocols=["ocpp2.0.1"], compression=None, open_timeout=60
    ) as ws:
        call = caller(ws, counter)
        await call(
            "BootNotification",
            {"chargingStation": {"vendorName": "bench", "model": "load"}, "reason": "PowerUp"},
        )
        energy = 1000
        while time.monotonic() < stop_at:
            tx = str(uuid.uuid4())
            seq_no = 0
            started = transaction_event(
                "Started",
                "Authorized",
                seq_no,
                {"transactionId": tx, "chargingState": "Charging"},
                [{"value": energy, "context": "Transaction.Begin"}],
            )
            started["idToken"] = {"idToken": "TAG" + name[-5:], "type": "ISO14443"}
            started["evse"] = {"id": 1, "connectorId": 1}
            await call("TransactionEvent", started)
            updated_info = {"transactionId": tx, "chargingState": "Charging"}
            for _ in range(cycle):
                energy += 3
                seq_no += 1
                await call(
                    "TransactionEvent",
                    transaction_event(
                        "Updated", "MeterValuePeriodic", seq_no, updated_info, sampled_201(energy)
                    ),
                )
                if time.monotonic() >= stop_at:
                    break
            seq_no += 1
            await call(
                "TransactionEvent",
                transaction_event(
                    "Ended",
                    "StopAuthorized",
                    seq_no,
                    {"transactionId": tx, "stoppedReason": "Local"},
                    [{"value": energy, "context": "Transaction.End"}],
                ),
            )


async def throughput(args: argparse.Namespace) -> dict[str, object]:
    t0 = time.monotonic()
    counter = Counter(t0 + args.warmup, t0 + args.warmup + args.seconds)
    stop_at = counter.end
    names = [f"BENCH{i:05d}" for i in range(args.first, args.first + args.clients)]
    run = station if args.protocol == "2.0.1" else charger
    results = await asyncio.gather(
        *(run(args.url, n, counter, args.cycle, stop_at) for n in names),
        return_exceptions=True,
    )
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    lat = sorted(counter.latencies) or [0.0]
    return {
        "calls_in_window": counter.in_window,
        "seconds": args.seconds,
        "calls_per_s": counter.in_window / args.seconds,
        "errors": counter.errors,
        "failed_clients": len(failures),
        "failure_sample": failures[:3],
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
    }


async def decline_calls(ws: websockets.ClientConnection) -> None:
    """Answer whatever the CSMS asks (its post-boot exchange) so the connection is idle."""
    async for raw in ws:
        frame = orjson.loads(raw)
        if frame[0] == 2:
            await ws.send(orjson.dumps([4, frame[1], "NotSupported", "", {}]), text=True)


async def idle(args: argparse.Namespace) -> None:
    """Open ``clients`` connections, boot each once, report, then hold them open."""
    names = [f"BENCH{i:05d}" for i in range(args.first, args.first + args.clients)]
    sockets = []
    readers = []
    gate = asyncio.Semaphore(100)

    async def open_one(name: str) -> None:
        async with gate:
            ws = await websockets.connect(
                f"{args.url}/{name}", subprotocols=["ocpp1.6"], compression=None, open_timeout=120
            )
            msg = [2, "1", "BootNotification", {"chargePointVendor": "b", "chargePointModel": "m"}]
            await ws.send(orjson.dumps(msg), text=True)
            await ws.recv()
            sockets.append(ws)
            readers.append(asyncio.create_task(decline_calls(ws)))

    await asyncio.gather(*(open_one(n) for n in names))
    await asyncio.sleep(2.0)  # let the post-boot exchanges finish: measure idle, not busy
    print(json.dumps({"connected": len(sockets)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, input)  # until told to stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("throughput", "idle"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--cycle", type=int, default=50, help="MeterValues per transaction")
    parser.add_argument("--protocol", choices=("1.6", "2.0.1"), default="1.6")
    args = parser.parse_args()
    raise_fd_limit()
    # uvloop: the load generator's own cost per call is what caps the measured rate
    # when the server is fast and the machine is shared.
    if args.mode == "throughput":
        print(json.dumps(uvloop.run(throughput(args))), flush=True)
    else:
        uvloop.run(idle(args))


if __name__ == "__main__":
    main()
