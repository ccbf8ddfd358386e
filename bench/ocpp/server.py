"""The central systems under test, each run in its own process.

``ours``: chargegrid's OCPP server (validation on, SQLite with synchronous=FULL, group
commits, nothing acknowledged before it is committed).
``baseline``: a central system written plainly on the ``ocpp`` package with its
defaults (``ocpp.v16.ChargePoint`` over ``websockets``), storing nothing.
``ours-nostore``: chargegrid's server with validation on but a store that keeps
nothing: the protocol engine alone, like for like with the baseline.

``ours`` and ``ours-nostore`` speak 1.6 and 2.0.1 (as chargegrid does, negotiated per
connection); ``baseline --protocol 2.0.1`` is the same plain ``ocpp`` package central
system on ``ocpp.v201.ChargePoint`` (``@on("TransactionEvent")``), storing nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
import websockets

from ocpp import v201
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result


def now() -> str:
    return datetime.now(UTC).isoformat()


_tx_ids = itertools.count(1)


class BaselineCentralSystem(ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")  # type: ignore[misc]
    async def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=now())

    @on("MeterValues")  # type: ignore[misc]
    async def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on("StartTransaction")  # type: ignore[misc]
    async def on_start_transaction(self, **_: Any) -> Any:
        return call_result.StartTransaction(
            transaction_id=next(_tx_ids), id_tag_info={"status": "Accepted"}
        )

    @on("StopTransaction")  # type: ignore[misc]
    async def on_stop_transaction(self, **_: Any) -> Any:
        return call_result.StopTransaction()


class BaselineCentralSystem201(v201.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, **_: Any) -> Any:
        return v201.call_result.BootNotification(
            current_time=now(), interval=300, status="Accepted"
        )

    @on("Heartbeat")  # type: ignore[misc]
    async def on_heartbeat(self, **_: Any) -> Any:
        return v201.call_result.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[misc]
    async def on_status(self, **_: Any) -> Any:
        return v201.call_result.StatusNotification()

    @on("TransactionEvent")  # type: ignore[misc]
    async def on_transaction_event(self, id_token: Any = None, **_: Any) -> Any:
        if id_token is None:
            return v201.call_result.TransactionEvent()
        return v201.call_result.TransactionEvent(id_token_info={"status": "Accepted"})


async def run_baseline(port: int, protocol: str = "1.6") -> None:
    central = BaselineCentralSystem201 if protocol == "2.0.1" else BaselineCentralSystem

    async def handler(ws: Any) -> None:
        charge_point = central(ws.request.path.rsplit("/", 1)[-1], ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            await charge_point.start()

    subprotocol = "ocpp2.0.1" if protocol == "2.0.1" else "ocpp1.6"
    async with websockets.serve(handler, "127.0.0.1", port, subprotocols=[subprotocol]):
        print("READY", flush=True)
        await asyncio.Future()


async def run_ours(port: int, db_path: Path, chargers: int, profile: Path | None) -> None:
    from sqlalchemy import insert

    from chargegrid.ocpp.central import OcppCentralSystem
    from chargegrid.ocpp.gc_tuning import calm_gc
    from chargegrid.services.charger_ports import EventLog
    from chargegrid.store.charger_store import SqlChargerStore, id_tags
    from chargegrid.store.charger_store import chargers as chargers_table
    from chargegrid.store.db import Database
    from chargegrid.store.migrate import upgrade

    db = Database(f"sqlite+aiosqlite:///{db_path}")
    await upgrade(db.engine)
    async with db.engine.begin() as conn:
        await conn.execute(
            insert(chargers_table),
            [
                {"id": uuid.uuid4(), "ocpp_id": f"BENCH{i:05d}", "config_sync": "applied"}
                for i in range(chargers)
            ],
        )
        await conn.execute(
            insert(id_tags),
            [{"id": uuid.uuid4(), "id_tag": f"TAG{i:05d}"} for i in range(chargers)],
        )
    central = OcppCentralSystem(SqlChargerStore(db.engine), EventLog(limit=1000))
    await central.start("127.0.0.1", port)
    if os.environ.get("BENCH_GC") != "default":  # as `chargegrid serve` does
        calm_gc()
    profile_on_signals(profile)
    print("READY", flush=True)
    await until_terminated()
    # The orchestrator reads this line: how many writes each group commit carried.
    print(f"STATS commits={central.writer.commits} writes={central.writer.writes}", flush=True)
    await central.stop()


class NothingStore:
    """Acknowledges every write without keeping it (``ours-nostore`` only)."""

    def __init__(self) -> None:
        self._tx = itertools.count(1)

    async def charger(self, ocpp_id: str) -> Any:
        from chargegrid.services.charger_ports import ChargerRecord

        key = uuid.uuid5(uuid.NAMESPACE_URL, ocpp_id)
        return ChargerRecord(key, ocpp_id, "Accepted", None, None, "applied")

    async def register(self, ocpp_id: str) -> Any:
        return await self.charger(ocpp_id)

    async def id_tag(self, id_tag: str) -> Any:
        return None

    async def durable(self) -> None:
        return None

    async def apply(self, writes: Any) -> list[Any]:
        from chargegrid.services.charger_ports import (
            IdTagInfo,
            Metered,
            MeterWrite,
            Started,
            StartWrite,
            Stopped,
            StopWrite,
            TxEventResult,
            TxEventWrite,
        )

        results: list[Any] = []
        for w in writes:
            if isinstance(w, StartWrite):
                results.append(Started(uuid.uuid4(), next(self._tx), IdTagInfo("Accepted"), False))
            elif isinstance(w, StopWrite):
                results.append(Stopped(None, None, None, None, False))
            elif isinstance(w, MeterWrite):
                results.append(Metered(None, None))
            elif isinstance(w, TxEventWrite):
                info = IdTagInfo("Accepted") if w.id_tag is not None else None
                started = w.event_type == "Started"
                results.append(
                    TxEventResult(
                        session_id=uuid.uuid5(uuid.NAMESPACE_URL, w.transaction_id),
                        evse_number=w.evse_number or 1,
                        repeated=False,
                        id_tag_info=info,
                        began=started,
                        refused=False,
                        ended=w.event_type == "Ended",
                        was_running=not started,
                        energy_wh=None,
                    )
                )
            else:
                results.append(None)
        return results


async def run_ours_nostore(port: int, profile: Path | None) -> None:
    from chargegrid.ocpp.gateway import CommandGateway
    from chargegrid.ocpp.gc_tuning import calm_gc
    from chargegrid.ocpp.server import OcppServer
    from chargegrid.services.charger_messages import ChargerMessages
    from chargegrid.services.charger_ports import EventLog
    from chargegrid.services.group_commit import GroupCommitWriter

    store = NothingStore()
    writer = GroupCommitWriter(store)
    writer.start()
    messages = ChargerMessages(store, writer, EventLog(limit=1000), unknown_tags_accepted=True)
    server = OcppServer(messages, CommandGateway(), lambda _password, _hash: True)
    await server.start("127.0.0.1", port)
    if os.environ.get("BENCH_GC") != "default":  # as `chargegrid serve` does
        calm_gc()
    profile_on_signals(profile)
    print("READY", flush=True)
    await until_terminated()


def profile_on_signals(path: Path | None) -> None:
    """With ``path``: SIGUSR1 starts cProfile on the event-loop thread, SIGUSR2 stops it
    and writes its stats to ``path``."""
    if path is None:
        return
    import cProfile

    profiler = cProfile.Profile()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        profiler.disable()
        profiler.dump_stats(path)

    loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
    loop.add_signal_handler(signal.SIGUSR2, stop)


async def until_terminated() -> None:
    """Until SIGTERM; then print the threads' names by native id (``THREADS`` line), so
    the orchestrator can name the per-thread CPU it read from /proc."""
    import threading

    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set_result, None)
    await done
    names = " ".join(f"{t.native_id}={t.name.replace(' ', '_')}" for t in threading.enumerate())
    print(f"THREADS {names}", flush=True)


def raise_fd_limit() -> None:
    """Thousands of sockets need thousands of file descriptors."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("ours", "ours-nostore", "baseline"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, default=Path("bench/.cache/ocpp-bench.db"))
    parser.add_argument("--chargers", type=int, default=6000)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="ours only: cProfile the event loop between SIGUSR1 and SIGUSR2, stats here",
    )
    parser.add_argument(
        "--protocol",
        choices=("1.6", "2.0.1"),
        default="1.6",
        help="the baseline's OCPP version (ours speaks both, negotiated per connection)",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=None,
        help="event loop (default: uvloop for ours, as `chargegrid serve` runs; asyncio "
        "for the baseline, the ocpp package's default)",
    )
    args = parser.parse_args()
    raise_fd_limit()
    os.makedirs(args.db.parent, exist_ok=True)
    for leftover in ("", "-wal", "-shm"):  # a stale WAL must not meet a new database
        Path(f"{args.db}{leftover}").unlink(missing_ok=True)
    loop = args.loop or ("asyncio" if args.kind == "baseline" else "uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None) as run:
        if args.kind == "baseline":
            run.run(run_baseline(args.port, args.protocol))
        elif args.kind == "ours-nostore":
            run.run(run_ours_nostore(args.port, args.profile))
        else:
            run.run(run_ours(args.port, args.db, args.chargers, args.profile))


if __name__ == "__main__":
    main()
