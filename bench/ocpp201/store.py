"""The writer thread alone: µs per durable write of a 2.0.1 TransactionEvent(Updated)
against a 1.6 MeterValues, the SQL store without the event loop or sockets.

    .venv/bin/python -m bench.ocpp201.store [--batches 300] [--batch 20] [--profile]

Sets up a fresh SQLite database (WAL, as the server does), opens one transaction per
charger (TransactionEvent Started / StartTransaction), then applies batches of Updated
events / MeterValues the way a group commit does (``SqlChargerStore._apply_in_thread``,
one database transaction a batch; the fsync beside it is not included). ``--profile``
prints cProfile's view of the 2.0.1 batches.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ocpp.load import meter_values, sampled_201, ts
from sqlalchemy import insert

from chargegrid.ocpp.v16.meter_values import parse_meter_values as parse_16
from chargegrid.ocpp.v201.meter_values import parse_meter_values as parse_201
from chargegrid.services.charger_ports import MeterWrite, StartWrite, TxEventWrite
from chargegrid.store.charger_store import SqlChargerStore, id_tags
from chargegrid.store.charger_store import chargers as chargers_table
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade

DB = Path("bench/.cache/ocpp201-store.db")


def clear() -> None:
    for leftover in ("", "-wal", "-shm"):
        Path(f"{DB}{leftover}").unlink(missing_ok=True)


async def fresh(n: int) -> tuple[Database, list[uuid.UUID]]:
    db = Database(f"sqlite+aiosqlite:///{DB}")
    await upgrade(db.engine)
    ids = [uuid.uuid4() for _ in range(n)]
    async with db.engine.begin() as conn:
        await conn.execute(
            insert(chargers_table),
            [{"id": ids[i], "ocpp_id": f"S{i:05d}", "config_sync": "applied"} for i in range(n)],
        )
        await conn.execute(
            insert(id_tags), [{"id": uuid.uuid4(), "id_tag": f"TAG{i:05d}"} for i in range(n)]
        )
    return db, ids


def event(cid: uuid.UUID, tx: str, seq_no: int, energy: int, started: bool) -> TxEventWrite:
    samples = parse_201([{"timestamp": ts(), "sampledValue": sampled_201(energy)}])
    return TxEventWrite(
        charger_id=cid,
        event_type="Started" if started else "Updated",
        transaction_id=tx,
        seq_no=seq_no,
        trigger_reason="Authorized" if started else "MeterValuePeriodic",
        timestamp=datetime.now(UTC),
        evse_number=1 if started else None,
        connector_id=1 if started else None,
        id_tag="TAG00000" if started else None,
        charging_state="Charging",
        stopped_reason=None,
        remote_start_id=None,
        offline=False,
        samples=samples,
        unknown_tags_accepted=True,
    )


def timed(store: SqlChargerStore, batches: Sequence[Sequence[Any]], profile: bool) -> float:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    if profile:
        profiler.enable()
    for batch in batches:
        store._apply_in_thread(batch)
    if profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    return 1e6 * (time.perf_counter() - started) / sum(len(b) for b in batches)


def run_201(args: argparse.Namespace) -> float:
    clear()
    db, ids = asyncio.run(fresh(args.batch))
    store = SqlChargerStore(db.engine)
    txs = {cid: str(uuid.uuid4()) for cid in ids}
    store._apply_in_thread([event(cid, txs[cid], 0, 1000, True) for cid in ids])
    batches = [
        [event(cid, txs[cid], r + 1, 1000 + 3 * r, False) for cid in ids]
        for r in range(args.batches)
    ]
    return timed(store, batches, args.profile)


def run_16(args: argparse.Namespace) -> float:
    clear()
    db, ids = asyncio.run(fresh(args.batch))
    store = SqlChargerStore(db.engine)
    now = datetime.now(UTC)
    started = store._apply_in_thread(
        [StartWrite(cid, 1, "TAG00000", 1000, now, None, True) for cid in ids]
    )
    txs = {cid: s.transaction_id for cid, s in zip(ids, started, strict=True)}
    batches = [
        [
            MeterWrite(
                cid, 1, txs[cid], parse_16(meter_values(txs[cid], 1000 + 3 * r)["meterValue"])
            )
            for cid in ids
        ]
        for r in range(args.batches)
    ]
    return timed(store, batches, False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch", type=int, default=20, help="writes per group commit")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    DB.parent.mkdir(parents=True, exist_ok=True)
    us_201 = run_201(args)
    us_16 = run_16(args)
    print(f"2.0.1 TransactionEvent(Updated): {us_201:.1f} µs a write")
    print(f"1.6 MeterValues:                 {us_16:.1f} µs a write")
    clear()


if __name__ == "__main__":
    main()
