"""kill -9 the real server while 2.0.1 and 1.6 stations send transaction events and meter
values: every event it acknowledged is in the database afterwards (durable before the
answer), and nothing is stored twice when the stations replay after the restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from sqlalchemy import func, insert, select

from chargegrid.store.charger_store import chargers, id_tags, sessions
from chargegrid.store.db import Database
from chargegrid.store.meter_messages import decode_samples
from chargegrid.store.migrate import upgrade
from chargegrid.store.ocpp_tables import meter_messages, transaction_events
from tests.browser.harness import free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
ACKED_BEFORE_KILL = 60  # per station


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def start_server(url: str, log: Path) -> tuple[asyncio.subprocess.Process, int]:
    port, ocpp_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        str(BIN / "chargegrid"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ocpp-port",
        str(ocpp_port),
        "--database-url",
        url,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "CHARGEGRID_RATE_LIMIT": "0"},
    )
    async with asyncio.timeout(30):
        while True:
            assert process.returncode is None, "chargegrid serve exited early (see server.log)"
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", ocpp_port)
                writer.close()
                return process, ocpp_port
            await asyncio.sleep(0.05)


async def station_201(port: int, acked: list[int], tx: str, first_seq: int) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/K201", subprotocols=["ocpp2.0.1"]
    ) as ws:
        cp = ChargePoint201("K201", ws)
        reader = asyncio.create_task(cp.start())
        try:
            await cp.call(
                call201.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
            )
            seq = first_seq
            while True:
                kind = "Started" if seq == 0 else "Updated"
                await cp.call(
                    call201.TransactionEvent(
                        event_type=kind,
                        timestamp=now(),
                        trigger_reason="Authorized" if seq == 0 else "MeterValuePeriodic",
                        seq_no=seq,
                        transaction_info={"transaction_id": tx, "charging_state": "Charging"},
                        id_token={"id_token": "KTAG", "type": "ISO14443"} if seq == 0 else None,
                        evse={"id": 1, "connector_id": 1} if seq == 0 else None,
                        meter_value=[
                            {
                                "timestamp": now(),
                                "sampled_value": [{"value": float(1000 + seq)}],
                            }
                        ],
                    )
                )
                acked.append(seq)
                seq += 1
        finally:
            reader.cancel()


async def station_16(port: int, acked: list[int], first: int) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/K16", subprotocols=["ocpp1.6"]
    ) as ws:
        cp = ChargePoint16("K16", ws)
        reader = asyncio.create_task(cp.start())
        try:
            await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            n = first
            while True:
                await cp.call(
                    call16.MeterValues(
                        connector_id=1,
                        meter_value=[
                            {"timestamp": now(), "sampledValue": [{"value": str(5000 + n)}]}
                        ],
                    )
                )
                acked.append(n)
                n += 1
        finally:
            reader.cancel()


async def run_until_killed(
    process: asyncio.subprocess.Process,
    port: int,
    tx: str,
    acked201: list[int],
    acked16: list[int],
) -> None:
    first201 = acked201[-1] + 1 if acked201 else 0
    first16 = acked16[-1] + 1 if acked16 else 0
    tasks = [
        asyncio.create_task(station_201(port, acked201, tx, first201)),
        asyncio.create_task(station_16(port, acked16, first16)),
    ]
    target201, target16 = first201 + ACKED_BEFORE_KILL, first16 + ACKED_BEFORE_KILL
    async with asyncio.timeout(60):
        while len(acked201) < target201 or len(acked16) < target16:  # noqa: ASYNC110
            await asyncio.sleep(0.005)  # polling the stations' progress, not hoping
    process.send_signal(signal.SIGKILL)  # mid-traffic: calls are in flight
    await process.wait()
    for task in tasks:  # their calls in flight were never answered: not acknowledged
        task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task


async def test_acknowledged_events_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    db = Database(url)
    await upgrade(db.engine)
    async with db.engine.begin() as conn:
        for ocpp_id in ("K201", "K16"):
            await conn.execute(insert(chargers).values(id=uuid.uuid4(), ocpp_id=ocpp_id))
        await conn.execute(
            insert(id_tags).values(id=uuid.uuid4(), id_tag="KTAG", status="Accepted")
        )
    await db.dispose()
    log = tmp_path / "server.log"
    tx = str(uuid.uuid4())
    acked201: list[int] = []
    acked16: list[int] = []
    for _ in range(2):  # killed twice; the second run replays nothing it had acked
        process, port = await start_server(url, log)
        try:
            await run_until_killed(process, port, tx, acked201, acked16)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            seqs = set((await conn.execute(select(transaction_events.c.seq_no))).scalars().all())
            assert set(acked201) <= seqs, "an acknowledged TransactionEvent was lost"
            rows = (await conn.execute(select(meter_messages.c.samples))).scalars().all()
            values = [s.value for row in rows for s in decode_samples(row)]
            for seq in acked201:
                assert values.count(float(1000 + seq)) == 1, (
                    f"seqNo {seq} stored {values.count(float(1000 + seq))} times"
                )
            for n in acked16:
                assert float(5000 + n) in values, f"acknowledged MeterValues {n} lost"
            (energy,) = (
                await conn.execute(
                    select(sessions.c.energy_wh).where(sessions.c.remote_transaction_id == tx)
                )
            ).one()
            # The register went from 1000 to 1000 + the last stored seqNo.
            assert energy >= max(acked201) - 0.001
            count = (await conn.execute(select(func.count()).select_from(sessions))).scalar()
            assert count == 1
    finally:
        await db.dispose()
